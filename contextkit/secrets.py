"""Secrets in text: find them, mask them. The engine uses this (a placeholder never carries a
secret) and so does tracing (nothing secret is stored or exported); it needs no tracing.

    find_secrets(text) -> [Secret(start, end, kind), ...]   # sorted, non-overlapping
    mask(text)         -> text with each secret replaced by "[REDACTED <kind>]"
    has_secret(text)   -> bool
    configure(patterns=[...], mask=fn)                       # your own formats

The vendor token formats are Yelp's detect-secrets plugins (their `denylist` regexes, imported
from the installed package, never copied), and its keyword list for `NAME=value` assignments.
What detect-secrets has no plugin for is in `_OWN` below, each with the reason it is there:
model-provider keys, HTTP auth headers and cookies, PEM blocks cut short, URLs cut before their
`@host`, and the fragments a preview or a term list keeps of a key (a body without its prefix).

Speed: a rule runs only on text whose lowercase form holds one of its literal fragments (a
C-speed substring test), so ordinary text costs a few substring scans, not dozens of regexes
(benchmarks/secret_masking.py).
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["Rule", "Secret", "configure", "find_secrets", "has_secret", "mask"]


@dataclass(frozen=True)
class Secret:
    """`text[start:end]` is a secret of this kind (the name in `API_KEY=...` stays outside)."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True)
class Rule:
    """A secret format. `pattern` runs only on text whose lowercase form holds one of `fragments`
    (lowercase literals; none: it always runs). `group` is the part that is secret (0: all of it)."""

    kind: str
    pattern: re.Pattern
    fragments: tuple[str, ...] = ()
    group: int | str = 0
    source: str = "yours"
    anchored: bool = False  # tried only at the start of each name holding a fragment (NAME=value rules)


def marker(secret: Secret) -> str:
    """The default replacement: names the kind, keeps nothing of the value."""
    return f"[REDACTED {secret.kind}]"


# ----------------------------------------------------------------------------- contextkit's own rules

# Values that are code or placeholders, not secrets: `api_key: Optional[str]`, `password=None`,
# `token: string`, `${DB_PASSWORD}`, `<token>`, `self.password`, `api_key=api_key`.
_END = r"""(?=$|[\s"'`,;})\]])"""
_NOT_A_VALUE = (
    r"(?![$%<{*\\]|\[REDACTED|__REDACTED__)"
    r"(?!(?i:none|null|nil|true|false|undefined|str|string|bytes|int|bool|any|object|number|optional|required|"
    r"redacted|secret|password|token|xxx+)" + _END + ")"
    r"(?![A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+" + _END + ")"  # a dotted name: self.password, settings.API_KEY
    r"(?![A-Za-z_]\w*(?i:key|token|secret|password|passwd|pwd|pass|auth|credentials?)" + _END + ")"  # api_key=openai_api_key
)
_SEP = r"""["'\]]{0,2}\s*(?::=|=>|[:=])\s*"""


def _assignments(words: Iterable[str]) -> list[tuple]:
    """`NAME = value` where NAME ends with a keyword (detect-secrets' list and a few more). These
    rules are anchored: tried only at the start of a name holding a keyword, never scanned."""
    keyword = "|".join(words)
    name = (
        r"(?:[\w.\-]*?(?i:" + keyword + r")"  # db_password, SLACK_API_TOKEN, client_secret
        r"|[A-Z][A-Z0-9_]*_(?:KEY|PAT|PASS|AUTH|CREDENTIALS?))"  # AZURE_OPENAI_KEY, NPM_PAT (env style only)
        r"(?![A-Za-z0-9])"
    )
    quoted = rf"{name}{_SEP}(?P<q>[\"'`]){_NOT_A_VALUE}(?P<v>[^\"'`\n]{{4,500}}?)(?P=q)"
    bare = rf"{name}{_SEP}[\"'`]?{_NOT_A_VALUE}(?P<v>[^\s\"'`,;(){{}}\[\]<>]{{6,500}}){_END}"
    return [("secret_assignment", quoted, _KEYWORD_STEMS, "v"), ("secret_assignment", bare, _KEYWORD_STEMS, "v")]


