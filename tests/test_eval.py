"""contextkit.evaluation: the metrics on conversations small enough to check by hand, the loaders,
the per-step rows and the `contextkit eval` command."""

from __future__ import annotations

import copy
import json

import contextkit
from contextkit import PolicyConfigError
from contextkit.cli import main
from contextkit.evaluation import EvalResult, Trajectory, TrajectoryError, evaluate, load_trajectories

import duckdb
import pytest
import tiktoken
from helpers import conversation, trajectory_files

ENC = tiktoken.get_encoding("o200k_base")


def toks(m: dict) -> int:
    """The judge's message size, computed here independently of the library."""
    parts = [m.get("content") or ""]
    for tc in m.get("tool_calls") or []:
        parts += [tc["function"]["name"], tc["function"]["arguments"]]
    return len(ENC.encode("\n".join(parts))) + 4


def trajectory(n_tools: int = 4) -> dict:
    msgs = conversation(n_tools=n_tools, size=200)
    msgs.append({"role": "assistant", "content": "function_0_1 returns 1001, so the fix goes in pkg/file_0.py"})
    return {"id": "t1", "messages": msgs}


def clear_first_result(messages: list[dict]) -> list[dict]:
    out = copy.deepcopy(messages)
    tools = [m for m in out if m["role"] == "tool"]
    if len(tools) >= 2:
        tools[0]["content"] = "[cleared]"
    return out


def drop_first_result(messages: list[dict]) -> list[dict]:
    out = [m for m in messages if not (m["role"] == "tool" and m["tool_call_id"] == "call_0")]
    return out


def test_raw_costs_are_the_cache_model_by_hand():
    t = trajectory()
    msgs = t["messages"]
    r = evaluate([t], ["raw"])
    calls = [i for i, m in enumerate(msgs) if m["role"] == "assistant" and i > 0]
    assert [row.message_index for row in r.steps] == calls
    prev = 0
    for row, i in zip(r.steps, calls):
        total = sum(toks(m) for m in msgs[:i])
        assert row.raw_tokens == row.input_tokens == total
        assert row.cache_read_tokens == prev  # everything sent before is read back
        assert row.cache_cost == pytest.approx(0.1 * prev + 1.25 * (total - prev))
        prev = total
    assert r["raw"].saved == 0 and r["raw"].cache_cost_vs_raw == 1 and r["raw"].retention == 1


def test_an_edit_rewrites_the_cache_after_it_and_loses_the_evidence_it_held():
    t = trajectory()
    msgs = t["messages"]
    r = evaluate([t], {"clear": lambda: clear_first_result})
    first_tool = next(i for i, m in enumerate(msgs) if m["role"] == "tool")
    rows = r.steps
    # the edit appears at the first call with two results: the cache breaks at the edited message
    edit_step = next(k for k, row in enumerate(rows) if row.input_tokens < row.raw_tokens)
    assert rows[edit_step].cache_read_tokens == sum(toks(m) for m in msgs[:first_tool])
    # from then on the edit is stable, so everything sent before is read back
    for row, before in zip(rows[edit_step + 1 :], rows[edit_step:]):
        assert row.cache_read_tokens == before.input_tokens
    # the last answer draws function_0_1 from the first result only (1001 is too short to count): lost
    last = rows[-1]
    assert (last.needed, last.kept) == (1, 0)
    assert r["clear"].needed == 1 and r["clear"].retention == 0
    cleared = toks(msgs[first_tool]) - toks({"content": "[cleared]"})
    assert r["clear"].input_tokens == r["clear"].raw_tokens - cleared * (len(rows) - edit_step)
    assert r["clear"].invalid_requests == 0


def test_a_request_that_breaks_tool_call_pairing_counts_as_invalid():
    r = evaluate([trajectory()], {"drop": lambda: drop_first_result})
    assert r["drop"].invalid_requests == r["drop"].steps - 1  # every call after the first result


def test_step_rows_add_up_to_the_totals_and_query_with_duckdb():
    files = trajectory_files()[:2]
    r = evaluate(files, ["raw", "default"])
    assert isinstance(r, EvalResult) and len(r.trajectories) == 2
    steps = r.step_table()
    assert steps.num_rows == len(r.steps) == 2 * sum(t.steps for t in load_trajectories(files))
    got = duckdb.sql(
        "select policy, sum(input_tokens), sum(raw_tokens), sum(cache_cost), sum(kept), sum(needed) "
        "from steps group by policy order by policy"
    ).fetchall()
    for policy, sent, raw, cost, kept, needed in got:
        t = r[policy]
        assert (sent, raw, kept, needed) == (t.input_tokens, t.raw_tokens, t.kept, t.needed)
        assert cost == pytest.approx(t.cache_cost)
    per = [t for t in r.per_trajectory if t.policy == "default"]
    assert sum(t.input_tokens for t in per) == r["default"].input_tokens
    assert r["default"].pruned == sum(row.pruned for row in r.steps if row.policy == "default") > 0
    assert r.totals_table().column("policy").to_pylist() == ["raw", "default"]


