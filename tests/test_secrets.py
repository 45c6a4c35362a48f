"""contextkit.secrets: each of the 21 kinds is found and masked (the value gone, the name kept);
fragments a preview or a cut output keeps are still recognised; code that merely mentions keys
stays as it is; the user's own patterns and mask function count everywhere."""

from __future__ import annotations

import re

from contextkit import secrets
from contextkit.secrets import Secret, find_secrets, has_secret, mask

import pytest
from fake_secrets import KINDS, leaks


@pytest.fixture(autouse=True)
def _no_user_rules():
    yield
    secrets.configure()


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_each_kind_is_found_and_masked(kind):
    assert has_secret(kind.text)
    spans = find_secrets(kind.text)
    assert spans and all(isinstance(s, Secret) and 0 <= s.start < s.end <= len(kind.text) for s in spans)
    out = mask(kind.text)
    assert not leaks(out, [kind]), out
    assert "[REDACTED " in out
    # the surroundings stay readable: what names the secret is kept
    name = re.match(r"[\w.\- ]*?(?=[=:(])", kind.text)
    if name and name.group(0).strip():
        assert out.startswith(name.group(0)), out


@pytest.mark.parametrize("text,value", [
    ("API_KEY=abcdefghijklmnopqrst", "abcdefghijklmnopqrst"),  # no digit
    ("DB_PASSWORD=correcthorsebatterystaple", "correcthorsebatterystaple"),
    ('{"password": "correct horse battery staple"}', "horse battery"),  # spaces inside quotes
    ("GITHUB_API_TOKEN: abcdefghijklmnopqrstuv", "abcdefghijklmnopqrstuv"),
    ("x-api-key: abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz"),
    ("Set-Cookie: session=abcdefghijklmnop; Path=/; HttpOnly", "abcdefghijklmnop"),
    ("curl -u admin:hunter2hunter2 https://ci", "hunter2hunter2"),
    ("glpat-abcdefghijklmnopqrst", "abcdefghijklmnopqrst"),
    ("HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz0123", "abcdefghijklmnopqrstuvwxyz0123"),
    ("ya29.a0AfH6SMBabcdefghijklmnopqrstu", "a0AfH6SMBabcdefghijklmnopqrstu"),
    ("PGPASSWORD: s3cr3t-pw; psql", "s3cr3t-pw"),
])
def test_more_shapes(text, value):
    assert has_secret(text)
    assert value not in mask(text)


@pytest.mark.parametrize("text,secret", [
    # a PEM body whose BEGIN line a preview cut off
    ("…Qm9keUJvZHlCb2R5Qm9keUJvZHlCb2R5Qm9keUJvZHlC\nYm9keWJvZHlib2R5\n-----END RSA PRIVATE KEY-----",
     "Qm9keUJvZHlCb2R5Qm9keUJvZHlCb2R5"),
    # a URL cut before its @host
    ("postgres://app:Sup3rS3cretPw…", "Sup3rS3cretPw"),
    # an OpenAI key without its sk-proj- prefix, and a piece of one holding the marker
    ("proj-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV", "abcdefghijklmnopqrstuvwxyz"),
    ("…lmnopqrstT3BlbkFJabcdefghij", "lmnopqrstT3BlbkFJ"),
    ("ant-api03-abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz"),
])
def test_fragments_of_secrets_are_still_masked(text, secret):
    assert secret not in mask(text)


@pytest.mark.parametrize("text", [
    "def get_api_key(self) -> str:\n    return self._api_key",
    "api_key: Optional[str] = None",
    "token = tokenizer.tokenize(text)",
    "password_field = forms.CharField(widget=forms.PasswordInput)",
    "pip install scikit-learn  # sk-learn is its old name",
    "see https://github.com/psf/requests/blob/main/src/requests/auth.py",
    "Authorization header: Bearer <token>",
    "secret_key = os.environ['SECRET_KEY']",
    "max_tokens=4096",
    "client = OpenAI(api_key=api_key)",
    "password=self.password",
    "token: string;",
    "DB_PASSWORD=${DB_PASSWORD}",
    "http://localhost:8000/health",
    "cookie = request.cookies.get('x')",
    "commit 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39",
    "id 123e4567-e89b-12d3-a456-426614174000",
    "The basic idea is simple: keys are rotated monthly.",
    "sort_key=created_at",
    "r = requests.get(url, auth=wrong_auth)",  # the one hit on the shared trajectories, before this case
])
def test_code_and_prose_that_mention_secrets_are_left_alone(text):
    assert mask(text) == text
    assert not has_secret(text)


def test_spans_cover_the_value_and_replacement_is_yours():
    text = "DB_PASSWORD=correcthorsebattery and API_KEY=abcdefghijklmnop"
    spans = find_secrets(text)
    assert [text[s.start:s.end] for s in spans] == ["correcthorsebattery", "abcdefghijklmnop"]
    assert mask(text, replacement_for=lambda s: "***") == "DB_PASSWORD=*** and API_KEY=***"


def test_user_patterns_and_mask_function():
    text = "ticket ACME-7f3e9a2b1c4d5e6f0a1b2c3d4e5f6a7b for customer cust_0042"
    assert not has_secret(text)
    secrets.configure([("acme_token", r"ACME-[0-9a-f]{32}")], mask=lambda t: t.replace("cust_0042", "cust_****"))
    assert has_secret(text)
    kinds = [s.kind for s in find_secrets(text)]
    assert kinds == ["acme_token", "custom"]
    assert mask(text) == "ticket [REDACTED acme_token] for customer cust_****"
    secrets.configure()  # replaces, never accumulates
    assert mask(text) == text
    with pytest.raises(TypeError, match="mask must be a function"):
        secrets.configure(mask="nope")


def test_rules_name_their_source():
    sources = {r.source.split(":")[0].split(" ")[0] for r in secrets.rules()}
    assert {"detect-secrets", "contextkit"} <= sources
