"""The store's schema history: numbered migrations, each a small function, applied in order when a
writer or a reader opens a file whose schema is older, and recorded in `schema_version` (one row
per migration applied). The model is simonw/llm's llm/migrations.py.

Rules for a new migration: append a function (never edit or reorder a released one), make it safe
to re-run on a store that already has its change (IF NOT EXISTS), bump schema.SCHEMA_VERSION, and
declare the result in schema.TABLES (tests/test_tracing_migrations.py checks that the migrations
build exactly what schema.py declares, from an empty file and from a schema 1 store).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contextkit.errors import ContextkitError

from .schema import SCHEMA_VERSION, create_views


class StoreSchemaError(ContextkitError, RuntimeError):
    """The store was written by a newer contextkit (a schema this one does not know)."""


def m001_initial(con: Any) -> None:
    """Schema 1, as contextkit 0.1.0 created it."""
    z = " USING COMPRESSION zstd"
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, applied_at TIMESTAMP)")
    con.execute(
        "CREATE TABLE IF NOT EXISTS span_log (trace_id VARCHAR, span_id VARCHAR, parent_span_id VARCHAR, run_id VARCHAR, "
        "step INTEGER, name VARCHAR, span_kind VARCHAR, operation VARCHAR, start_time TIMESTAMP, end_time TIMESTAMP, "
        f"duration_ms DOUBLE, status_code VARCHAR, status_message VARCHAR, service_name VARCHAR, attributes JSON{z}, "
        f"events JSON{z})"
    )
    con.execute(
        "CREATE TABLE IF NOT EXISTS agent_runs (run_id VARCHAR, trace_id VARCHAR, span_id VARCHAR, name VARCHAR, "
        f"service_name VARCHAR, policy VARCHAR, model VARCHAR, user_id VARCHAR, tags JSON, metadata JSON{z}, "
        "started_at TIMESTAMP, ended_at TIMESTAMP, status VARCHAR, ended_by VARCHAR, steps INTEGER, tool_calls INTEGER, "
        "input_tokens BIGINT, output_tokens BIGINT, cost_usd DOUBLE, saved_usd DOUBLE, parent_span_id VARCHAR)"
    )
    con.execute(
        "CREATE TABLE IF NOT EXISTS contexts (run_id VARCHAR, step INTEGER, trace_id VARCHAR, span_id VARCHAR, "
        "started_at TIMESTAMP, ended_at TIMESTAMP, n_messages INTEGER, n_segments INTEGER, tokens_before BIGINT, "
        "tokens_after BIGINT, pruned INTEGER, fallback VARCHAR, error VARCHAR, prepare_ms DOUBLE, policy VARCHAR, "
        "parent_span_id VARCHAR)"
    )
    con.execute(
        "CREATE TABLE IF NOT EXISTS llm_calls (run_id VARCHAR, step INTEGER, trace_id VARCHAR, span_id VARCHAR, "
        "parent_span_id VARCHAR, span_kind VARCHAR, started_at TIMESTAMP, ended_at TIMESTAMP, latency_ms DOUBLE, "
        "model VARCHAR, response_model VARCHAR, provider VARCHAR, stream BOOLEAN, n_messages INTEGER, "
        "tokens_before BIGINT, tokens_after BIGINT, input_tokens BIGINT, output_tokens BIGINT, reasoning_tokens BIGINT, "
        "cache_read_tokens BIGINT, cache_write_tokens BIGINT, usage_estimated BOOLEAN, cost_usd DOUBLE, "
        "input_cost_usd DOUBLE, output_cost_usd DOUBLE, saved_usd DOUBLE, cost_note VARCHAR, finish_reason VARCHAR, "
        f"error VARCHAR, output_hash VARCHAR, tools_hash VARCHAR, invocation_params JSON{z}, guard_events JSON{z})"
    )
    con.execute(
        "CREATE TABLE IF NOT EXISTS tool_spans (run_id VARCHAR, step INTEGER, trace_id VARCHAR, span_id VARCHAR, "
        f"parent_span_id VARCHAR, name VARCHAR, tool_call_id VARCHAR, arguments VARCHAR{z}, result VARCHAR{z}, "
        "error VARCHAR, started_at TIMESTAMP, ended_at TIMESTAMP, duration_ms DOUBLE)"
    )
    con.execute(
        "CREATE TABLE IF NOT EXISTS segment_states (run_id VARCHAR, step INTEGER, handle VARCHAR, idx INTEGER, "
        "role VARCHAR, kind VARCHAR, tool_name VARCHAR, tool_call_id VARCHAR, tokens INTEGER, sent_tokens INTEGER, "
        "reasoning_tokens INTEGER, first_seen INTEGER, last_used INTEGER, used_count INTEGER, state VARCHAR, "
        f"reason VARCHAR{z}, superseded_by VARCHAR, pruned_at INTEGER, edited BOOLEAN)"
    )
    con.execute(
        "CREATE TABLE IF NOT EXISTS segment_forms (run_id VARCHAR, step INTEGER, handle VARCHAR, form VARCHAR, hash VARCHAR)"
    )
    con.execute(f"CREATE TABLE IF NOT EXISTS messages (hash VARCHAR, role VARCHAR, json VARCHAR{z})")
    con.execute(f"CREATE TABLE IF NOT EXISTS blobs (hash VARCHAR, kind VARCHAR, body VARCHAR{z})")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS decisions (run_id VARCHAR, step INTEGER, handle VARCHAR, action VARCHAR, reason VARCHAR{z})"
    )


def m002_write_errors(con: Any) -> None:
    """Spans the writer could not store, so a store says what it is missing (issue 10)."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS write_errors (logged_at TIMESTAMP, pid INTEGER, run_id VARCHAR, step INTEGER, "
        "span_id VARCHAR, span_name VARCHAR, spans INTEGER, error VARCHAR, detail VARCHAR USING COMPRESSION zstd)"
    )


