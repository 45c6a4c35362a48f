"""Secret masking (tracing.privacy): each kind the issue names is masked; code that merely
mentions keys and tokens is left alone (coding agents' tool output is full of it)."""

from __future__ import annotations

import pytest

from contextkit.tracing.privacy import REDACTED, Masker, mask_secrets

SECRETS = [
    ("openai_key", "OPENAI_API_KEY=sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8t" * 2),
    ("openai_key", "client = OpenAI(api_key='sk-" + "a1B2c3D4e5F6g7H8i9J0" * 2 + "')"),
    ("anthropic_key", "x-api-key: sk-ant-api03-" + "Zz9_Yy8-Xx7" * 4),
    ("google_api_key", "https://generativelanguage.googleapis.com/v1?key=AIzaSyD-" + "a1b2C3d4E5" * 3 + "xyzab"),
    ("aws_access_key", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE"),
    ("aws_secret_key", "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("bearer_token", "curl -H 'Authorization: Bearer eyJhbGciOi.abcDEF123456789'"),
    ("jwt", "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ("private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n-----END OPENSSH PRIVATE KEY-----"),
    ("url_password", "DATABASE_URL=postgres://app:s3cr3t-Pa55@db.internal:5432/app"),
    ("github_token", "GH_TOKEN=ghp_" + "A1b2C3d4E5f6" * 3),
    ("huggingface_token", "HF_TOKEN=hf_" + "AbCdEfGhIj" * 3 + "kl"),
    ("secret_assignment", 'password = "hunter2hunter2"'),
]


@pytest.mark.parametrize("kind,text", SECRETS)
def test_each_kind_of_secret_is_masked(kind, text):
    out = mask_secrets(text)
    assert "[REDACTED" in out, out
    secret_part = text.split("=")[-1].strip(" '\")") if kind in ("secret_assignment",) else None
    if secret_part:
        assert secret_part not in out
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
