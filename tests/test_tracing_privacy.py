"""Secret masking (tracing.privacy): each kind the issue names is masked; code that merely
mentions keys and tokens is left alone (coding agents' tool output is full of it)."""

from __future__ import annotations

import json

from contextkit.tracing.privacy import REDACTED, Masker, mask_secrets

import pytest

OPENAI_1 = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8t" * 2
OPENAI_2 = "sk-" + "a1B2c3D4e5F6g7H8i9J0" * 2
ANTHROPIC = "sk-ant-api03-" + "Zz9_Yy8-Xx7" * 4
GOOGLE = "AIzaSyD-" + "a1b2C3d4E5" * 3 + "xyzab"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
GITHUB = "ghp_" + "A1b2C3d4E5f6" * 3
HUGGINGFACE = "hf_" + "AbCdEfGhIj" * 3 + "kl"
SECRETS = [  # (kind, text, the secret in the text)
    ("openai_key", f"OPENAI_API_KEY={OPENAI_1}", OPENAI_1),
    ("openai_key", f"client = OpenAI(api_key='{OPENAI_2}')", OPENAI_2),
    ("anthropic_key", f"x-api-key: {ANTHROPIC}", ANTHROPIC),
    ("google_api_key", f"https://generativelanguage.googleapis.com/v1?key={GOOGLE}", GOOGLE),
    ("aws_access_key", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_secret_key", "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("bearer_token", "curl -H 'Authorization: Bearer eyJhbGciOi.abcDEF123456789'", "eyJhbGciOi.abcDEF123456789"),
    ("jwt", f"token {JWT}", JWT),
    ("private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n-----END OPENSSH PRIVATE KEY-----",
     "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU"),
    ("url_password", "DATABASE_URL=postgres://app:s3cr3t-Pa55@db.internal:5432/app", "s3cr3t-Pa55"),
    ("github_token", f"GH_TOKEN={GITHUB}", GITHUB),
    ("huggingface_token", f"HF_TOKEN={HUGGINGFACE}", HUGGINGFACE),
    ("secret_assignment", 'password = "hunter2hunter2"', "hunter2hunter2"),
]


@pytest.mark.parametrize("kind,text,secret", SECRETS, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(SECRETS)])
def test_each_kind_of_secret_is_masked(kind, text, secret):
    out = mask_secrets(text)
    assert "[REDACTED" in out, out
    assert secret not in out and secret[4:-4] not in out, out  # nor most of it
    assert len(out) < len(text) + 30


@pytest.mark.parametrize("text", [
    "def get_api_key(self) -> str:\n    return self._api_key",
    "api_key: Optional[str] = None",
    "token = tokenizer.tokenize(text)",
    "password_field = forms.CharField(widget=forms.PasswordInput)",
    "pip install scikit-learn  # sk-learn is its old name",
    "see https://github.com/psf/requests/blob/main/src/requests/auth.py",
    "Authorization header: Bearer <token>",
    "secret_key = os.environ['SECRET_KEY']",
])
def test_code_that_mentions_secrets_is_left_alone(text):
    assert mask_secrets(text) == text


