"""Tracing configuration: arguments first, then the environment, then defaults.

Environment: `CONTEXTKIT_TRACING=off`, `CONTEXTKIT_TRACE_DB` (a path, or `off` for no store),
`CONTEXTKIT_TRACE_FLUSH_MS`, `CONTEXTKIT_LLM_SPANS` (auto/on/off), `CONTEXTKIT_MASK_SECRETS`
(on/off), the standard `OTEL_EXPORTER_OTLP_*`, `OTEL_TRACES_EXPORTER`, `OTEL_SERVICE_NAME`, the
Datadog shortcut `DD_API_KEY` + `DD_SITE` (+ `DD_LLMOBS_ML_APP`), and OpenInference's hide switches,
each declared once in contextkit/settings.py (docs/settings.md lists them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contextkit import settings as S
from contextkit.errors import ContextkitError

DEFAULT_DB = os.path.join(".contextkit", "traces.duckdb")


class TracingConfigError(ContextkitError, ValueError):
    """A tracing setting is wrong (names the setting)."""


def default_db_path() -> str | None:
    """`CONTEXTKIT_TRACE_DB`, else ./.contextkit/traces.duckdb; None when set to off."""
    v = S.TRACE_DB.raw()
    if v is not None and v.strip().lower() in S.OFF:
        return None
    return str(Path(v or DEFAULT_DB).expanduser().resolve())


def datadog_endpoint(site: str) -> str:
    """Datadog's OTLP trace intake for a site (`datadoghq.com`, `datadoghq.eu`, `us5.datadoghq.com`, ...)."""
    site = site.strip().removeprefix("https://").removeprefix("http://").strip("/")
    if not site or "/" in site or " " in site:
        raise TracingConfigError(f"DD_SITE must be a Datadog site such as 'datadoghq.com', got {site!r}", "DD_SITE")
    return f"https://otlp.{site}/v1/traces"


@dataclass
class OTLPSettings:
    """Where spans go over OTLP/HTTP (protobuf). Headers are merged over OTEL_EXPORTER_OTLP_HEADERS."""

    endpoint: str | None = None  # full URL of the traces endpoint; None: the exporter reads OTEL_* itself
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float | None = None
    datadog: bool = False


@dataclass
class TracingConfig:
    """Everything `tracing.configure()` accepts; `from_env()` fills what the caller did not set."""

    db_path: str | None = None  # None: no DuckDB store
    otlp: OTLPSettings | None = None  # None: no OTLP export
    service_name: str = "contextkit"
    project_name: str | None = None  # Phoenix project (openinference.project.name); default service_name
    mask_secrets: bool = S.MASK_SECRETS.default
    llm_spans: str = S.LLM_SPANS.default  # "auto": none of ours when openinference-instrumentation-litellm is active
    flush_interval_ms: int = S.TRACE_FLUSH_MS.default
    shutdown_timeout_s: float = 10.0  # at exit: the local store may take this long to write its last batch
    otlp_shutdown_s: float = 3.0  # at exit: what an OTLP endpoint (maybe dead) gets
    tracer_provider: Any = None  # attach to this SDK TracerProvider instead of making our own
    set_global: bool = False  # make our provider the global one
    max_queue_size: int = 16_384  # the store's queue (spans waiting while another process writes)
    max_export_batch_size: int = 8192  # DuckDB likes few large batches: each costs a connect and a commit
    extra_processors: list = field(default_factory=list)  # more SpanProcessors for our provider
    # Flatten every message sent into each LLM span (`llm.input_messages.*`)? None: only when
    # something besides our store reads the spans (OTLP, extra processors, the user's provider).
    flatten_messages: bool | None = None
    # Spans for collectors stay under this many bytes (Datadog drops events over 1 MB); LLM spans show
    # the whole request (capped) every `snapshot_every` model calls, what is new in between.
    span_max_bytes: int = 512 * 1024
    snapshot_every: int = 10

    @classmethod
    def from_env(cls, **overrides: Any) -> TracingConfig:
        cfg = cls()
        cfg.db_path = default_db_path()
        cfg.service_name = S.SERVICE_NAME.get() or S.DD_ML_APP.get() or "contextkit"
        cfg.project_name = S.PHOENIX_PROJECT.get()
        cfg.mask_secrets = S.MASK_SECRETS.get()
        cfg.llm_spans = S.LLM_SPANS.get().lower()
        try:
            cfg.flush_interval_ms = S.TRACE_FLUSH_MS.get()
        except ValueError:
            raise TracingConfigError("must be an integer (milliseconds)", S.TRACE_FLUSH_MS.name) from None
        cfg.otlp = otlp_from_env()
        for k, v in overrides.items():
            if not hasattr(cfg, k):
                raise TracingConfigError(f"unknown tracing setting {k!r}", "tracing.configure")
            setattr(cfg, k, v)
        if isinstance(cfg.db_path, os.PathLike):
            cfg.db_path = str(cfg.db_path)
        if cfg.db_path is not None:
            cfg.db_path = str(Path(cfg.db_path).expanduser().resolve())
        if cfg.llm_spans not in ("auto", "on", "off"):
            raise TracingConfigError(f"must be auto, on or off, got {cfg.llm_spans!r}", "llm_spans")
        if not isinstance(cfg.span_max_bytes, int) or cfg.span_max_bytes < 64 * 1024:
            raise TracingConfigError("must be an integer of at least 65536 (bytes)", "span_max_bytes")
        if not isinstance(cfg.snapshot_every, int) or cfg.snapshot_every < 1:
            raise TracingConfigError("must be an integer of at least 1 (model calls)", "snapshot_every")
        if cfg.flush_interval_ms <= 0 or cfg.flush_interval_ms > 1000:
            raise TracingConfigError("must be between 1 and 1000 ms (spans are flushed within a second)", "flush_interval_ms")
        return cfg


def otlp_from_env() -> OTLPSettings | None:
    """OTLP export is on when an OTLP endpoint or DD_API_KEY is set, unless OTEL_TRACES_EXPORTER=none."""
    exporters = (S.TRACES_EXPORTER.get() or "").lower()
    if exporters in ("none",):
        return None
    protocol = S.OTLP_TRACES_PROTOCOL.get() or S.OTLP_PROTOCOL.get()
    endpoint = S.OTLP_TRACES_ENDPOINT.get()
    base = S.OTLP_ENDPOINT.get()
    dd_key = S.DD_API_KEY.get()
    if not (endpoint or base or dd_key or "otlp" in exporters):
        return None
    if protocol != "http/protobuf":
        raise TracingConfigError(
            f"only http/protobuf is supported (Datadog's intake and Phoenix take it), got {protocol!r}",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        )
    s = OTLPSettings()
    if endpoint:
        s.endpoint = endpoint
    elif base:
        s.endpoint = base.rstrip("/") + "/v1/traces"
    if dd_key:
        s.datadog = True
        s.headers = {"dd-api-key": dd_key, "dd-otlp-source": "llmobs"}
        if not s.endpoint:  # direct to Datadog; a set endpoint means a local Agent or a proxy
            s.endpoint = datadog_endpoint(S.DD_SITE.get())
    return s
