"""Every environment variable contextkit reads, declared once: name, type, default, what it does.

Code reads a setting through its declaration (`settings.TRACE_DB.get()`), never `os.environ`, so
this module is the whole list (tests/test_settings.py checks that nothing else reads the
environment). Variables that a library reads itself (the OpenTelemetry SDK, OpenInference,
litellm, tiktoken) are declared too, with that library as their reader, because they change what
contextkit does. docs/settings.md is generated from these declarations:

    python -c "from contextkit import settings; settings.write_docs('docs/settings.md')"

Parsing is the same for every setting: a flag is on unless its value is off, 0, false, no, none or
empty (unset: its default); any other value counts as unset when it is empty or blank, and its
surrounding whitespace is dropped. It imports nothing of contextkit, so every module may use it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

OFF = ("off", "0", "false", "no", "none", "")
CONTEXTKIT = "contextkit"

# (key, heading) in the order docs/settings.md lists them
AREAS = {
    "tracing": "Tracing",
    "export": "OTLP export (Datadog, Phoenix, any collector)",
    "hiding": "Hiding inputs and outputs (OpenInference's switches)",
    "gateway": "Gateway mode (the litellm proxy)",
    "viewer": "Viewer",
    "offline": "Offline by default",
    "demo": "Demo",
}


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable: its name, type (bool, int or str), default and description.

    `reader` is who reads it: contextkit, or the library that reads it itself (declared here
    because it changes what contextkit does; `get()` still reads it the same way).
    """

    name: str
    type: type
    default: T
    description: str
    area: str
    reader: str = CONTEXTKIT
    default_text: str | None = None  # how the docs show a default computed at run time

    def raw(self) -> str | None:
        """The variable's value as set, or None."""
        return os.environ.get(self.name)

    def is_set(self) -> bool:
        return self.name in os.environ

    def get(self) -> T:
        """The typed value (ValueError naming the variable when an int is not one)."""
        raw = os.environ.get(self.name)
        if self.type is bool:
            return self.default if raw is None else raw.strip().lower() not in OFF  # type: ignore[return-value]
        if raw is None or not raw.strip():
            return self.default
        value = raw.strip()
        if self.type is int:
            try:
                return int(value)  # type: ignore[return-value]
            except ValueError:
                raise ValueError(f"{self.name}: must be an integer, got {raw!r}") from None
        return value  # type: ignore[return-value]

    def setdefault(self, value: str) -> str:
        """Set the variable for the libraries that read it, unless the user set it."""
        return os.environ.setdefault(self.name, value)


_ALL: list[Setting] = []


def _declare(name: str, type_: type, default: T, description: str, area: str, reader: str = CONTEXTKIT,
             default_text: str | None = None) -> Setting[T]:
    assert area in AREAS and name not in {s.name for s in _ALL}, name
    s = Setting(name, type_, default, description, area, reader, default_text)
    _ALL.append(s)
    return s


def all_settings() -> list[Setting]:
    """Every declared setting, in the order of docs/settings.md."""
    order = list(AREAS)
    return sorted(_ALL, key=lambda s: order.index(s.area))


def environment(**extra: str) -> dict[str, str]:
    """A copy of this process's environment for a child process, with `extra` set."""
    return {**os.environ, **extra}


# ---------------------------------------------------------------------------- tracing

TRACING: Setting[bool] = _declare(
    "CONTEXTKIT_TRACING", bool, True,
    "`off`: a Session made with `tracing=None` (the default) traces nothing", "tracing")
TRACE_DB: Setting[str | None] = _declare(
    "CONTEXTKIT_TRACE_DB", str, None,
    "the trace store's path, resolved against the working directory when tracing is first set up; "
    "`off`: no store", "tracing", default_text="`./.contextkit/traces.duckdb`")
TRACE_FLUSH_MS: Setting[int] = _declare(
    "CONTEXTKIT_TRACE_FLUSH_MS", int, 500, "how often spans are written to the store, 1-1000 ms", "tracing")
LLM_SPANS: Setting[str] = _declare(
    "CONTEXTKIT_LLM_SPANS", str, "auto",
    "`auto`, `on` or `off`: contextkit's own LLM spans (`auto`: none when openinference-instrumentation-litellm "
    "is active)", "tracing")
MASK_SECRETS: Setting[bool] = _declare(
    "CONTEXTKIT_MASK_SECRETS", bool, True, "`off`: secrets are stored and exported unmasked", "tracing")
SERVICE_NAME: Setting[str | None] = _declare(
    "OTEL_SERVICE_NAME", str, None, "the service name (Datadog's ml_app)", "tracing",
    default_text="`DD_LLMOBS_ML_APP`, else `contextkit`")
DD_ML_APP: Setting[str | None] = _declare(
    "DD_LLMOBS_ML_APP", str, None, "the service name when `OTEL_SERVICE_NAME` is not set", "tracing")
