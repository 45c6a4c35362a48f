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
    return BatchSpanProcessor(
        exporter,
        max_queue_size=cfg.max_queue_size,
        schedule_delay_millis=cfg.flush_interval_ms,
        max_export_batch_size=min(cfg.max_export_batch_size, 512),  # keep requests well under intake limits
    )
