"""What is wrong with a path given as a trace store, said before DuckDB is asked to open it.

DuckDB answers a missing permission, a directory, an empty file and a file of another kind with
the same error class as a lock held by a writer (which readers retry for seconds), and names a
permission problem as a failure to open. Looking at the file first gives each mistake its own
answer at once; `open_error` words what DuckDB says about a file that passed (truncated, corrupt).
"""

from __future__ import annotations

import errno
import os

MAGIC = b"DUCK"  # bytes 8-12 of every DuckDB database file


def problem(path: str | os.PathLike) -> str | None:
    """Why `path` cannot be a readable trace store, in a few words; None if it may be one."""
    p = os.fspath(path)
    if not os.path.lexists(p):
        return "no such file"
    if os.path.isdir(p):
        return "is a directory, not a trace store file"
    try:
        with open(p, "rb") as f:
            head = f.read(12)
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EPERM):
            return "permission denied: this user cannot read the file"
        return f"cannot be read ({e.strerror or e})"
    if not head:
        return "an empty file (0 bytes), not a trace store"
    if head[8:12] != MAGIC:
        return "not a DuckDB file (a trace store is the .duckdb file contextkit's tracing writes, see CONTEXTKIT_TRACE_DB)"
    return None


def open_error(e: BaseException) -> str | None:
    """DuckDB's complaint about the file itself (truncated, corrupt, unreadable) in one line; None for
    a lock held by a writer and for any other error (a query's own mistake is a bug, not the user's)."""
    import duckdb

    from .store import is_lock_conflict

    lock = isinstance(e, duckdb.IOException) and is_lock_conflict(e)
    if (isinstance(e, duckdb.IOException) and not lock) or type(e) is duckdb.Error:  # plain Error: "Corrupt database file"
        return "DuckDB cannot read it (truncated or damaged?): " + " ".join(str(e).split())
    return None