_KEYWORD_STEMS = ("key", "token", "secret", "pass", "pwd", "auth", "cred", "contrase")
_NAME_TAIL = re.compile(r"[\w.\-]{0,80}$")  # the name a keyword sits in, up to where it starts
_ASSIGNED = re.compile(r"[\w\-]{0,24}[\"'\]]{0,2}\s*[:=]")  # ... and the assignment after it


_PEM_NAME = r"[ A-Z0-9_-]*PRIVATE KEY(?: BLOCK)?-----"
_B64_LINE = r"[A-Za-z0-9+/]+={0,2}[ \t]*\r?\n"

# (kind, pattern, fragments, group, why it is ours)
_OWN: list[tuple] = [
    # --- model providers and clouds detect-secrets has no plugin for
    ("anthropic_key", r"\bsk-ant-[A-Za-z0-9_\-]{20,}", ("sk-ant-",), 0, "Anthropic keys"),
    ("openai_key", r"\bsk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_\-]{20,}", ("sk-",), 0,
     "OpenAI keys without the T3BlbkFJ marker detect-secrets requires"),
    ("google_api_key", r"\bAIza[0-9A-Za-z_\-]{30,}", ("aiza",), 0, "Google API keys"),
    ("google_oauth_token", r"\bya29\.[0-9A-Za-z_\-]{20,}", ("ya29.",), 0, "Google OAuth tokens"),
    ("aws_secret_key", r"(?i:aws_?secret_?access_?key|aws_?secret_?key)[\"']?\s*[:=]\s*[\"']?(?P<v>[A-Za-z0-9/+=]{40})",
     ("aws_secret",), "v", "unquoted (detect-secrets needs quotes)"),
    ("github_token", r"\bgithub_pat_[A-Za-z0-9_]{22,}", ("github_pat_",), 0, "fine-grained GitHub tokens"),
    ("huggingface_token", r"\bhf_[A-Za-z0-9]{30,}", ("hf_",), 0, "Hugging Face tokens"),
    ("groq_key", r"\bgsk_[A-Za-z0-9]{40,}", ("gsk_",), 0, "Groq keys"),
    ("xai_key", r"\bxai-[A-Za-z0-9]{40,}", ("xai-",), 0, "xAI keys"),
    ("stripe_key", r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{20,}", ("k_live_", "k_test_"), 0, "test and publishable keys too"),
    ("npm_token", r"\bnpm_[A-Za-z0-9]{36}\b", ("npm_",), 0, "npm tokens outside .npmrc"),
    ("slack_token", r"\bxox(?:e\.xox[bp]|[abposr]|[abposr]2)-[A-Za-z0-9\-]{10,}", ("xox",), 0, "Slack tokens of any part shape"),
    ("jwt", r"\beyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{4,}(?:\.[A-Za-z0-9_\-]*)?", ("eyj",), 0,
     "the whole token (detect-secrets' match stops before the signature)"),
    # --- HTTP credentials
    ("authorization_header",
     r"(?i:(?:proxy-)?authorization)[\"']?\s*[:=]\s*[\"']?(?:(?i:basic|bearer|token|digest|negotiate|apikey|sso-key)\s+)?"
     r"(?P<v>(?!<)[A-Za-z0-9._~+/=:\-]{6,})", ("authorization",), "v", "Basic, Bearer and other schemes"),
    ("bearer_token", r"(?i:bearer)\s+(?P<v>[A-Za-z0-9._~+/\-]{12,}=*)", ("bearer",), "v", "bearer tokens anywhere"),
    ("api_key_header",
     r"(?i:x-api-key|api-key|x-goog-api-key|x-auth-token|x-access-token|ocp-apim-subscription-key|dd-api-key|"
     r"dd-application-key|private-token|x-functions-key)[\"']?\s*[:=]\s*[\"']?(?P<v>[A-Za-z0-9._~+/=\-]{8,})",
     ("api-key", "-token", "subscription-key", "application-key", "functions-key"), "v", "API-key headers"),
    ("cookie", r"(?i:(?<![\w-])(?:set-)?cookie)[\"']?\s*(?::|=(?=\s*[\"']))\s*[\"']?(?P<v>[^\s=;\"']+=[^\n\"'\r]*)",
     ("cookie",), "v", "Cookie and Set-Cookie values"),
    ("url_password", r"(?<!\S)(?:-u|--user)\s+[\"']?[^\s:\"']+:(?P<v>[^\s\"']{3,})", ("-u", "--user"), "v",
     "curl -u user:password"),
    # --- cut short: what a preview, a key-lines list or a truncated output keeps
    ("private_key", r"-----BEGIN" + _PEM_NAME + r"(?:[\s\S]*?-----END" + _PEM_NAME
     + r"|(?:\s*(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z-]+:[^\n]*)(?=\s|$|…))*)", ("private key",), 0,
     "the whole block, also when its END line was cut off"),
    ("private_key", r"(?:" + _B64_LINE + r")+-----END" + _PEM_NAME, ("-----end",), 0,
     "a key body whose BEGIN line was cut off"),
    ("url_password", r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@\"']{1,256}:(?P<v>(?!\d+(?:[/\s\"']|$))[^\s/@\"'…]{3,256})(?=$|…|[\s\"'])",
     ("://",), "v", "a URL's password when its @host was cut off"),
    ("openai_key", r"[A-Za-z0-9_\-]*T3BlbkFJ[A-Za-z0-9_\-]*", ("t3blbkfj",), 0,
     "any piece of an OpenAI key holding its marker (base64 of 'OpenAI')"),
    ("openai_key", r"(?<![A-Za-z0-9])(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,}", ("proj-", "svcacct-", "admin-"), 0,
     "an OpenAI key without its sk- prefix"),
    ("sendgrid_key", r"\bSG\.[A-Za-z0-9_\-]{12,}(?:\.[A-Za-z0-9_\-]*)?", ("sg.",), 0, "a SendGrid key cut short"),
    ("npm_token", r"\bnpm_[A-Za-z0-9]{12,}", ("npm_",), 0, "an npm token cut short"),
    ("aws_access_key", r"\b(?:AKIA|ASIA)[0-9A-Z]{8,}", ("akia", "asia"), 0, "an AWS key id cut short"),
    ("stripe_key", r"\b(?:sk|rk)_live_[A-Za-z0-9]{8,}", ("k_live_",), 0, "a Stripe key cut short"),
    ("google_api_key", r"\bAIza[0-9A-Za-z_\-]{12,}", ("aiza",), 0, "a Google key cut short"),
    ("anthropic_key", r"\bsk-ant-[A-Za-z0-9_\-]{8,}", ("sk-ant-",), 0, "an Anthropic key cut short"),
    ("slack_webhook", r"hooks\.slack\.com/services/[A-Za-z0-9_/]{4,}", ("hooks.slack.com",), 0, "a webhook URL cut short"),
    ("anthropic_key", r"(?<![A-Za-z0-9])ant-api\d\d-[A-Za-z0-9_\-]{20,}", ("ant-api",), 0, "an Anthropic key without sk-"),
    ("github_token", r"\bgh[pousr]_[A-Za-z0-9]{20,}", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), 0,
     "a GitHub token cut short (detect-secrets wants all 36 characters)"),
]

