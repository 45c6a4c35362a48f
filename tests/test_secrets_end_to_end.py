"""No secret reaches the trace store or an OTLP collector, as a security reviewer would try it.

A real agent loop (Session.completion through litellm's HTTP path to tests/openai_server.py, tools
recorded with session.tool) with all 21 fake secret kinds (tests/fake_secrets.py) placed where
agents put them: the system prompt, the task, tool output, tool arguments, the model's answers and
reasoning, a tool's error, the provider's error, and completion's own `api_key` and
`extra_headers`. Under three policies (default, the trimmer preset, and default with a long
mentions list and previews, whose placeholders keep pieces of the pruned output), no 12-character
window of any secret is in the DuckDB file's bytes, in any column of any table or view, or in the
OTLP requests the collector decoded.
"""

from __future__ import annotations

import json

from contextkit import Session, tracing

import duckdb
import pytest
from fake_secrets import KINDS, leaks
from openai_server import Reply
from otlp_receiver import OTLPReceiver

BLOCK = "\n".join(k.text for k in KINDS)
OPENAI_KEY = next(k.values[0] for k in KINDS if k.name == "openai_project_key")
BEARER = next(k.values[0] for k in KINDS if k.name == "bearer_token")
ANTHROPIC = next(k.values[0] for k in KINDS if k.name == "anthropic_key")
COOKIE = next(k.values[0] for k in KINDS if k.name == "cookie")

