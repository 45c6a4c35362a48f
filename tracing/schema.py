"""The trace store's tables and views, declared once (docs/trace-store.md is the contract, and
tests/test_trace_store_doc.py checks it against what this declares).

Tables are append-only (several processes share a file, one write transaction at a time); views
rebuild per-step pictures from change rows with interval joins. The files get here through the
numbered migrations in migrations.py; this module says what the newest schema is.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import conventions as C

SCHEMA_VERSION = 7  # the number of migrations (migrations.py checks it)


@dataclass(frozen=True)
class Column:
    """One column of a store table: its name, its DuckDB type (as information_schema spells it)
    and whether it holds long text (zstd: DuckDB's automatic choice leaves those uncompressed)."""

    name: str
    sql_type: str
    zstd: bool = False


TEXT, INT, BIG, REAL, BOOL, TIME, JSON = "VARCHAR", "INTEGER", "BIGINT", "DOUBLE", "BOOLEAN", "TIMESTAMP", "JSON"
TEXTS = "VARCHAR[]"  # a list of codes or sentences (segment flags, fit notes)


def _cols(*spec: tuple) -> tuple[Column, ...]:
    return tuple(Column(*c) for c in spec)


_SEGMENT_TYPES = {"str": TEXT, "int": INT, "bool": BOOL, "list": TEXTS}
_LONG_SEGMENT_TEXT = {"reason"}

TABLES: dict[str, tuple[Column, ...]] = {
    "span_log": _cols(
        ("trace_id", TEXT), ("span_id", TEXT), ("parent_span_id", TEXT), ("run_id", TEXT), ("step", INT),
        ("name", TEXT), ("span_kind", TEXT), ("operation", TEXT), ("start_time", TIME), ("end_time", TIME),
        ("duration_ms", REAL), ("status_code", TEXT), ("status_message", TEXT), ("service_name", TEXT),
        ("attributes", JSON, True), ("events", JSON, True),
    ),
    "agent_runs": _cols(
        ("run_id", TEXT), ("trace_id", TEXT), ("span_id", TEXT), ("name", TEXT), ("service_name", TEXT),
        ("policy", TEXT), ("model", TEXT), ("user_id", TEXT), ("tags", JSON), ("metadata", JSON, True),
        ("started_at", TIME), ("ended_at", TIME), ("status", TEXT), ("ended_by", TEXT), ("steps", INT),
        ("tool_calls", INT), ("input_tokens", BIG), ("output_tokens", BIG), ("cost_usd", REAL), ("saved_usd", REAL),
        ("parent_span_id", TEXT),
    ),
    "contexts": _cols(
        ("run_id", TEXT), ("step", INT), ("trace_id", TEXT), ("span_id", TEXT), ("started_at", TIME),
        ("ended_at", TIME), ("n_messages", INT), ("n_segments", INT), ("tokens_before", BIG), ("tokens_after", BIG),
        ("pruned", INT), ("fallback", TEXT), ("error", TEXT), ("prepare_ms", REAL), ("policy", TEXT),
        ("parent_span_id", TEXT), ("notes", TEXTS),
    ),
    "llm_calls": _cols(
        ("run_id", TEXT), ("step", INT), ("trace_id", TEXT), ("span_id", TEXT), ("parent_span_id", TEXT),
        ("span_kind", TEXT), ("started_at", TIME), ("ended_at", TIME), ("latency_ms", REAL), ("model", TEXT),
        ("response_model", TEXT), ("provider", TEXT), ("stream", BOOL), ("n_messages", INT),
        ("tokens_before", BIG), ("tokens_after", BIG), ("input_tokens", BIG), ("output_tokens", BIG),
        ("reasoning_tokens", BIG), ("cache_read_tokens", BIG), ("cache_write_tokens", BIG), ("usage_estimated", BOOL),
        ("cost_usd", REAL), ("input_cost_usd", REAL), ("output_cost_usd", REAL), ("saved_usd", REAL),
        ("cost_note", TEXT), ("finish_reason", TEXT), ("error", TEXT), ("output_hash", TEXT), ("tools_hash", TEXT),
        ("invocation_params", JSON, True), ("guard_events", JSON, True), ("kind", TEXT),
    ),
    "tool_spans": _cols(
        ("run_id", TEXT), ("step", INT), ("trace_id", TEXT), ("span_id", TEXT), ("parent_span_id", TEXT),
        ("name", TEXT), ("tool_call_id", TEXT), ("arguments", TEXT, True), ("result", TEXT, True), ("error", TEXT),
        ("started_at", TIME), ("ended_at", TIME), ("duration_ms", REAL), ("breaker", TEXT), ("guard_events", JSON, True),
    ),
    # one column per stored segment field, in the order conventions.SEGMENT_FIELDS declares them
    "segment_states": _cols(("run_id", TEXT), ("step", INT)) + tuple(
        Column(f.store_column, _SEGMENT_TYPES[f.kind], f.name in _LONG_SEGMENT_TEXT)
        for f in C.SEGMENT_FIELDS if f.store_column
    ),
    "segment_forms": _cols(("run_id", TEXT), ("step", INT), ("handle", TEXT), ("form", TEXT), ("hash", TEXT)),
    "messages": _cols(("hash", TEXT), ("role", TEXT), ("json", TEXT, True)),
    "blobs": _cols(("hash", TEXT), ("kind", TEXT), ("body", TEXT, True)),
    "decisions": _cols(("run_id", TEXT), ("step", INT), ("handle", TEXT), ("action", TEXT), ("reason", TEXT, True)),
    # spans the writer could not store: quarantined one by one (span_id set), or counted (spans > 1)
    "write_errors": _cols(
        ("logged_at", TIME), ("pid", INT), ("run_id", TEXT), ("step", INT), ("span_id", TEXT), ("span_name", TEXT),
        ("spans", INT), ("error", TEXT), ("detail", TEXT, True),
    ),
}
CONTENT_TABLES = ("messages", "blobs")  # content-addressed: inserted only when the hash is new


def segment_columns(table: str, step: str) -> str:
    """The manifest's columns as the readers show them (`index`, `age` computed at `step`)."""
    out = []
    for f in C.SEGMENT_FIELDS:
        if f.name == "age":
            out.append(f"{step} - {table}.last_used AS age")
        elif f.store_column != f.name:
            out.append(f'{table}.{f.store_column} AS "{f.name}"')
        else:
            out.append(f"{table}.{f.name}")
    return ", ".join(out)


VIEWS = {
    # contextkit's own spans live whole in their tables; span_log holds everyone else's
    "raw_spans": """
SELECT trace_id, span_id, parent_span_id, run_id, step, name, span_kind, operation, start_time, end_time,
       duration_ms, status_code, status_message, service_name, attributes, events FROM span_log
UNION ALL
SELECT trace_id, span_id, parent_span_id, run_id, NULL, 'invoke_agent ' || coalesce(name, ''), 'AGENT', 'invoke_agent',
       started_at, ended_at, date_diff('microsecond', started_at, ended_at) / 1000.0,
       CASE WHEN status = 'error' THEN 'ERROR' ELSE 'UNSET' END, NULL, service_name, NULL, NULL FROM agent_runs
UNION ALL
SELECT trace_id, span_id, parent_span_id, run_id, step, 'context_prune', 'CHAIN', 'context_prune', started_at, ended_at,
       date_diff('microsecond', started_at, ended_at) / 1000.0, CASE WHEN error IS NULL THEN 'UNSET' ELSE 'ERROR' END,
       error, NULL, NULL, NULL FROM contexts
UNION ALL
SELECT trace_id, span_id, parent_span_id, run_id, step,
       CASE WHEN span_kind = 'LLM' THEN 'chat ' ELSE 'contextkit_step ' END || coalesce(model, ''), span_kind,
       CASE WHEN span_kind = 'LLM' THEN 'chat' ELSE 'contextkit_step' END, started_at, ended_at,
       date_diff('microsecond', started_at, ended_at) / 1000.0, CASE WHEN error IS NULL THEN 'UNSET' ELSE 'ERROR' END,
       error, NULL, NULL, guard_events FROM llm_calls
UNION ALL
SELECT trace_id, span_id, parent_span_id, run_id, step, 'execute_tool ' || coalesce(name, ''), 'TOOL', 'execute_tool',
       started_at, ended_at, duration_ms, CASE WHEN error IS NULL THEN 'UNSET' ELSE 'ERROR' END, error, NULL, NULL,
       guard_events
FROM tool_spans
""",
    "tool_calls": "SELECT * FROM tool_spans",
    "steps": """
SELECT
  coalesce(c.run_id, l.run_id) AS run_id, coalesce(c.step, l.step) AS step, coalesce(l.trace_id, c.trace_id) AS trace_id,
  coalesce(l.started_at, c.started_at) AS started_at, coalesce(l.ended_at, c.ended_at) AS ended_at,
  coalesce(c.n_messages, l.n_messages) AS n_messages, c.n_segments,
  coalesce(c.tokens_before, l.tokens_before) AS tokens_before, coalesce(c.tokens_after, l.tokens_after) AS tokens_after,
  c.pruned, c.fallback, c.error AS context_error, c.prepare_ms, c.notes, coalesce(l.kind, 'chat') AS kind,
  l.model, l.response_model, l.provider, l.stream, l.latency_ms, l.input_tokens, l.output_tokens, l.reasoning_tokens,
  l.cache_read_tokens, l.cache_write_tokens, l.usage_estimated, l.cost_usd, l.input_cost_usd, l.output_cost_usd,
  l.saved_usd, l.cost_note, l.finish_reason, l.error, l.output_hash, m.json AS output_json, l.tools_hash,
  l.guard_events, l.invocation_params, l.span_id AS llm_span_id, c.span_id AS context_span_id
FROM contexts c
FULL OUTER JOIN llm_calls l ON l.run_id = c.run_id AND l.step = c.step
LEFT JOIN messages m ON m.hash = l.output_hash
""",
    "runs": """
WITH s AS (
  SELECT run_id, any_value(trace_id) AS trace_id, min(started_at) AS first_at, max(ended_at) AS last_at,
         count(DISTINCT step) AS steps, sum(tokens_before) AS tokens_before, sum(tokens_after) AS tokens_after,
         sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cost_usd) AS cost_usd,
         sum(saved_usd) AS saved_usd, count(error) AS errors
  FROM steps GROUP BY run_id),
p AS (SELECT run_id, any_value(policy) AS policy FROM contexts GROUP BY run_id),
t AS (SELECT run_id, count(*) AS tool_calls FROM tool_spans GROUP BY run_id),
a AS (SELECT * FROM agent_runs QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY ended_at DESC) = 1),
w AS (SELECT run_id, sum(spans)::BIGINT AS unwritten FROM write_errors WHERE run_id IS NOT NULL GROUP BY run_id)
SELECT
  coalesce(a.run_id, s.run_id) AS run_id, coalesce(a.trace_id, s.trace_id) AS trace_id, a.name, a.service_name,
  coalesce(a.policy, p.policy) AS policy, a.model, a.user_id, a.tags, a.metadata,
  coalesce(a.started_at, s.first_at) AS started_at, a.ended_at,
  CASE WHEN a.run_id IS NULL THEN 'open' ELSE a.status END AS status,
  coalesce(s.steps, 0) AS steps, coalesce(t.tool_calls, 0) AS tool_calls,
  s.tokens_before, s.tokens_after, s.tokens_before - s.tokens_after AS tokens_saved,
  s.input_tokens, s.output_tokens, s.cost_usd, s.saved_usd, coalesce(s.errors, 0) AS errors,
  coalesce(w.unwritten, 0) AS unwritten
FROM a FULL OUTER JOIN s ON s.run_id = a.run_id
LEFT JOIN p ON p.run_id = coalesce(a.run_id, s.run_id)
LEFT JOIN t ON t.run_id = coalesce(a.run_id, s.run_id)
LEFT JOIN w ON w.run_id = coalesce(a.run_id, s.run_id)
""",
    "step_segments": f"""
WITH st AS (
  SELECT *, lead(step) OVER (PARTITION BY run_id, handle ORDER BY step) AS valid_to FROM segment_states)
SELECT c.run_id, c.step, {segment_columns("st", "c.step")}
FROM contexts c
JOIN st ON st.run_id = c.run_id AND st.step <= c.step AND (st.valid_to IS NULL OR c.step < st.valid_to)
WHERE st.idx >= 0
""",
    "step_messages": """
WITH o AS (SELECT run_id, handle, any_value(hash) AS hash FROM segment_forms WHERE form = 'original' GROUP BY run_id, handle),
e AS (SELECT run_id, handle, step, hash,
             lead(step) OVER (PARTITION BY run_id, handle ORDER BY step) AS valid_to
      FROM segment_forms WHERE form = 'edited')
SELECT s.run_id, s.step, s."index", s.handle, s.role, s.kind, s.state, s.reason, s.rule, s.edited, s.flags,
       CASE WHEN s.edited THEN e.hash ELSE o.hash END AS sent_hash, o.hash AS original_hash,
       CASE WHEN s.edited THEN me.json ELSE mo.json END AS sent_json, mo.json AS original_json
FROM step_segments s
LEFT JOIN o ON o.run_id = s.run_id AND o.handle = s.handle
LEFT JOIN e ON e.run_id = s.run_id AND e.handle = s.handle AND e.step <= s.step AND (e.valid_to IS NULL OR s.step < e.valid_to)
LEFT JOIN messages mo ON mo.hash = o.hash
LEFT JOIN messages me ON me.hash = e.hash
""",
}


def create_views(con) -> None:
    """(Re)create every view from its current definition (views hold no data)."""
    for name, sql in VIEWS.items():
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")


def ddl() -> list[str]:
    """Statements that create the newest schema in an empty file, without migrations (tests that
    fabricate stores use it; writers and readers go through migrations.migrate)."""
    out = ["CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, applied_at TIMESTAMP)"]
    for name, cols in TABLES.items():
        out.append(f"CREATE TABLE IF NOT EXISTS {name} (" + ", ".join(column_ddl(c) for c in cols) + ")")
    out += [f"CREATE OR REPLACE VIEW {name} AS {sql}" for name, sql in VIEWS.items()]
    return out


def column_ddl(c: Column) -> str:
    return f'"{c.name}" {c.sql_type}' + (" USING COMPRESSION zstd" if c.zstd else "")
