"""Capture contextkit's spans in memory, for your tests (in the spirit of logfire's `capfire`).

    from contextkit.testing import capture_spans

    with capture_spans() as spans:
        session = contextkit.Session(name="checkout-agent")
        session.completion(model="gpt-4.1-mini", messages=messages, mock_response="Done.")
        session.close()
    (agent,) = spans.named("invoke_agent checkout-agent")
    assert agent.attributes["session.id"] == session.id
    assert [s.name for s in spans.of_kind("LLM")] == ["chat gpt-4.1-mini"]

Inside the block, tracing is set up afresh with no trace store and no OTLP export (whatever the
environment says), and one OpenTelemetry SDK `InMemorySpanExporter` receives every span as it
ends: the spans an OTLP collector would get, every message flattened into the LLM spans'
attributes. Settings for `tracing.configure` pass through (`capture_spans(llm_spans="on")`,
`capture_spans(db_path=tmp_path / "t.duckdb")` to keep a store as well). When the block ends,
pending spans are flushed and tracing is shut down (`tracing.shutdown()`: runs still open end, and
their spans are captured too); the next Session traces as the environment says again.

With pytest, the `capspans` fixture does the same around one test; make it available with
`from contextkit.testing import capspans` in your conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from . import tracing

__all__ = ["CapturedSpans", "capture_spans", "capspans"]

KIND = "openinference.span.kind"  # AGENT, LLM, TOOL, CHAIN (contextkit.tracing.conventions.SPAN_KIND)


class CapturedSpans:
    """The spans one `capture_spans()` block received, read after flushing what is pending."""

    def __init__(self, exporter: InMemorySpanExporter, setup: tracing.Tracing, timeout: float = 10.0):
        self.exporter = exporter
        self.tracing = setup
        self.timeout = timeout

    def flush(self) -> bool:
        """Build and deliver every pending span now (contextkit builds LLM spans off the agent's thread)."""
        return self.tracing.flush(self.timeout)

    def finished(self) -> list[ReadableSpan]:
        """Every finished span, in the order they ended."""
        self.flush()
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.finished() if s.name == name]

    def of_kind(self, kind: str) -> list[ReadableSpan]:
        """The spans of one OpenInference kind: AGENT, LLM, TOOL or CHAIN."""
        return [s for s in self.finished() if (s.attributes or {}).get(KIND) == kind]

    def attributes(self) -> list[dict[str, Any]]:
        """Each finished span's name and attributes as a plain dict (easy to compare and print)."""
        return [{"name": s.name, **dict(s.attributes or {})} for s in self.finished()]

    def clear(self) -> None:
        self.flush()
        self.exporter.clear()


@contextmanager
def capture_spans(timeout: float = 10.0, **settings: Any) -> Iterator[CapturedSpans]:
    """Trace into memory inside the block (no store and no OTLP unless `settings` ask for them)."""
    settings.setdefault("db_path", None)
    settings.setdefault("otlp", None)
    if isinstance(settings["db_path"], os.PathLike):
        settings["db_path"] = os.fspath(settings["db_path"])
    exporter = InMemorySpanExporter()
    settings["extra_processors"] = [*settings.get("extra_processors", ()), SimpleSpanProcessor(exporter)]
    setup = tracing.configure(**settings)
    captured = CapturedSpans(exporter, setup, timeout)
    try:
        yield captured
    finally:
        captured.flush()
        tracing.shutdown(timeout)  # runs still open end here, and their spans are captured too


try:
    import pytest
except ImportError:  # contextkit.testing without pytest: the context manager alone
    pass
else:

    @pytest.fixture
    def capspans() -> Iterator[CapturedSpans]:
        """contextkit's spans of one test, in memory (see `capture_spans`)."""
        with capture_spans() as spans:
            yield spans
