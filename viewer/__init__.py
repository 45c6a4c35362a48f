"""contextkit's trace viewer: a Streamlit app over a trace store (docs/trace-store.md).

    contextkit view [STORE] [--port P]

It only reads the store, through `contextkit.tracing.store.TraceStore` (read-only, connect-query-close, so
agents writing to the same file are never blocked), and replays runs offline through
`contextkit.evaluation` for the what-if page. Pages: runs, replay, compare, what-if.
"""
