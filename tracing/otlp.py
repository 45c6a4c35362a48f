"""OTLP/HTTP (protobuf) export with the SDK's own exporter, behind a BatchSpanProcessor.

A dead endpoint must never reach the agent: spans only enter the processor's queue on the agent's
side; the exporter's retries and timeouts run on the processor's thread, and shutdown is bounded
(field-notes §5: force_flush against a dead endpoint blocks 6-10 s).
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from .config import OTLPSettings, TracingConfig


def otlp_processor(settings: OTLPSettings, cfg: TracingConfig) -> BatchSpanProcessor:
    """A batch processor feeding the SDK's OTLP/HTTP exporter (endpoint and headers from `settings`,
    everything else from the standard OTEL_EXPORTER_OTLP_* variables the exporter reads itself)."""
    exporter = OTLPSpanExporter(
        endpoint=settings.endpoint,
        headers=settings.headers or None,
        timeout=settings.timeout_s,
    )
    # the SDK's queue and batch sizes (or OTEL_BSP_*): LLM spans carry whole conversations here
    return BatchSpanProcessor(exporter, schedule_delay_millis=cfg.flush_interval_ms)