PHOENIX_PROJECT: Setting[str | None] = _declare(
    "PHOENIX_PROJECT_NAME", str, None, "the Phoenix project (`openinference.project.name`)", "tracing",
    default_text="the service name")
SPAN_ATTRIBUTE_COUNT_LIMIT: Setting[int] = _declare(
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", int, 128,
    "attributes kept per span by the SDK (docs/trace-store.md: what an LLM span keeps when it is raised)",
    "tracing", reader="opentelemetry-sdk")

# ---------------------------------------------------------------------------- export

TRACES_EXPORTER: Setting[str | None] = _declare(
    "OTEL_TRACES_EXPORTER", str, None, "`none`: no OTLP export whatever else is set; `otlp`: export (to the "
    "SDK's default endpoint unless one is set)", "export")
OTLP_TRACES_ENDPOINT: Setting[str | None] = _declare(
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", str, None, "the full URL of the OTLP/HTTP traces endpoint; "
    "setting it turns export on", "export")
OTLP_ENDPOINT: Setting[str | None] = _declare(
    "OTEL_EXPORTER_OTLP_ENDPOINT", str, None, "the collector's base URL (`/v1/traces` is added); setting it "
    "turns export on", "export")
OTLP_TRACES_PROTOCOL: Setting[str | None] = _declare(
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", str, None, "only `http/protobuf` is supported", "export",
    default_text="`OTEL_EXPORTER_OTLP_PROTOCOL`")
OTLP_PROTOCOL: Setting[str] = _declare(
    "OTEL_EXPORTER_OTLP_PROTOCOL", str, "http/protobuf", "only `http/protobuf` is supported", "export")
OTLP_HEADERS: Setting[str | None] = _declare(
    "OTEL_EXPORTER_OTLP_HEADERS", str, None, "`key=value,...` headers sent with every export (Datadog's are "
    "merged over them)", "export", reader="opentelemetry-sdk")
OTLP_TRACES_HEADERS: Setting[str | None] = _declare(
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS", str, None, "the same, for traces only", "export",
    reader="opentelemetry-sdk")
OTLP_TIMEOUT: Setting[int] = _declare(
    "OTEL_EXPORTER_OTLP_TIMEOUT", int, 10, "seconds one export request may take", "export",
    reader="opentelemetry-sdk")
OTLP_COMPRESSION: Setting[str | None] = _declare(
    "OTEL_EXPORTER_OTLP_COMPRESSION", str, None, "`gzip` or `deflate`", "export", reader="opentelemetry-sdk")
BSP_MAX_QUEUE_SIZE: Setting[int] = _declare(
    "OTEL_BSP_MAX_QUEUE_SIZE", int, 2048, "spans waiting for OTLP export (beyond it, new spans are dropped)",
    "export", reader="opentelemetry-sdk")
BSP_MAX_EXPORT_BATCH_SIZE: Setting[int] = _declare(
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", int, 512, "spans per OTLP export request", "export",
    reader="opentelemetry-sdk")
DD_API_KEY: Setting[str | None] = _declare(
    "DD_API_KEY", str, None, "Datadog: export to `https://otlp.<DD_SITE>/v1/traces` with the `dd-api-key` and "
    "`dd-otlp-source: llmobs` headers (to the OTLP endpoint instead, when one is set: a local Agent)", "export")
DD_SITE: Setting[str] = _declare(
    "DD_SITE", str, "datadoghq.com", "your Datadog site: `datadoghq.eu`, `us5.datadoghq.com`, ...", "export")

# ---------------------------------------------------------------------------- hiding (OpenInference)

_HIDES = {
    "INPUTS": "`input.value`, the messages sent, tools; contextkit's copies of every text sent (tool results, "
              "tool arguments, the task)",
    "OUTPUTS": "`output.value`, the messages returned; contextkit's copies of the answer and its tool arguments",
    "INPUT_MESSAGES": "`llm.input_messages.*`",
    "OUTPUT_MESSAGES": "`llm.output_messages.*`",
    "INPUT_TEXT": "the texts of the messages sent (redacted)",
    "OUTPUT_TEXT": "the texts of the messages returned (redacted)",
    "LLM_INVOCATION_PARAMETERS": "`llm.invocation_parameters`",
    "LLM_TOOLS": "`llm.tools` (the tool definitions sent)",
}
HIDE: dict[str, Setting[bool]] = {
    key: _declare(f"OPENINFERENCE_HIDE_{key}", bool, False, f"`true` hides {what}", "hiding",
                  reader="openinference-instrumentation")
    for key, what in _HIDES.items()
}

# ---------------------------------------------------------------------------- gateway (contextkit/proxy)

PROXY_POLICY: Setting[str] = _declare(
    "CONTEXTKIT_POLICY", str, "default",
    "the gateway's policy: a preset name or a policy file (`.toml`/`.yaml`/`.json`, docs/policies.md)", "gateway")