def test_policies_by_preset_policy_file_config_and_label(tmp_path):
    f = trajectory_files()[0]
    tuned = contextkit.PRESETS["default"].replace(max_age=3, max_payback_steps=None)  # prune on age, whatever the cache
    path = contextkit.save_policy(tuned, tmp_path / "tuned.yaml")
    r = evaluate(f, [str(path), tuned, {"preset": "default", "max_age": 3, "max_payback_steps": None}, "default"])
    assert r.policies == [str(path), "default", "default+custom", "default#2"]
    a, b, c = (r[p] for p in r.policies[:3])
    assert a.input_tokens == b.input_tokens == c.input_tokens  # the same policy three ways
    labelled = evaluate(f, {"age3": tuned, "age30": tuned.replace(max_age=30)}, keep_steps=False)
    assert labelled.policies == ["age3", "age30"] and labelled.steps == []
    assert labelled["age3"].saved > labelled["age30"].saved


def test_caller_mistakes_raise_clear_errors(tmp_path):
    with pytest.raises(PolicyConfigError, match="did you mean 'default'"):
        evaluate(trajectory_files()[0], ["defualt"])
    with pytest.raises(TrajectoryError, match="no such file"):
        evaluate(tmp_path / "missing.json", ["raw"])
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(TrajectoryError, match="bad.json"):
        load_trajectories(tmp_path / "bad.json")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(TrajectoryError, match="unknown kind"):
        load_trajectories(tmp_path / "notes.txt")
    with pytest.raises(TrajectoryError, match="'messages'"):
        evaluate([{"id": "x", "messages": "hello"}], ["raw"])
    broken = {"id": "b", "messages": [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "c", "content": "x"},
                                      {"role": "assistant", "content": "done"}]}
    with pytest.raises(TrajectoryError, match="malformed"):
        evaluate([broken], ["default"])


def test_loads_directories_and_json_lists(tmp_path):
    one, two = trajectory(2), trajectory(3)
    two["id"] = "t2"
    (tmp_path / "b.json").write_text(json.dumps(one))
    (tmp_path / "a.json").write_text(json.dumps([two, {**one, "id": "t3"}]))
    trajs = load_trajectories(tmp_path)
    assert [t.id for t in trajs] == ["t2", "t3", "t1"]  # files sorted by name, as the judge reads them
    assert all(isinstance(t, Trajectory) and t.path for t in trajs)
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrajectoryError, match="no trajectory files"):
        load_trajectories(tmp_path / "empty")


# ------------------------------------------------------------------ the command


def test_cli_json_and_per_trajectory(capsys):
    f = str(trajectory_files()[0])
    assert main(["eval", f, "--policy", "raw", "--policy", "default", "--json", "--per-trajectory"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["policies"]) == ["raw", "default"]
    row = out["policies"]["default"]
    for key in ("steps", "input_tokens", "saved", "cache_cost_vs_raw", "retention", "invalid_requests"):
        assert key in row
    assert out["trajectories"] == 1 and len(out["per_trajectory"]) == 2
    assert out["per_trajectory"][1]["trajectory"] == json.loads(open(f).read())["id"]


def test_cli_table(capsys):
    f = str(trajectory_files()[0])
    assert main(["eval", f, "-p", "raw", "-p", "observation-masking", "--per-trajectory"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["policy", "steps", "input", "tok", "saved", "cost/raw", "retention", "verbatim", "invalid"]
    assert lines[1].split()[0] == "raw" and lines[1].split()[3:] == ["0.0%", "1.000", "100.00%", "100.00%", "0"]
    assert lines[2].split()[0] == "observation-masking"
    assert "1 trajectories" in out and out.count("observation-masking") == 2  # totals + per-trajectory row


def test_cli_errors_exit_2_with_the_reason(capsys, tmp_path):
    assert main(["eval", str(tmp_path / "nope"), "-p", "raw"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["eval", str(trajectory_files()[0]), "-p", "opencod"]) == 2
    assert "did you mean 'opencode'" in capsys.readouterr().err
