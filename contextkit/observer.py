"""The `Observer` protocol: what receives a run's events (tracing is one; your callbacks can be
another). It imports nothing of the project, so anything may implement it without a cycle."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .records import PrepareReport, StepRecord, ToolRecord


class Observer:
    """Subclass and override what you need; every method is optional. An observer that raises is
    reported once in `Session.observer_errors` and the run goes on."""

    def run_started(self, session: Any) -> None: ...

    def prepared(self, session: Any, report: PrepareReport) -> None: ...

    def step_finished(self, session: Any, record: StepRecord) -> None: ...

    def tool_started(self, session: Any, record: ToolRecord) -> None: ...

    def tool_finished(self, session: Any, record: ToolRecord) -> None: ...

    def run_finished(self, session: Any) -> None: ...
