"""Settings in one place: every environment variable contextkit reads goes through its declaration
in contextkit/settings.py, and docs/settings.md is those declarations."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from contextkit import settings
from contextkit.proxy.settings import Settings as GatewaySettings
from contextkit.tracing.config import TracingConfig, TracingConfigError

import pytest
from helpers import REPO

SOURCES = ("contextkit", "tracing", "viewer")
ENV_ACCESS = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def _package_files() -> list[Path]:
    files = [f for root in SOURCES for f in (REPO / root).rglob("*.py")]
    project = REPO / "contextkit" / "_demo" / "project"  # the demo's invoicer project: data, not contextkit
    return [f for f in files if project not in f.parents]


def _env_lines(source: str) -> list[int]:
    """Lines that use os.environ / os.getenv (and friends), however os or they were imported."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ENV_ACCESS:
            found.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and {a.name for a in node.names} & ENV_ACCESS:
            found.append(node.lineno)
    return sorted(found)


def test_nothing_outside_the_settings_module_reads_the_environment():
    files = _package_files()
    module = REPO / "contextkit" / "settings.py"
    assert len(files) > 80 and module in files
    readers = {f: _env_lines(f.read_text(encoding="utf-8")) for f in files}
    assert readers[module], "the check finds nothing even where the reads are"
    stray = [f"{f.relative_to(REPO)}:{n}" for f, lines in readers.items() if f != module for n in lines]
    assert stray == [], "read the environment through contextkit/settings.py:\n" + "\n".join(stray)


def test_the_check_sees_every_way_of_reading_the_environment():
    sample = ("import os\nfrom os import getenv\nimport os as o\n"
              "a = os.environ.get('X')\nb = o.getenv('Y')\nc = dict(os.environ)\nd = os.path.join('a')\n")
    assert _env_lines(sample) == [2, 4, 5, 6]


def test_the_settings_module_imports_nothing_of_contextkit():
    tree = ast.parse((REPO / "contextkit" / "settings.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "." for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) if n.level or n.module}
    assert imported and not [m for m in imported if m.startswith(("contextkit", ".")) or m in ("tracing", "viewer")]


def test_docs_settings_md_is_the_declarations():
    page = (REPO / "docs" / "settings.md").read_text()
    assert page == settings.rewrite(page), (
        "docs/settings.md is out of date: python -c \"from contextkit import settings; "
        "settings.write_docs('docs/settings.md')\"")
    for s in settings.all_settings():
        assert f"| `{s.name}` |" in page


def test_every_contextkit_variable_the_code_and_docs_name_is_declared():
    declared = {s.name for s in settings.all_settings()}
    texts = [f.read_text(encoding="utf-8") for f in _package_files()]
    texts += [f.read_text(encoding="utf-8") for f in [REPO / "README.md", *(REPO / "docs").glob("*.md")]]
    named = {m for t in texts for m in re.findall(r"\b(CONTEXTKIT_[A-Z][A-Z_]*[A-Z])\b", t)}
    notebooks_only = {"CONTEXTKIT_NB_SUBSET"}  # read by notebooks/, not by the package
    assert len(named) > 10 and named - notebooks_only <= declared, sorted(named - notebooks_only - declared)


def test_one_rule_for_reading_values(monkeypatch):
    flag, number, text = settings.MASK_SECRETS, settings.TRACE_FLUSH_MS, settings.LLM_SPANS
    for s in (flag, number, text):
        monkeypatch.delenv(s.name, raising=False)
    assert (flag.get(), number.get(), text.get()) == (True, 500, "auto")  # unset: the defaults
    for value, on in (("", False), ("off", False), (" No ", False), ("0", False), ("none", False),
                      ("1", True), ("on", True), ("yes", True)):
        monkeypatch.setenv(flag.name, value)
        assert flag.get() is on, value
    monkeypatch.setenv(number.name, " 250 ")
    monkeypatch.setenv(text.name, "  ")
    assert (number.get(), text.get()) == (250, "auto")  # blank is unset; whitespace is dropped
    monkeypatch.setenv(number.name, "fast")
    with pytest.raises(ValueError, match="CONTEXTKIT_TRACE_FLUSH_MS: must be an integer, got 'fast'"):
        number.get()


def test_the_readers_keep_their_errors_and_defaults(monkeypatch):
    monkeypatch.setenv("CONTEXTKIT_TRACE_FLUSH_MS", "fast")
    with pytest.raises(TracingConfigError, match="CONTEXTKIT_TRACE_FLUSH_MS"):
        TracingConfig.from_env()
    monkeypatch.setenv("CONTEXTKIT_TRACE_FLUSH_MS", "200")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "my-agent")
    monkeypatch.setenv("CONTEXTKIT_TRACE_DB", "off")
    cfg = TracingConfig.from_env()
    assert (cfg.flush_interval_ms, cfg.service_name, cfg.db_path) == (200, "my-agent", None)
    monkeypatch.setenv("CONTEXTKIT_PROXY_SESSIONS", "many")
    with pytest.raises(ValueError, match="CONTEXTKIT_PROXY_SESSIONS: must be an integer, got 'many'"):
        GatewaySettings.from_env()
    monkeypatch.setenv("CONTEXTKIT_PROXY_SESSIONS", "8")
    monkeypatch.setenv("CONTEXTKIT_FAIL_CLOSED", "1")
    gw = GatewaySettings.from_env()
    assert (gw.max_sessions, gw.fail_closed, gw.policy, gw.max_restores) == (8, True, "default", 3)
    defaults = GatewaySettings()
    assert (defaults.header, defaults.max_sessions) == (settings.PROXY_HEADER.default, settings.PROXY_SESSIONS.default)
