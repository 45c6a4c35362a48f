"""The trace store's tables and views (docs/trace-store.md is the contract; keep them in step).

Tables are append-only (several processes share a file, one write transaction at a time); views
rebuild per-step pictures from change rows with interval joins.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

# table -> [(column, duckdb type, arrow type name)]; the exporter builds Arrow tables in this order.
TABLES: dict[str, list[tuple[str, str, str]]] = {
    "span_log": [
        ("trace_id", "VARCHAR", "string"), ("span_id", "VARCHAR", "string"), ("parent_span_id", "VARCHAR", "string"),
        ("run_id", "VARCHAR", "string"), ("step", "INTEGER", "int32"), ("name", "VARCHAR", "string"),
        ("span_kind", "VARCHAR", "string"), ("operation", "VARCHAR", "string"),
        ("start_time", "TIMESTAMP", "ts"), ("end_time", "TIMESTAMP", "ts"), ("duration_ms", "DOUBLE", "float64"),
        ("status_code", "VARCHAR", "string"), ("status_message", "VARCHAR", "string"),
        ("service_name", "VARCHAR", "string"), ("attributes", "JSON", "string"), ("events", "JSON", "string"),
    ],
    "agent_runs": [
        ("run_id", "VARCHAR", "string"), ("trace_id", "VARCHAR", "string"), ("span_id", "VARCHAR", "string"),
        ("name", "VARCHAR", "string"), ("service_name", "VARCHAR", "string"), ("policy", "VARCHAR", "string"),
        ("model", "VARCHAR", "string"), ("user_id", "VARCHAR", "string"), ("tags", "JSON", "string"),
        ("metadata", "JSON", "string"), ("started_at", "TIMESTAMP", "ts"), ("ended_at", "TIMESTAMP", "ts"),
        ("status", "VARCHAR", "string"), ("ended_by", "VARCHAR", "string"), ("steps", "INTEGER", "int32"),
        ("tool_calls", "INTEGER", "int32"), ("input_tokens", "BIGINT", "int64"), ("output_tokens", "BIGINT", "int64"),
        ("cost_usd", "DOUBLE", "float64"), ("saved_usd", "DOUBLE", "float64"), ("parent_span_id", "VARCHAR", "string"),
    ],
    "contexts": [
        ("run_id", "VARCHAR", "string"), ("step", "INTEGER", "int32"), ("trace_id", "VARCHAR", "string"),
        ("span_id", "VARCHAR", "string"), ("started_at", "TIMESTAMP", "ts"), ("ended_at", "TIMESTAMP", "ts"),
        ("n_messages", "INTEGER", "int32"), ("n_segments", "INTEGER", "int32"),
        ("tokens_before", "BIGINT", "int64"), ("tokens_after", "BIGINT", "int64"), ("pruned", "INTEGER", "int32"),
        ("fallback", "VARCHAR", "string"), ("error", "VARCHAR", "string"), ("prepare_ms", "DOUBLE", "float64"),
        ("policy", "VARCHAR", "string"), ("parent_span_id", "VARCHAR", "string"),
    ],
    "llm_calls": [
        ("run_id", "VARCHAR", "string"), ("step", "INTEGER", "int32"), ("trace_id", "VARCHAR", "string"),
        ("span_id", "VARCHAR", "string"), ("parent_span_id", "VARCHAR", "string"), ("span_kind", "VARCHAR", "string"),
        ("started_at", "TIMESTAMP", "ts"), ("ended_at", "TIMESTAMP", "ts"), ("latency_ms", "DOUBLE", "float64"),
        ("model", "VARCHAR", "string"), ("response_model", "VARCHAR", "string"), ("provider", "VARCHAR", "string"),
        ("stream", "BOOLEAN", "bool"), ("n_messages", "INTEGER", "int32"),
        ("tokens_before", "BIGINT", "int64"), ("tokens_after", "BIGINT", "int64"),
        ("input_tokens", "BIGINT", "int64"), ("output_tokens", "BIGINT", "int64"), ("reasoning_tokens", "BIGINT", "int64"),
        ("cache_read_tokens", "BIGINT", "int64"), ("cache_write_tokens", "BIGINT", "int64"),
        ("usage_estimated", "BOOLEAN", "bool"), ("cost_usd", "DOUBLE", "float64"), ("input_cost_usd", "DOUBLE", "float64"),
        ("output_cost_usd", "DOUBLE", "float64"), ("saved_usd", "DOUBLE", "float64"), ("cost_note", "VARCHAR", "string"),
        ("finish_reason", "VARCHAR", "string"), ("error", "VARCHAR", "string"), ("output_hash", "VARCHAR", "string"),
        ("tools_hash", "VARCHAR", "string"), ("invocation_params", "JSON", "string"), ("guard_events", "JSON", "string"),
    ],
    "tool_spans": [
        ("run_id", "VARCHAR", "string"), ("step", "INTEGER", "int32"), ("trace_id", "VARCHAR", "string"),
        ("span_id", "VARCHAR", "string"), ("parent_span_id", "VARCHAR", "string"), ("name", "VARCHAR", "string"),
        ("tool_call_id", "VARCHAR", "string"), ("arguments", "VARCHAR", "string"), ("result", "VARCHAR", "string"),
        ("error", "VARCHAR", "string"), ("started_at", "TIMESTAMP", "ts"), ("ended_at", "TIMESTAMP", "ts"),
        ("duration_ms", "DOUBLE", "float64"),
    ],
    "segment_states": [
        ("run_id", "VARCHAR", "string"), ("step", "INTEGER", "int32"), ("handle", "VARCHAR", "string"),
        ("idx", "INTEGER", "int32"), ("role", "VARCHAR", "string"), ("kind", "VARCHAR", "string"),
        ("tool_name", "VARCHAR", "string"), ("tool_call_id", "VARCHAR", "string"), ("tokens", "INTEGER", "int32"),
        ("sent_tokens", "INTEGER", "int32"), ("reasoning_tokens", "INTEGER", "int32"), ("first_seen", "INTEGER", "int32"),
        ("last_used", "INTEGER", "int32"), ("used_count", "INTEGER", "int32"), ("state", "VARCHAR", "string"),
        ("reason", "VARCHAR", "string"), ("superseded_by", "VARCHAR", "string"), ("pruned_at", "INTEGER", "int32"),
        ("edited", "BOOLEAN", "bool"),
    ],
    "segment_forms": [
        ("run_id", "VARCHAR", "string"), ("step", "INTEGER", "int32"), ("handle", "VARCHAR", "string"),
        ("form", "VARCHAR", "string"), ("hash", "VARCHAR", "string"),
    ],
    "messages": [("hash", "VARCHAR", "string"), ("role", "VARCHAR", "string"), ("json", "VARCHAR", "string")],
    "blobs": [("hash", "VARCHAR", "string"), ("kind", "VARCHAR", "string"), ("body", "VARCHAR", "string")],
    "decisions": [
        ("run_id", "VARCHAR", "string"), ("step", "INTEGER", "int32"), ("handle", "VARCHAR", "string"),
        ("action", "VARCHAR", "string"), ("reason", "VARCHAR", "string"),
    ],
}
CONTENT_TABLES = ("messages", "blobs")  # content-addressed: inserted only when the hash is new
# Long texts: DuckDB's automatic choice leaves them uncompressed; zstd makes the store ~6x smaller.
ZSTD_COLUMNS = {
    ("span_log", "attributes"), ("span_log", "events"), ("messages", "json"), ("blobs", "body"),
    ("tool_spans", "arguments"), ("tool_spans", "result"), ("llm_calls", "invocation_params"),
    ("llm_calls", "guard_events"), ("agent_runs", "metadata"), ("segment_states", "reason"), ("decisions", "reason"),
}

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
       started_at, ended_at, duration_ms, CASE WHEN error IS NULL THEN 'UNSET' ELSE 'ERROR' END, error, NULL, NULL, NULL
FROM tool_spans
""",
    "tool_calls": "SELECT * FROM tool_spans",
    "steps": """
SELECT
  coalesce(c.run_id, l.run_id) AS run_id, coalesce(c.step, l.step) AS step, coalesce(l.trace_id, c.trace_id) AS trace_id,
  coalesce(l.started_at, c.started_at) AS started_at, coalesce(l.ended_at, c.ended_at) AS ended_at,
  coalesce(c.n_messages, l.n_messages) AS n_messages, c.n_segments,
  coalesce(c.tokens_before, l.tokens_before) AS tokens_before, coalesce(c.tokens_after, l.tokens_after) AS tokens_after,
  c.pruned, c.fallback, c.error AS context_error, c.prepare_ms,
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
a AS (SELECT * FROM agent_runs QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY ended_at DESC) = 1)
SELECT
  coalesce(a.run_id, s.run_id) AS run_id, coalesce(a.trace_id, s.trace_id) AS trace_id, a.name, a.service_name,
  coalesce(a.policy, p.policy) AS policy, a.model, a.user_id, a.tags, a.metadata,
  coalesce(a.started_at, s.first_at) AS started_at, a.ended_at,
  CASE WHEN a.run_id IS NULL THEN 'open' ELSE a.status END AS status,
  coalesce(s.steps, 0) AS steps, coalesce(t.tool_calls, 0) AS tool_calls,
  s.tokens_before, s.tokens_after, s.tokens_before - s.tokens_after AS tokens_saved,
  s.input_tokens, s.output_tokens, s.cost_usd, s.saved_usd, coalesce(s.errors, 0) AS errors
FROM a FULL OUTER JOIN s ON s.run_id = a.run_id
LEFT JOIN p ON p.run_id = coalesce(a.run_id, s.run_id)
LEFT JOIN t ON t.run_id = coalesce(a.run_id, s.run_id)
""",
    "step_segments": """
WITH st AS (
  SELECT *, lead(step) OVER (PARTITION BY run_id, handle ORDER BY step) AS valid_to FROM segment_states)
SELECT c.run_id, c.step, st.idx AS "index", st.handle, st.role, st.kind, st.tool_name, st.tool_call_id,
       st.tokens, st.sent_tokens, st.reasoning_tokens, st.first_seen, st.last_used, c.step - st.last_used AS age,
       st.used_count, st.state, st.reason, st.superseded_by, st.pruned_at, st.edited
FROM contexts c
JOIN st ON st.run_id = c.run_id AND st.step <= c.step AND (st.valid_to IS NULL OR c.step < st.valid_to)
WHERE st.idx >= 0
""",
    "step_messages": """
WITH o AS (SELECT run_id, handle, any_value(hash) AS hash FROM segment_forms WHERE form = 'original' GROUP BY run_id, handle),
e AS (SELECT run_id, handle, step, hash,
             lead(step) OVER (PARTITION BY run_id, handle ORDER BY step) AS valid_to
      FROM segment_forms WHERE form = 'edited')
SELECT s.run_id, s.step, s."index", s.handle, s.role, s.kind, s.state, s.reason, s.edited,
       CASE WHEN s.edited THEN e.hash ELSE o.hash END AS sent_hash, o.hash AS original_hash,
       CASE WHEN s.edited THEN me.json ELSE mo.json END AS sent_json, mo.json AS original_json
FROM step_segments s
LEFT JOIN o ON o.run_id = s.run_id AND o.handle = s.handle
LEFT JOIN e ON e.run_id = s.run_id AND e.handle = s.handle AND e.step <= s.step AND (e.valid_to IS NULL OR s.step < e.valid_to)
LEFT JOIN messages mo ON mo.hash = o.hash
LEFT JOIN messages me ON me.hash = e.hash
""",
}


def ddl() -> list[str]:
    """Statements that create the schema (idempotent)."""
    out = ["CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, applied_at TIMESTAMP)"]
    for name, cols in TABLES.items():
        out.append(
            f"CREATE TABLE IF NOT EXISTS {name} ("
            + ", ".join(f'"{c}" {t}' + (" USING COMPRESSION zstd" if (name, c) in ZSTD_COLUMNS else "") for c, t, _ in cols)
            + ")"
        )
    for name, sql in VIEWS.items():
        out.append(f"CREATE OR REPLACE VIEW {name} AS {sql}")
    return out