def test_messages_are_masked_field_by_field_and_hidden_on_request():
    msg = {"role": "assistant", "content": [{"type": "text", "text": "key sk-" + "x1" * 15}],
           "reasoning_content": "the user pasted password=abc123def456",
           "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "curl", "arguments": '{"h": "Bearer abcdefgh12345678"}'}}]}
    m = Masker().message(msg)
    assert "[REDACTED openai_key]" in m["content"][0]["text"]
    assert "abc123def456" not in m["reasoning_content"]
    assert "abcdefgh12345678" not in m["tool_calls"][0]["function"]["arguments"]
    assert msg["content"][0]["text"].startswith("key sk-")  # the caller's message is never changed
    hidden = Masker().message(msg, hide_text=True)
    assert hidden["content"][0]["text"] == hidden["reasoning_content"] == REDACTED
    assert hidden["tool_calls"][0]["function"]["arguments"] == REDACTED
    assert hidden["tool_calls"][0]["function"]["name"] == "curl"


def test_a_piece_of_a_secret_the_run_masked_is_masked_wherever_it_turns_up():
    """A placeholder's mentions list splits a Slack token into its parts, a preview keeps a key
    without its prefix: none looks like a secret alone, but the run saw each one whole first."""
    m = Masker()
    token = "xoxb-318273645012-4820193847561-Qw7ErT5yUi3OpAs9DfGh2JkL"
    key = "sk-proj-" + "Zq8WxE3rTy6UiO9pAs2DfG5hJk7LzX4cVb1NmQ"
    assert "Qw7ErT5yUi3OpAs9" not in m.text(f"SLACK_BOT={token}\nOPENAI={key}")
    later = "mentions: 318273645012 4820193847561 Qw7ErT5yUi3OpAs9DfGh2JkL\n…E3rTy6UiO9pAs2DfG5hJk7L…"
    out = m.text(later)
    for piece in ("318273645012", "4820193847561", "Qw7ErT5yUi3O", "E3rTy6UiO9pA"):
        assert piece not in out, out
    assert out.startswith("mentions: ")
    assert Masker().text(later) == later  # a fresh run never saw them: only the run's own secrets count


def test_json_arguments_stay_valid_json_and_keys_name_secrets():
    m = Masker()
    args = json.dumps({"cmd": "deploy", "env": "A=1\nSENDGRID_API_KEY='SG.abcdefghijklmnop", "password": "hunter2 hunter2"})
    out = m.json_text(args)
    parsed = json.loads(out)  # masking a cut secret inside a JSON string never breaks the JSON
    assert parsed["cmd"] == "deploy" and "abcdefghijklmnop" not in out and "hunter2" not in out


# ---------------------------------------------------------------- the OpenInference hide switches


TASK, RESULT, ARGS = "TASK_MARKER_d41d8c", "RESULT_MARKER_98f00b", "ARGS_MARKER_2a7e41"
ANSWER, THOUGHT = "ANSWER_MARKER_5c9e13", "THOUGHT_MARKER_77ab0e"


def _marked_conversation() -> list[dict]:
    msgs = [{"role": "system", "content": "You are a coding agent."}, {"role": "user", "content": f"Fix it. {TASK}"}]
    for i in range(3):
        msgs.append({"role": "assistant", "content": f"step {i}", "reasoning_content": f"{THOUGHT} {i}",
                     "tool_calls": [{"id": f"c{i}", "type": "function",
                                     "function": {"name": "read_file", "arguments": json.dumps({"path": f"{ARGS}_{i}.py"})}}]})
        msgs.append({"role": "tool", "tool_call_id": f"c{i}", "content": "\n".join(f"line {k} {RESULT}_{i}" for k in range(60))})
    msgs.append({"role": "assistant", "content": f"Done. {ANSWER}"})
    return msgs


def _traced_with(monkeypatch, tmp_path, switch: str):
    from contextkit import Session, tracing

    import duckdb
    from otlp_receiver import OTLPReceiver
    from tracing_agent import replay

    for var in ("INPUTS", "OUTPUTS", "INPUT_MESSAGES", "OUTPUT_MESSAGES", "INPUT_TEXT", "OUTPUT_TEXT"):
        monkeypatch.delenv(f"OPENINFERENCE_HIDE_{var}", raising=False)
    monkeypatch.setenv(switch, "true")
    rx = OTLPReceiver().start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", rx.endpoint)
    db = tmp_path / "t.duckdb"
    try:
        tracing.configure(db_path=str(db))
        s = Session("default", name="hidden", model="gpt-4o-mini")
        replay(s, _marked_conversation())
        s.close()
        assert tracing.flush(15)
        tracing.shutdown()
        con = duckdb.connect(str(db), read_only=True)
        tables = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema='main'").fetchall()
        names = [r[0] for r in tables]
        stored = json.dumps([con.execute(f'SELECT * FROM "{n}"').fetchall() for n in names], default=str)
        con.close()
    finally:
        rx.stop()
    return stored, rx.spans


# switch -> markers that must be in neither the store nor the OTLP payloads. A tool call's
# arguments are both the model's output and the tool's input: any switch hides them.
HIDDEN = {
    "OPENINFERENCE_HIDE_INPUT_MESSAGES": (TASK, RESULT, ARGS),
    "OPENINFERENCE_HIDE_INPUT_TEXT": (TASK, RESULT, ARGS),
    "OPENINFERENCE_HIDE_OUTPUT_MESSAGES": (ANSWER, ARGS, THOUGHT),
    "OPENINFERENCE_HIDE_OUTPUT_TEXT": (ANSWER, ARGS, THOUGHT),
    "OPENINFERENCE_HIDE_INPUTS": (TASK, RESULT, ARGS),
    "OPENINFERENCE_HIDE_OUTPUTS": (ANSWER, ARGS, THOUGHT),
}


@pytest.mark.parametrize("switch", list(HIDDEN))
def test_hide_switches_hide_tool_results_arguments_task_and_answer(monkeypatch, tmp_path, switch):
    stored, spans = _traced_with(monkeypatch, tmp_path, switch)
    exported = json.dumps([[s.name, s.attributes] for s in spans], default=str)
    for marker in HIDDEN[switch]:
        assert marker not in stored, f"{switch}: {marker} stored"
        assert marker not in exported, f"{switch}: {marker} exported"
    visible = {TASK, RESULT, ARGS, ANSWER, THOUGHT} - set(HIDDEN[switch])
    for marker in visible:  # the switch hides its side only
        assert marker in exported, f"{switch}: {marker} should still be exported"
    llm = [s.attributes for s in spans if s.attributes.get("openinference.span.kind") == "LLM"]
    assert llm
    if switch.endswith("INPUT_MESSAGES") or switch.endswith("INPUTS"):
        assert not any(k.startswith("llm.input_messages.") for a in llm for k in a)
    if switch.endswith("OUTPUT_MESSAGES") or switch.endswith("OUTPUTS"):
        assert not any(k.startswith("llm.output_messages.") for a in llm for k in a)
    if switch.endswith("INPUT_TEXT"):  # the messages are there, their texts are not
        assert any(a.get("llm.input_messages.1.message.content") == REDACTED for a in llm)
        assert any(a.get("llm.input_messages.0.message.role") == "system" for a in llm)
