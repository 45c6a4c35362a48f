"""A user's mistake on the command line gets one line naming the path and the problem, exit 2,
never a traceback; contextkit's own bugs keep their traceback and say they are bugs. Every case
runs the installed `contextkit` command in a real subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from contextkit import Session, tracing
from contextkit.tracing.store import TraceStore

import pytest
from helpers import conversation, missing_external, trajectory_files

CONTEXTKIT = str(Path(sys.executable).with_name("contextkit"))
# Root reads any file whatever its mode; without these two capabilities the kernel checks the bits.
NO_DAC = ["setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search", "--"]


def ck(*args: str, cwd: Path | None = None, unprivileged: bool = False) -> subprocess.CompletedProcess:
    prefix: list[str] = []
    if unprivileged and os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            missing_external("setpriv (util-linux)", "apt-get install util-linux; it drops root's file-permission override")
        prefix = NO_DAC
    env = dict(os.environ, CONTEXTKIT_TRACING="off")
    return subprocess.run([*prefix, CONTEXTKIT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def one_line_error(done: subprocess.CompletedProcess, command: str, *words: str) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"contextkit {command}: error: "), lines[0]
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """Trace stores as a user may hand them over: a real one, and what goes wrong with files."""
    d = tmp_path_factory.mktemp("stores")
    real = d / "real.duckdb"
    tracing.configure(db_path=str(real))
    try:
        s = Session(name="real", model="gpt-4o-mini")
        msgs = conversation(n_tools=3)
        for i in range(2, len(msgs) + 1, 2):
            s.completion(messages=msgs[:i], mock_response=f"step {i}")
        s.close()
        assert tracing.flush(10)
    finally:
        tracing.shutdown()
    data = real.read_bytes()
    (d / "garbage.duckdb").write_bytes(b"this is not a database, just some bytes a user renamed\n" * 20)
    (d / "zero.duckdb").write_bytes(b"")
    (d / "truncated.duckdb").write_bytes(data[: len(data) // 3])
    import duckdb

    duckdb.connect(str(d / "no_tables.duckdb")).close()  # a valid DuckDB file nothing was written to
    locked = d / "locked.duckdb"
    locked.write_bytes(data)
    locked.chmod(0)
    (d / "a_dir.duckdb").mkdir()
    return d


# ---------------------------------------------------------------------------- contextkit eval


@pytest.mark.parametrize(
    "name, words",
    [
        ("garbage.duckdb", ["not a DuckDB file"]),
        ("zero.duckdb", ["an empty file (0 bytes)"]),
        ("no_tables.duckdb", ["an empty trace store"]),
        ("truncated.duckdb", ["truncated or damaged", "Could not read enough bytes"]),
        ("missing.duckdb", ["no such file"]),
    ],
)
def test_eval_on_a_store_that_cannot_be_read(stores, name, words):
    one_line_error(ck("eval", str(stores / name), "-p", "raw"), "eval", str(stores / name), *words)


def test_a_damaged_store_whose_path_says_lock_is_answered_at_once(stores, tmp_path):
    """DuckDB quotes the path in its message: 'lock' in a folder name is no lock held by a writer."""
    (tmp_path / "blocks").mkdir()
    path = tmp_path / "blocks" / "clock.duckdb"
    shutil.copy(stores / "truncated.duckdb", path)
    t0 = time.monotonic()
    one_line_error(ck("eval", str(path), "-p", "raw"), "eval", str(path), "truncated or damaged")
    assert time.monotonic() - t0 < 8  # the reader's lock wait is 10 s


def test_eval_on_an_unreadable_store_says_permission_denied(stores):
    path = stores / "locked.duckdb"
    line = one_line_error(ck("eval", str(path), "-p", "raw", unprivileged=True), "eval", str(path), "permission denied")
    assert "DuckDB" not in line


def test_eval_reads_the_real_store_the_broken_ones_came_from(stores):
    done = ck("eval", str(stores / "real.duckdb"), "-p", "raw", "--json")
    assert done.returncode == 0, done.stderr
    assert '"trajectories": 1' in done.stdout


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("preset_list.yaml", "preset: [default]\n", ["policy.preset: must be a preset name"]),
        ("bool_key.yaml", "yes: 1\n", ["a key must be a string, got True"]),
        ("nan.toml", "min_cache_gain = nan\n", ["policy.min_cache_gain: must be a finite number"]),
        ("empty.yaml", "", ["holds no policy settings"]),
    ],
)
def test_eval_with_a_malformed_policy_file(tmp_path, name, content, words):
    policy = tmp_path / name
    policy.write_text(content)
    done = ck("eval", str(trajectory_files()[0]), "-p", "raw", "-p", str(policy))
    one_line_error(done, "eval", str(policy), *words)


@pytest.mark.parametrize(
    "content, words",
    [
        ('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": 5}]}', ["messages[1]", "content"]),
        ('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": "x"}]}', ["messages[1]", "tool_calls"]),
        ('{"messages": [], "meta": [1]}', ["'meta' must be an object"]),
        ('{"messages": [', ["not valid JSON"]),
        ("[]", ["no run to replay"]),
    ],
)
def test_eval_on_a_malformed_trajectory(tmp_path, content, words):
    f = tmp_path / "run.json"
    f.write_text(content)
    one_line_error(ck("eval", str(f), "-p", "raw"), "eval", str(f), *words)


def test_eval_on_paths_that_hold_no_runs(tmp_path):
    one_line_error(ck("eval", str(tmp_path / "nope"), "-p", "raw"), "eval", "nope: no such file")
    one_line_error(ck("eval", str(tmp_path), "-p", "raw"), "eval", str(tmp_path), "no trajectory files")
    (tmp_path / "x.txt").write_text("hi")
    one_line_error(ck("eval", str(tmp_path / "x.txt")), "eval", "unknown kind of file")


def test_eval_help_shows_examples_and_where_the_format_is():
    done = ck("eval", "--help")
    assert done.returncode == 0
    assert "examples:" in done.stdout and "contextkit eval .contextkit/traces.duckdb" in done.stdout
    assert "contextkit docs trajectory-format" in done.stdout


# ---------------------------------------------------------------------------- contextkit view


@pytest.mark.parametrize(
    "name, words",
    [
        ("garbage.duckdb", ["not a DuckDB file"]),
        ("zero.duckdb", ["an empty file (0 bytes)"]),
        ("truncated.duckdb", ["truncated or damaged"]),
        ("missing.duckdb", ["no such file"]),
        ("a_dir.duckdb", ["is a directory"]),
    ],
)
def test_view_refuses_what_it_could_never_show(stores, name, words):
    one_line_error(ck("view", str(stores / name)), "view", str(stores / name), *words)


def test_view_calls_an_unreadable_store_unreadable_not_a_non_duckdb_file(stores):
    path = stores / "locked.duckdb"
    line = one_line_error(ck("view", str(path), unprivileged=True), "view", str(path), "permission denied")
    assert "not a DuckDB file" not in line


# ---------------------------------------------------------------------------- bugs stay visible


def test_an_internal_error_keeps_its_traceback_and_says_it_is_a_bug():
    code = "import sys; from contextkit.cli import run_command; sys.exit(run_command('eval', lambda: {}['missing']))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "KeyError: 'missing'" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("contextkit eval: internal error: this is a bug in contextkit")


def test_interrupted_and_broken_pipe_are_not_bugs(capsys):
    from contextkit.cli import run_command

    def interrupted():
        raise KeyboardInterrupt

    assert run_command("eval", interrupted) == 130
    assert capsys.readouterr().err.strip() == "contextkit eval: interrupted"


def test_a_reader_that_leaves_early_is_not_a_bug():
    """`contextkit eval ... | head`: the pipe closes before the output is written."""
    proc = subprocess.Popen([CONTEXTKIT, "eval", str(trajectory_files()[0]), "-p", "raw", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, CONTEXTKIT_TRACING="off"))
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and err.decode() == "", err.decode()


def test_the_store_reader_still_reads_the_real_store(stores):
    assert [r["name"] for r in TraceStore(stores / "real.duckdb").runs()] == ["real"]
