"""`contextkit view [STORE] [--port P]`: start the viewer (Streamlit) on 127.0.0.1.

The process becomes `streamlit run viewer/server.py` (exec), so stopping `contextkit view` stops
the server. Streamlit runs headless with usage statistics off, and the pages fetch nothing from
outside: nothing leaves the machine. Requests whose Host header is not the address served (or
`--allow-host`) are refused (viewer/server.py), against DNS rebinding.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import webbrowser
from pathlib import Path

from contextkit import settings

APP = Path(__file__).resolve().parent / "server.py"
LOOPBACK = ("127.0.0.1", "localhost")
THEME = {
    "theme.base": "light",
    "theme.primaryColor": "#4f46e5",
    "theme.backgroundColor": "#ffffff",
    "theme.secondaryBackgroundColor": "#f5f7fb",
    "theme.textColor": "#111827",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", nargs="?", default=None,
                        help="trace store file (default: CONTEXTKIT_TRACE_DB, else ./.contextkit/traces.duckdb)")
    parser.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--address", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1; anything else exposes your traces to that network)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="another Host header to accept (a reverse proxy's name); repeatable")
    parser.add_argument("--open", action="store_true", help="open the viewer in your web browser")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def store_path(given: str | None) -> str:
    """The store to show: the argument, else tracing's default ('' when CONTEXTKIT_TRACE_DB=off)."""
    if given:
        return os.path.abspath(os.path.expanduser(given))
    from contextkit.tracing.store import TraceStore

    try:
        return TraceStore().path
    except FileNotFoundError:
        return ""


def store_error(path: str, given: bool) -> str | None:
    """Why the viewer cannot show `path`, for a mistake waiting will not fix; None to start. The
    default store may not exist yet (the page says how to make one); a path the user typed must."""
    from contextkit.tracing import store_file
    from contextkit.tracing.store import StoreBusyError, TraceStore

    if not path or (not given and not os.path.lexists(path)):
        return None
    why = store_file.problem(path)
    if why == "no such file":
        return f"{why} (a trace store is written by an agent with tracing on: try `contextkit demo`)"
    if why is not None:
        return why
    try:
        _ = TraceStore(path, timeout=2.0).schema_version  # opening it is the check
    except StoreBusyError:  # agents are writing: the page reads it between their batches
        return None
    except Exception as e:  # noqa: BLE001 - DuckDB's word on a damaged file; anything else is the page's to show
        return store_file.open_error(e)
    return None


def allowed_hosts(address: str, extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The Host names the viewer answers: the address it binds (and localhost when that is loopback)."""
    hosts = [address, *(("localhost",) if address in LOOPBACK else ()), *extra]
    return list(dict.fromkeys(h.strip().lower() for h in hosts if h and h.strip()))


def command(port: int, address: str = "127.0.0.1") -> list[str]:
    """`python -m streamlit run viewer/server.py` bound to address:port, headless, no telemetry."""
    flags = {
        "server.address": address,
        "server.port": str(port),
        "server.headless": "true",
        "server.fileWatcherType": "none",
        "server.runOnSave": "false",
        "browser.gatherUsageStats": "false",
        "browser.serverAddress": address,
        "client.toolbarMode": "viewer",
        "client.showErrorDetails": "type",
        **THEME,
    }
    return [sys.executable, "-m", "streamlit", "run", str(APP), *(f"--{k}={v}" for k, v in flags.items())]


def run(args: argparse.Namespace) -> int:
    if args.port is not None and not 0 < args.port < 65536:
        print(f"contextkit view: --port must be between 1 and 65535, got {args.port}", file=sys.stderr)
        return 2
    path = store_path(args.store)
    why = store_error(path, given=bool(args.store))
    if why:
        print(f"contextkit view: error: {path}: {why}", file=sys.stderr)
        return 2
    port = args.port or free_port()
    address = args.address or "127.0.0.1"
    url = f"http://{address}:{port}"
    if path and not os.path.exists(path):
        print(f"contextkit view: no trace store at {path} yet (the page says how to make one)", file=sys.stderr)
    print(f"contextkit viewer: {url}  (store: {path or 'off'})", flush=True)
    env = settings.environment(CONTEXTKIT_VIEW_STORE=path or "",
                               CONTEXTKIT_VIEW_HOSTS=",".join(allowed_hosts(address, args.allow_host)))
    cmd = command(port, address)
    if args.open:
        webbrowser.open(url)
    if os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(cmd[0], cmd, env)  # the server replaces this process: signals reach it directly
    return subprocess.call(cmd, env=env)