PROXY_HEADER: Setting[str] = _declare(
    "CONTEXTKIT_CONVERSATION_HEADER", str, "x-contextkit-conversation",
    "the header a client may send to name its conversation", "gateway")
PROXY_SESSIONS: Setting[int] = _declare(
    "CONTEXTKIT_PROXY_SESSIONS", int, 256, "live conversations kept in memory per proxy process (LRU)", "gateway")
PROXY_MAX_RESTORES: Setting[int] = _declare(
    "CONTEXTKIT_PROXY_MAX_RESTORES", int, 3, "`restore_context` rounds the proxy answers within one request",
    "gateway")
PROXY_FAIL_CLOSED: Setting[bool] = _declare(
    "CONTEXTKIT_FAIL_CLOSED", bool, False,
    "`on`: an internal error in the gateway fails the request instead of sending it unchanged", "gateway")
PROXY_COMPACTOR: Setting[str | None] = _declare(
    "CONTEXTKIT_COMPACTOR", str, None,
    "a model (called through the proxy's litellm) that summarises the oldest turns when a request would not fit "
    "its model's window", "gateway")

# ---------------------------------------------------------------------------- viewer

VIEW_STORE: Setting[str | None] = _declare(
    "CONTEXTKIT_VIEW_STORE", str, None, "the store the viewer's app shows (`contextkit view` sets it for the "
    "app's process)", "viewer", default_text="the trace store's path")
VIEW_HOSTS: Setting[str | None] = _declare(
    "CONTEXTKIT_VIEW_HOSTS", str, None, "comma-separated Host headers the viewer's server answers (`contextkit "
    "view` sets it from `--address` and `--allow-host`)", "viewer", default_text="`127.0.0.1,localhost`")

# ---------------------------------------------------------------------------- offline (contextkit/_offline.py)

LITELLM_LOCAL_COST_MAP: Setting[str | None] = _declare(
    "LITELLM_LOCAL_MODEL_COST_MAP", str, None, "`True`: litellm reads its bundled price map instead of fetching "
    "one; contextkit sets it when you did not (set `False` to let litellm fetch)", "offline", reader="litellm",
    default_text="`True` (set by contextkit)")
TIKTOKEN_CACHE_DIR: Setting[str | None] = _declare(
    "TIKTOKEN_CACHE_DIR", str, None, "where tiktoken finds its BPE files instead of downloading them",
    "offline", reader="tiktoken", default_text="litellm's bundled tokenizers (set by contextkit)")
CUSTOM_TIKTOKEN_CACHE_DIR: Setting[str | None] = _declare(
    "CUSTOM_TIKTOKEN_CACHE_DIR", str, None, "keeps litellm from pointing `TIKTOKEN_CACHE_DIR` elsewhere when it "
    "first counts tokens", "offline", reader="litellm", default_text="`TIKTOKEN_CACHE_DIR` (set by contextkit)")

# ---------------------------------------------------------------------------- demo

DISPLAY: Setting[str | None] = _declare(
    "DISPLAY", str, None, "`contextkit demo --view` opens a browser window only when a display is set "
    "(macOS and Windows always)", "demo")
WAYLAND_DISPLAY: Setting[str | None] = _declare(
    "WAYLAND_DISPLAY", str, None, "the same, for Wayland", "demo")


# ---------------------------------------------------------------------------- the docs table

_BEGIN = "<!-- generated from contextkit/settings.py by settings.write_docs(); edit the declarations, not this table -->"
_END = "<!-- settings: end -->"


def _default_text(s: Setting) -> str:
    if s.default_text is not None:
        return s.default_text
    if s.type is bool:
        return "on" if s.default else "off"
    return "unset" if s.default is None else f"`{s.default}`"


def markdown() -> str:
    """The tables of docs/settings.md, one per area, made from the declarations."""
    out = [_BEGIN]
    for area, heading in AREAS.items():
        out += ["", f"### {heading}", "", "| variable | type | default | read by | what it does |", "|---|---|---|---|---|"]
        for s in (s for s in all_settings() if s.area == area):
            text = s.description.replace("|", "\\|")
            out.append(f"| `{s.name}` | {s.type.__name__} | {_default_text(s)} | {s.reader} | {text} |")
    return "\n".join(out + ["", _END])


def rewrite(page: str) -> str:
    """`page` with its generated block replaced by today's tables."""
    head, sep, rest = page.partition(_BEGIN)
    _, sep2, tail = rest.partition(_END)
    if not (sep and sep2):
        raise ValueError(f"the page has no generated block ({_BEGIN} ... {_END})")
    return head + markdown() + tail


def write_docs(path: str) -> None:
    """Regenerate the tables in the page at `path` (docs/settings.md)."""
    with open(path, encoding="utf-8") as f:
        page = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(rewrite(page))
