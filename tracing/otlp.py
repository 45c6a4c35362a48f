"""OTLP/HTTP (protobuf) export with the SDK's own exporter, behind a BatchSpanProcessor.

A dead endpoint must never reach the agent: spans only enter the processor's queue on the agent's
side; the exporter's retries and timeouts run on the processor's thread, and shutdown is bounded
(field-notes §5: force_flush against a dead endpoint blocks 6-10 s).

What goes out is what a collector needs, under `TracingConfig.span_max_bytes`: the attributes only
contextkit's own store reads are left out, and a span still over the cap is cut down by
`span_size.capped_attributes` (the store, on its own processor, gets every span whole).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from .config import OTLPSettings, TracingConfig
from .span_size import capped_attributes


def otlp_processor(settings: OTLPSettings, cfg: TracingConfig) -> BatchSpanProcessor:
    """A batch processor feeding the SDK's OTLP/HTTP exporter (endpoint and headers from `settings`,
    everything else from the standard OTEL_EXPORTER_OTLP_* variables the exporter reads itself)."""
    exporter = OTLPSpanExporter(
        endpoint=settings.endpoint,
        headers=settings.headers or None,
        timeout=settings.timeout_s,
    )
    _quiet_exporter_logs(settings.endpoint or "the OTEL_EXPORTER_OTLP endpoint")
    # the SDK's queue and batch sizes (or OTEL_BSP_*)
    return BatchSpanProcessor(CappedExporter(exporter, cfg.span_max_bytes), schedule_delay_millis=cfg.flush_interval_ms)


class CappedExporter(SpanExporter):
    """Hands `inner` each span as a collector should get it: contextkit's spans without their
    store-only attributes, and none over `cap` bytes. Other instrumentation's spans pass as they are."""

    def __init__(self, inner: SpanExporter, cap: int):
        self.inner = inner
        self.cap = cap
        self.cut = 0  # spans cut down to the cap (beyond the store-only attributes)

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return self.inner.export([self._lean(s) for s in spans])

    def _lean(self, span: Any) -> Any:
        scope = span.instrumentation_scope
        if scope is None or scope.name != "contextkit" or not span.attributes:
            return span
        attrs, cut = capped_attributes(span.attributes, self.cap)
        self.cut += cut
        return ReadableSpan(
            name=span.name, context=span.context, parent=span.parent, resource=span.resource, attributes=attrs,
            events=span.events, links=span.links, kind=span.kind, status=span.status, start_time=span.start_time,
            end_time=span.end_time, instrumentation_scope=scope,
        )

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.inner.shutdown()


# The SDK's exporter logs every retry and failed batch: against a dead endpoint that is a line every
# few seconds on the user's stderr. One contextkit line says it; the repeats go to DEBUG.
_EXPORTER_LOGGERS = ("opentelemetry.exporter.otlp.common.http", "opentelemetry.exporter.otlp.proto.http.trace_exporter")


class _OnceThenDebug(logging.Filter):
    def __init__(self, endpoint: str):
        super().__init__()
        self.endpoint = endpoint
        self.said = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        if self.said:
            return False
        self.said = True
        try:
            first = record.getMessage()[:200]
        except Exception:  # noqa: BLE001 - a malformed record: say the rest anyway
            first = str(record.msg)[:200]
        record.msg = ("contextkit tracing: OTLP export to %s is failing (%s); it goes on in the background "
                      "and never slows the agent. Further export errors are not shown.")
        record.args = (self.endpoint, first)
        record.exc_info = record.exc_text = None
        return True


def _quiet_exporter_logs(endpoint: str) -> None:
    for name in _EXPORTER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _OnceThenDebug) for f in logger.filters):
            logger.addFilter(_OnceThenDebug(endpoint))