# detect-secrets plugins: (module, class, [(denylist index, kind, fragments, group)])
_DETECT_SECRETS: list[tuple[str, str, list[tuple[int, str, tuple[str, ...], int]]]] = [
    ("aws", "AWSKeyDetector", [(0, "aws_access_key", ("akia", "asia", "abia", "acca", "a3t"), 0),
                               (1, "aws_secret_key", ("aws",), 1)]),
    ("azure_storage_key", "AzureStorageKeyDetector", [(0, "azure_storage_key", ("accountkey=",), 0)]),
    ("basic_auth", "BasicAuthDetector", [(0, "url_password", ("://",), 1)]),
    ("github_token", "GitHubTokenDetector", [(0, "github_token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), 0)]),
    ("gitlab_token", "GitLabTokenDetector", [
        (0, "gitlab_token", ("glpat-", "gldt-", "glft-", "glsoat-", "glrt-"), 0), (1, "gitlab_token", ("gr1348941",), 0),
        (2, "gitlab_token", ("glcbt-",), 0), (3, "gitlab_token", ("glimt-",), 0), (4, "gitlab_token", ("glptt-",), 0),
        (5, "gitlab_token", ("glagent-",), 0), (6, "gitlab_token", ("gloas-",), 0)]),
    ("npm", "NpmDetector", [(0, "npm_token", ("_authtoken",), 1)]),
    ("openai", "OpenAIDetector", [(0, "openai_key", ("t3blbkfj",), 0)]),
    ("private_key", "PrivateKeyDetector", [(i, "private_key", ("private key", "putty-user-key-file"), 0) for i in range(8)]),
    ("pypi_token", "PypiTokenDetector", [(0, "pypi_token", ("pypi-ag",), 0), (1, "pypi_token", ("pypi-ag",), 0)]),
    ("sendgrid", "SendGridDetector", [(0, "sendgrid_key", ("sg.",), 0)]),
    ("slack", "SlackDetector", [(0, "slack_token", ("xox",), 0), (1, "slack_webhook", ("hooks.slack.com",), 0)]),
    ("square_oauth", "SquareOAuthDetector", [(0, "square_oauth", ("sq0csp-",), 0)]),
    ("stripe", "StripeDetector", [(0, "stripe_key", ("k_live_",), 0)]),
    ("twilio", "TwilioKeyDetector", [(0, "twilio_key", ("ac",), 0), (1, "twilio_key", ("sk",), 0)]),
    ("mailchimp", "MailchimpDetector", [(0, "mailchimp_key", ("-us",), 0)]),
    ("artifactory", "ArtifactoryDetector", [(0, "artifactory_token", ("akc",), 0)]),
]


def _detect_secrets_rules() -> list[Rule]:
    import importlib

    from detect_secrets.plugins import keyword

    rules = []
    for module, cls, picks in _DETECT_SECRETS:
        plugin = getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), cls)
        denylist = list(plugin.denylist)
        for i, kind, frags, group in picks:
            rules.append(Rule(kind, denylist[i], frags, group, f"detect-secrets {cls}"))
    words = [*keyword.DENYLIST, "token", "access_?key", "secret_?key", "credentials?", "auth"]
    for kind, pattern, frags, group in _assignments(words):
        rules.append(Rule(kind, re.compile(pattern), frags, group, "detect-secrets KeywordDetector.DENYLIST", anchored=True))
    return rules


def _own_rules() -> list[Rule]:
    return [Rule(kind, re.compile(p), frags, group, f"contextkit: {why}") for kind, p, frags, group, why in _OWN]


# ----------------------------------------------------------------------------- the rule set and the user's hook


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.builtin: list[Rule] | None = None
        self.extra: list[Rule] = []
        self.mask: Callable[[str], str] | None = None
        self.rules: list[Rule] = []
        self.by_fragment: dict[str, list[int]] = {}
        self.always: list[int] = []

    def compiled(self) -> _State:
        if self.builtin is None:
            with self.lock:
                if self.builtin is None:
                    self._index(_detect_secrets_rules() + _own_rules())
        return self

    def _index(self, builtin: list[Rule]) -> None:
        rules = builtin + self.extra
        by: dict[str, list[int]] = {}
        always = []
        for i, r in enumerate(rules):
            if not r.fragments:
                always.append(i)
            for f in r.fragments:
                by.setdefault(f.lower(), []).append(i)
        self.rules, self.by_fragment, self.always = rules, by, always
        self.builtin = builtin


_S = _State()


def configure(patterns: Iterable[Rule | str | tuple[str, str]] = (), *, mask: Callable[[str], str] | None = None) -> None:
    """Your own formats, on top of the built-in rules (each call replaces the previous one's).

    `patterns`: `Rule`s, regex strings (kind "custom"), or `(kind, regex)` pairs; a pattern without
    fragments runs on every text. `mask`: a function from text to text that masks what you know
    (an internal token format, customer ids); it runs after the built-in rules, and what it
    changes counts as a secret for `find_secrets` and `has_secret` too.

        from contextkit import secrets
        secrets.configure([("acme_token", r"\\bacme_[0-9a-f]{32}\\b")], mask=my_scrubber)
    """
    extra = []
    for p in patterns:
        if isinstance(p, Rule):
            extra.append(p)
        elif isinstance(p, str):
            extra.append(Rule("custom", re.compile(p)))
        else:
            kind, rx = p
            extra.append(Rule(str(kind), re.compile(rx)))
    if mask is not None and not callable(mask):
        raise TypeError(f"secrets.configure: mask must be a function str -> str, got {type(mask).__name__}")
    st = _S.compiled()
    with st.lock:
        st.extra, st.mask = extra, mask
        st._index(st.builtin or [])


def rules() -> list[Rule]:
    """Every rule in force (built-in first, then yours), for docs and tests."""
    return list(_S.compiled().rules)


# ----------------------------------------------------------------------------- finding and masking


def _candidates(st: _State, low: str) -> list[int]:
    picked = set(st.always)
    for frag, idx in st.by_fragment.items():
        if frag in low:
            picked.update(idx)
    return sorted(picked)


def _name_starts(text: str, low: str, fragments: tuple[str, ...]) -> list[int]:
    """Where the names holding these fragments start (`DB_PASSWORD` for "pass")."""
    if len(low) == len(text):
        hits = []
        for f in fragments:
            i = low.find(f)
            while i != -1:
                hits.append(i)
                i = low.find(f, i + 1)
    else:  # a character whose lowercase is longer ("İ"): positions in `low` would be off
        hits = [m.start() for m in re.finditer("|".join(map(re.escape, fragments)), text, re.I)]
    starts = set()
    for i in hits:
        if not _ASSIGNED.match(text, i):
            continue  # a keyword not followed by `=` or `:` ("tokenizer", "the key is")
        m = _NAME_TAIL.search(text, max(0, i - 80), i)
        starts.add(m.start() if m else i)
    return sorted(starts)


def _matches(r: Rule, text: str, low: str) -> Iterable[re.Match]:
    if not r.anchored:
        return r.pattern.finditer(text)
    found = (r.pattern.match(text, i) for i in _name_starts(text, low, r.fragments))
    return (m for m in found if m)


def _spans(st: _State, text: str, first_only: bool = False) -> list[Secret]:
    found: list[Secret] = []
    low = text.lower()
    for i in _candidates(st, low):
        r = st.rules[i]
        for m in _matches(r, text, low):
            try:
                a, b = m.span(r.group)
            except IndexError:
                a, b = m.span()
            if a < 0 or b <= a:
                continue
            found.append(Secret(a, b, r.kind))
            if first_only:
                return found
    return found


def _merge(found: list[Secret]) -> list[Secret]:
    """Sorted, overlapping spans joined (the kind of the one that starts first, or the longest)."""
    out: list[Secret] = []
    for s in sorted(found, key=lambda s: (s.start, -s.end)):
        if out and s.start < out[-1].end:
            last = out[-1]
            if s.end > last.end:
                out[-1] = Secret(last.start, s.end, last.kind)
            continue
        out.append(s)
    return out


def _hook_spans(fn: Callable[[str], str], text: str) -> list[Secret]:
    """What the user's mask function changed, as spans of the original text."""
    masked = fn(text)
    if masked == text:
        return []
    sm = difflib.SequenceMatcher(None, text, masked, autojunk=False)
    return [Secret(i1, max(i2, i1 + 1), "custom") for tag, i1, i2, _, _ in sm.get_opcodes() if tag != "equal" and i1 < len(text)]


def find_secrets(text: str) -> list[Secret]:
    """Every secret in `text`: sorted, non-overlapping spans with their kind. Spans cover the
    value only (`API_KEY=` and `Bearer ` stay outside), so cutting them out keeps the text readable."""
    if not text or not isinstance(text, str):
        return []
    st = _S.compiled()
    found = _spans(st, text)
    if st.mask is not None:
        found += _hook_spans(st.mask, text)
    return _merge(found)


def has_secret(text: str) -> bool:
    """Whether `text` holds any secret (stops at the first)."""
    if not text or not isinstance(text, str):
        return False
    st = _S.compiled()
    if _spans(st, text, first_only=True):
        return True
    return st.mask is not None and st.mask(text) != text


def mask(text: str, replacement_for: Callable[[Secret], str] = marker) -> str:
    """`text` with every secret replaced by `replacement_for(secret)` (default `[REDACTED <kind>]`),
    then your `configure(mask=...)` function applied."""
    if not text or not isinstance(text, str):
        return text
    st = _S.compiled()
    spans = _merge(_spans(st, text))
    if spans:
        parts, at = [], 0
        for s in spans:
            parts.append(text[at:s.start])
            parts.append(replacement_for(s))
            at = s.end
        parts.append(text[at:])
        text = "".join(parts)
    return st.mask(text) if st.mask is not None else text