POLICIES = {
    "default": "default",
    "trimmer": "openai-tool-output-trimmer",
    "long-mentions-previews": {"preset": "default", "placeholder": {"key_terms": 200, "head_chars": 400, "tail_chars": 200}},
}
TOOLS = [{"type": "function", "function": {"name": "run_shell", "description": "Run a shell command",
                                           "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}}}]


def tool_output(i: int) -> str:
    """What `cat` of a config shows: every kind of secret first and last (so a placeholder's head
    and tail previews cut through them, and its mentions list picks their pieces), settings between."""
    middle = "\n".join(f"setting_{i}_{k} = value_{i}_{k}  # deploy option {k}" for k in range(12))
    return f"{BLOCK}\n{middle}\n{BLOCK}"


def scripted_replies() -> list[Reply]:
    calls = [Reply("text", f"Reading config {i}. So far I know:\n{BLOCK}", reasoning=f"The env holds:\n{BLOCK}",
                   calls=[("run_shell", {"cmd": f"cat deploy_{i}.env", "env": BLOCK}, f"call_{i}")]) for i in range(4)]
    provider_error = Reply.error(401, f"Incorrect API key provided: {OPENAI_KEY}. Request headers: {BLOCK}")
    answer = Reply.text(f"Deployed. For the record, the credentials were:\n{BLOCK}", reasoning=f"Summarise:\n{BLOCK}")
    return [*calls, provider_error, answer]


def run_agent(server, policy) -> Session:
    server.script(*scripted_replies())
    kw = {"model": "openai/gpt-4o-mini", "api_base": server.base_url, "api_key": OPENAI_KEY, "max_retries": 0,
          "tools": TOOLS, "extra_headers": {"Authorization": f"Bearer {BEARER}", "x-api-key": ANTHROPIC,
                                            "Cookie": f"sessionid={COOKIE}"}}
    messages = [{"role": "system", "content": f"You are a deploy agent. Credentials:\n{BLOCK}"},
                {"role": "user", "content": f"Deploy the app to staging. Use these:\n{BLOCK}"}]
    s = Session(policy, name="deployer", model="gpt-4o-mini", metadata={"note": BLOCK[:400]})
    for i in range(4):
        r = s.completion(messages=messages, **kw)
        msg = r.choices[0].message.model_dump(exclude_none=True)
        messages.append(msg)
        call = msg["tool_calls"][0]
        try:
            with s.tool("run_shell", tool_call_id=call["id"], arguments=call["function"]["arguments"]) as t:
                if i == 2:
                    raise RuntimeError(f"deploy failed: connection refused with {BLOCK}")
                t.result = tool_output(i)
            content = t.result
        except RuntimeError as e:
            content = f"error: {e}"
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": content})
    with pytest.raises(Exception, match="Incorrect API key"):
        s.completion(messages=messages, **kw)
    messages.append({"role": "user", "content": "Try again."})
    s.completion(messages=messages, **kw)
    s.close()
    return s


def store_text(path) -> str:
    """Every value of every column of every table and view, as text."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()]
        out = []
        for name in names:
            cols = [r[0] for r in con.execute(f'DESCRIBE "{name}"').fetchall()]
            casts = ", ".join(f'CAST("{c}" AS VARCHAR)' for c in cols)
            for row in con.execute(f'SELECT {casts} FROM "{name}"').fetchall():
                out.extend(v for v in row if v is not None)
        assert len(names) >= 3, names
        return "\n".join(out), names
    finally:
        con.close()


@pytest.fixture(scope="module")
def traced_runs(tmp_path_factory):
    """The agent under each policy, traced into one store and one OTLP collector."""
    import os

    from openai_server import OpenAIServer

    rx = OTLPReceiver().start()
    server = OpenAIServer().start()
    db = tmp_path_factory.mktemp("secrets") / "traces.duckdb"
    old = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = rx.endpoint
    try:
        tracing.configure(db_path=str(db))
        sessions = {name: run_agent(server, policy) for name, policy in POLICIES.items()}
        assert tracing.flush(20)
        tracing.shutdown()
    finally:
        if old is None:
            os.environ.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
        else:
            os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = old
        server.stop()
    yield db, rx, sessions, server
    rx.stop()


def test_the_runs_put_every_secret_where_agents_put_them(traced_runs):
    """The test is real: the secrets went out to the model, and the placeholders were made."""
    db, rx, sessions, server = traced_runs
    sent = "\n".join(r.raw.decode() for r in server.requests)
    assert {k.name for k in KINDS} == {name for name, _ in leaks(sent)}  # every kind reached the "provider"
    assert any(r.headers.get("Authorization") == f"Bearer {BEARER}" for r in server.requests)
    for name, s in sessions.items():
        assert len(s.steps) == 6 and any(st.error for st in s.steps), name
        assert any(seg.state == "pruned" for seg in s.ledger.segments), f"{name}: nothing was pruned"
        assert any(t.error for t in s.tool_records)
    assert rx.spans, "nothing reached the collector"


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_no_secret_in_the_store_file_bytes(traced_runs, kind):
    db = traced_runs[0]
    raw = db.read_bytes().decode("latin-1")
    assert not leaks(raw, [kind])
    assert not leaks(db.read_bytes().decode("utf-8", "replace"), [kind])


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_no_secret_in_any_column_of_any_table_or_view(traced_runs, kind):
    text, names = store_text(traced_runs[0])
    found = leaks(text, [kind])
    assert not found, f"{kind.name} in the store ({', '.join(names)}): {found}"
    assert not leaks(json.dumps(text), [kind])  # nor escaped inside JSON columns


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_no_secret_in_the_decoded_otlp_payloads(traced_runs, kind):
    rx = traced_runs[1]
    bodies = "\n".join(r["body"].decode("utf-8", "replace") for r in rx.requests)
    assert not leaks(bodies, [kind])
    decoded = json.dumps([[s.name, s.attributes, s.resource, s.events] for s in rx.spans], ensure_ascii=False, default=str)
    assert not leaks(decoded, [kind])


def test_placeholders_carry_no_secret(traced_runs):
    """The root fix, in the engine: what a placeholder keeps of a pruned result (its mentions, its
    previews) never holds a piece of a secret, before any masking."""
    sessions = traced_runs[2]
    for name, s in sessions.items():
        placeholders = {seg.handle: str(seg.sent_message["content"]) for seg in s.ledger.segments if seg.state == "pruned"}
        assert placeholders and all(h in text for h, text in placeholders.items()), name
        for handle, text in placeholders.items():
            assert not leaks(text), f"{name}: {handle} placeholder keeps {leaks(text)[:3]}"
