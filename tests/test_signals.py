"""Signals: what a tool call touched, errors, reused terms, and the supersession the ledger derives."""

from __future__ import annotations

import json

from contextkit import Policy, Session
from contextkit.signals import call_facts, is_error, ordered_terms, terms

import pytest


@pytest.mark.parametrize(
    "cmd, reads, full, writes",
    [
        ("cat pkg/a.py", {"pkg/a.py"}, {"pkg/a.py"}, set()),
        ("cat pkg/a.py | head -5", {"pkg/a.py"}, set(), set()),
        ("sed -n '10,20p' pkg/a.py", {"pkg/a.py"}, set(), set()),
        ("sed -i 's/x/y/' pkg/a.py", set(), set(), {"pkg/a.py"}),
        ("nl -ba x/y.py | sed -n '/def f/,/return/p'", {"x/y.py"}, set(), set()),
        ("grep -n foo pkg/a.py", {"pkg/a.py"}, set(), set()),
        ("cat > notes.txt << 'EOF'\nhello\nEOF", set(), set(), {"notes.txt"}),
        ("python - <<'EOF'\nopen('out.json', 'w').write('{}')\nEOF", set(), set(), {"out.json"}),
        ("cd repo && cp a.py b.py", set(), set(), {"b.py"}),
        ("# only a comment", set(), set(), set()),
        ("FOO=1 cat pkg/a.py # trailing comment", {"pkg/a.py"}, {"pkg/a.py"}, set()),
    ],
)
def test_shell_commands(cmd, reads, full, writes):
    f = call_facts("bash", {"command": cmd}, json.dumps({"command": cmd}))
    assert (f.reads, f.full_reads, f.writes) == (reads, full, writes)


def test_structured_tools_read_by_key():
    assert call_facts("read_file", {"path": "a.py"}, "").full_reads == {"a.py"}
    assert call_facts("read_file", {"path": "a.py", "start_line": 3}, "").full_reads == set()
    assert call_facts("write_file", {"path": "a.py", "content": "x"}, "").writes == {"a.py"}
    assert call_facts("str_replace_editor", {"command": "view", "path": "a.py"}, "").reads == {"a.py"}


@pytest.mark.parametrize(
    "text, err",
    [
        ("<returncode>1</returncode>\n<output>boom</output>", True),
        ("<returncode>0</returncode>\n<output>ok</output>", False),
        ("Traceback (most recent call last):\n  File x", True),
        ('{"error": {"code": 404}}', True),
        ('{"order_id": 12345, "status": "shipped"}', False),
        ("error: pathspec 'x' did not match", True),
    ],
)
def test_errors(text, err):
    assert is_error(text) is err


def test_terms_are_whole_identifiers_paths_and_ids():
    t = terms("raise ValueError in django/db/models.py at line 12456: self.get_violations() and fooBar, x_y")
    assert {"ValueError", "django/db/models.py", "12456", "self.get_violations", "fooBar"} <= t
    assert "alueError" not in t and "x_y" not in t  # no fragments; too short
    assert ordered_terms("b_term a_term b_term") == ["b_term", "a_term"]


def _round(i: int, name: str, args: dict, result: str) -> list[dict]:
    call = {"id": f"c{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
    return [{"role": "assistant", "content": None, "tool_calls": [call]}, {"role": "tool", "tool_call_id": f"c{i}", "content": result}]


def _superseded(rounds: list[list[dict]]) -> dict[int, str]:
    msgs = [{"role": "user", "content": "task"}]
    for r in rounds:
        msgs += r
    s = Session("none", tracing=False)
    s.prepare(msgs)
    return {k: seg.superseded_reason for k, seg in enumerate(s.ledger.segments) if seg.superseded_by}


def test_supersession_same_call_write_after_read_reread_and_retry():
    big = "x = 1\n" * 50
    got = _superseded(
        [
            _round(1, "bash", {"command": "cat a.py"}, big),  # 2: re-read in full later
            _round(2, "bash", {"command": "sed -n '1,5p' b.py"}, big),  # 4: b.py written later
            _round(3, "bash", {"command": "python t.py"}, "<returncode>1</returncode>\nTraceback (most recent call last):"),  # 6
            _round(4, "bash", {"command": "ls"}, "a.py b.py"),  # 8: same call again
            _round(5, "bash", {"command": "sed -i 's/1/2/' b.py"}, ""),
            _round(6, "bash", {"command": "cat a.py"}, big),
            _round(7, "bash", {"command": "python t.py"}, "<returncode>0</returncode>\nok"),
            _round(8, "bash", {"command": "ls"}, "a.py b.py"),
        ]
    )
    assert set(got) == {2, 4, 6, 8}
    assert "a.py re-read" in got[2] or "same call" in got[2]
    assert "b.py changed" in got[4]
    assert "retry passed" in got[6] or "same call" in got[6]
    assert "same call" in got[8]


def test_used_results_stay_while_the_agent_draws_on_them():
    msgs = [{"role": "user", "content": "task"}]
    listing = "\n".join(f"pkg/module_{k}.py" for k in range(40))
    msgs += _round(1, "bash", {"command": "find pkg"}, listing)
    s = Session(Policy(max_age=0, protect_recent_turns=0), tracing=False)
    s.prepare(msgs)
    # the next turn reads a file named in the listing: the listing was used, so it stays
    msgs += _round(2, "bash", {"command": "cat pkg/module_7.py"}, "def f(): pass\n" * 30)
    s.prepare(msgs)
    assert s.ledger.segments[2].state == "kept" and s.ledger.segments[2].used_count == 1
    # a turn that draws on neither: both go
    msgs += _round(3, "bash", {"command": "echo done"}, "done")
    s.prepare(msgs)
    assert s.ledger.segments[2].state == "pruned" and s.ledger.segments[4].state == "pruned"