def m003_segment_rule(con: Any) -> None:
    """A segment's rule code beside its reason sentence (`unused`, `keep_last`, ...; NULL before)."""
    con.execute("ALTER TABLE segment_states ADD COLUMN IF NOT EXISTS rule VARCHAR")


def m004_segment_flags(con: Any) -> None:
    """A tool result's implicit faults (`empty`, `truncated`, `error`, `injection`, `stale`; NULL before)."""
    con.execute("ALTER TABLE segment_states ADD COLUMN IF NOT EXISTS flags VARCHAR[]")


def m005_llm_call_kind(con: Any) -> None:
    """Which call a model-call row is: `chat` (the agent's) or `compaction` (a summariser's; NULL before)."""
    con.execute("ALTER TABLE llm_calls ADD COLUMN IF NOT EXISTS kind VARCHAR")


def m006_context_notes(con: Any) -> None:
    """What fitting the window and compaction did at a step (PrepareReport.notes; NULL before)."""
    con.execute("ALTER TABLE contexts ADD COLUMN IF NOT EXISTS notes VARCHAR[]")


def m007_tool_breaker(con: Any) -> None:
    """A tool call's circuit-breaker state and its guard events, stored on the tool (once)."""
    con.execute("ALTER TABLE tool_spans ADD COLUMN IF NOT EXISTS breaker VARCHAR")
    con.execute("ALTER TABLE tool_spans ADD COLUMN IF NOT EXISTS guard_events JSON USING COMPRESSION zstd")


MIGRATIONS: list[Callable[[Any], None]] = [
    m001_initial, m002_write_errors, m003_segment_rule, m004_segment_flags, m005_llm_call_kind, m006_context_notes,
    m007_tool_breaker,
]
assert len(MIGRATIONS) == SCHEMA_VERSION, "schema.SCHEMA_VERSION must count the migrations"


def version(con: Any) -> int:
    """The store's schema version (0: no schema yet). Cheap (under a millisecond): readers ask on
    every open, so a file another process upgraded is never read with stale assumptions."""
    import duckdb

    try:
        return int(con.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0)
    except duckdb.CatalogException:
        return 0


def newer_error(path: str, found: int) -> StoreSchemaError:
    return StoreSchemaError(
        f"trace store {path} has schema {found}, newer than this contextkit, which reads up to schema "
        f"{SCHEMA_VERSION}: upgrade contextkit (pip install -U contextkit-llm) to read or write it"
    )


def migrate(con: Any, path: str) -> int:
    """Bring the store on `con` (read-write) to SCHEMA_VERSION in one transaction; returns the
    version it had. A newer store raises StoreSchemaError and is left as it is."""
    found = version(con)
    if found > SCHEMA_VERSION:
        raise newer_error(path, found)
    if found == SCHEMA_VERSION:
        return found
    con.execute("BEGIN TRANSACTION")
    try:
        for number, step in enumerate(MIGRATIONS, start=1):
            if number > found:
                step(con)
                con.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [number])
        create_views(con)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return found
