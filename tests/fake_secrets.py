"""21 kinds of realistic fake secrets, as agents meet them (an `.env`, a curl, a config file, a
failing connection), for the masking tests and benchmarks/secrets.py.

Each kind has `text` (the line as it appears) and `values` (the parts that must never be stored
or exported). The values are random (seeded) so no window of one occurs anywhere by chance.
"""

from __future__ import annotations

import base64
import random
import string
from dataclasses import dataclass

_R = random.Random(20251111)
ALNUM = string.ascii_letters + string.digits


def _s(n: int, alphabet: str = ALNUM) -> str:
    return "".join(_R.choice(alphabet) for _ in range(n))


def _words(n: int) -> str:
    return "".join(_R.choice(string.ascii_lowercase) for _ in range(n))


@dataclass(frozen=True)
class Kind:
    name: str
    text: str
    values: tuple[str, ...]


def _pem() -> tuple[str, str]:
    body = base64.b64encode(_R.randbytes(48 * 8)).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    # a `head -c` / a cut tool output: BEGIN without END
    return "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines) + "\n", body


_pem_text, _pem_body = _pem()
_db_pw = _words(18)
_api_key = _words(24)
_azure = _s(32, "0123456789abcdef")
_dd = _s(32, "0123456789abcdef")
_basic = base64.b64encode(f"deploy:{_words(14)}".encode()).decode()
_npm = "npm_" + _s(36)
_sg = "SG." + _s(22) + "." + _s(43)
_hook = f"https://hooks.slack.com/services/T{_s(8).upper()}/B{_s(10).upper()}/{_s(24)}"
_xoxb = f"xoxb-{_s(12, string.digits)}-{_s(13, string.digits)}-{_s(24)}"
_cookie = _s(40, "0123456789abcdef")
_openai = "sk-proj-" + _s(58) + "T3BlbkFJ" + _s(58)
_pg = _s(16)
_akia = "AKIA" + _s(16, string.ascii_uppercase + string.digits)
_aws_secret = _s(40, ALNUM + "/+")
_bearer = _s(40, ALNUM + "-_.")
_ghp = "ghp_" + _s(36)
_anthropic = "sk-ant-api03-" + _s(93, ALNUM + "-_") + "AA"
_google = "AIza" + _s(35, ALNUM + "-_")
_stripe = "sk_live_" + _s(24)
_jwt = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        + base64.urlsafe_b64encode(b'{"sub":"' + _s(16).encode() + b'","admin":true}').decode().rstrip("=")
        + "." + _s(43, ALNUM + "-_"))

KINDS: list[Kind] = [
    Kind("db_password", f"DB_HOST=db.internal\nDB_PASSWORD={_db_pw}\n", (_db_pw,)),
    Kind("api_key_no_digit", f"API_KEY={_api_key}", (_api_key,)),
    Kind("basic_auth_header", f"curl -s -H 'Authorization: Basic {_basic}' https://ci.internal/api/jobs", (_basic,)),
    Kind("azure_openai_key", f"export AZURE_OPENAI_KEY={_azure}", (_azure,)),
    Kind("api_token_env", f"DATADOG_API_TOKEN={_dd}", (_dd,)),
    Kind("npm_token", f"//registry.npmjs.org/:_authToken={_npm}", (_npm,)),
    Kind("sendgrid_key", f"SENDGRID_API_KEY='{_sg}'", (_sg,)),
    Kind("slack_webhook", f"curl -X POST -d '{{\"text\":\"deployed\"}}' {_hook}", (_hook.split("/services/")[1],)),
    Kind("slack_bot_token", f"slack_client = WebClient(token=\"{_xoxb}\")", (_xoxb,)),
    Kind("cookie", f"Cookie: sessionid={_cookie}; theme=dark", (_cookie,)),
    Kind("pem_truncated", _pem_text, (_pem_body,)),
    Kind("openai_project_key", f"OPENAI_API_KEY={_openai}", (_openai,)),
    Kind("postgres_url", f"DATABASE_URL=postgres://app_user:{_pg}@db.internal:5432/app", (_pg,)),
    Kind("aws_access_key", f"aws_access_key_id = {_akia}", (_akia,)),
    Kind("aws_secret_key", f"aws_secret_access_key = {_aws_secret}", (_aws_secret,)),
    Kind("bearer_token", f"requests.get(url, headers={{'Authorization': 'Bearer {_bearer}'}})", (_bearer,)),
    Kind("github_token", f"git clone https://x-access-token:{_ghp}@github.com/acme/app.git", (_ghp,)),
    Kind("anthropic_key", f"ANTHROPIC_API_KEY=\"{_anthropic}\"", (_anthropic,)),
    Kind("google_api_key", f"https://maps.googleapis.com/maps/api/geocode/json?address=x&key={_google}", (_google,)),
    Kind("stripe_key", f"stripe.api_key = \"{_stripe}\"", (_stripe,)),
    Kind("jwt", f"token = {_jwt}", (_jwt,)),
]
assert len(KINDS) == 21 and len({k.name for k in KINDS}) == 21


def windows(value: str, width: int = 12) -> set[str]:
    """Every `width`-character window of a secret value (the test's unit of leaking)."""
    return {value[i:i + width] for i in range(0, max(1, len(value) - width + 1))}


def leaks(haystack: str, kinds: list[Kind] = KINDS, width: int = 12) -> list[tuple[str, str]]:
    """(kind, window) for every window of every secret found in `haystack`."""
    out = []
    for k in kinds:
        for v in k.values:
            for w in windows(v, width):
                if w in haystack:
                    out.append((k.name, w))
                    break
    return out
