"""`contextkit demo` end to end: the CLI in a fresh process (scripted model through litellm's real
call path, real tools in a temporary project, tracing into a store in tmp_path), then the store
read back and compared with what the demo printed. Also: `--model` without its key, `--model`
against a local OpenAI-compatible server, and the same agent under the `none` policy.

About 12 s on 2 cores (most of it the demo's own process: litellm's import, 37 steps).
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import contextkit
from contextkit._demo import agent, scripted_model, workspace
from contextkit._demo import cli as demo_cli
from contextkit._demo.tools import Toolbox
from contextkit.tracing.store import TraceStore

import pytest


def _contextkit() -> list[str]:
    exe = Path(sys.executable).with_name("contextkit")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "contextkit"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    (tmp / "work").mkdir()
    env = dict(os.environ, CONTEXTKIT_TRACE_DB=str(tmp / "traces.duckdb"), TMPDIR=str(tmp / "work"))
    for k in ("CONTEXTKIT_TRACING", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "DD_API_KEY"):
        env.pop(k, None)
    done = subprocess.run(_contextkit() + ["demo", "--keep-workspace"], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=300)
    kept = re.search(r"^Workspace kept: (.+)$", done.stdout, re.M)
    store = TraceStore(tmp / "traces.duckdb")
    runs = store.runs() if (tmp / "traces.duckdb").exists() else []
    import json

    main = [r for r in runs if "comparison" not in json.loads(r["tags"] or "[]")]
    baseline = [r for r in runs if "comparison" in json.loads(r["tags"] or "[]")]
    return SimpleNamespace(done=done, out=done.stdout, store=store, runs=runs, run=main[0] if main else None,
                           baseline=baseline[0] if baseline else None,
                           workspace=Path(kept.group(1)) if kept else None, tmp=tmp)


def test_the_demo_exits_0_and_says_where_the_traces_are(demo):
    assert demo.done.returncode == 0, demo.done.stdout + demo.done.stderr
    assert "Result: fixed" in demo.out
    assert "contextkit view traces.duckdb" in demo.out  # relative to where it ran
    assert "priced as gpt-4.1" in demo.out
    assert demo.workspace is not None and demo.workspace.parent == demo.tmp / "work"


def test_the_fix_really_makes_the_projects_tests_pass(demo, tmp_path):
    before = workspace.run_tests(workspace.create(str(tmp_path)))
    assert not before.passed and "FAIL: test_bulk_discount_at_threshold" in before.output
    after = workspace.run_tests(demo.workspace)
    assert after.passed, after.output
    assert after.ran == before.ran + 1  # the agent's regression test
    assert "quantity >= threshold" in (demo.workspace / "invoicer" / "discounts.py").read_text()
    assert "bulk_rate(quantity)" in (demo.workspace / "invoicer" / "render.py").read_text()


def test_the_workspace_is_a_copy_of_the_projects_files_without_bytecode(tmp_path):
    """The project ships as package data (contextkit/_demo/project/); installing a wheel compiles its
    modules, and that bytecode is not the project's."""
    project = Path(workspace.__file__).parent / "project"
    expected = {f.relative_to(project).as_posix(): f.read_text(encoding="utf-8") for f in project.rglob("*")
                if f.is_file() and "__pycache__" not in f.parts}
    assert {"invoicer/discounts.py", "tests/test_invoice.py", "docs/pricing.md", "tests/__init__.py"} <= set(expected)
    installed = tmp_path / "installed"
    shutil.copytree(project, installed)
    assert compileall.compile_dir(installed, quiet=1) and list(installed.rglob("*.pyc"))
    assert workspace.files(installed) == workspace.files() == expected
    root = workspace.create(str(tmp_path))
    assert {f.relative_to(root).as_posix() for f in root.rglob("*") if f.is_file()} == set(expected)
    assert (root / "invoicer" / "discounts.py").read_text() == expected["invoicer/discounts.py"]


def test_the_store_holds_the_run(demo):
    import json

    run, base = demo.run, demo.baseline
    assert len(demo.runs) == 2 and run["status"] == "ok"
    # the head-to-head run without pruning is stored too, tagged, and names the run it is compared with
    assert (base["name"], base["policy"], base["status"]) == ("contextkit-demo", "none", "ok")
    assert json.loads(base["metadata"])["comparison_of"] == run["run_id"] and base["tokens_saved"] == 0
    assert (run["name"], run["policy"], run["model"]) == ("contextkit-demo", "default", scripted_model.MODEL)
    assert 30 <= run["steps"] <= 50
    assert run["input_tokens"] > 50_000 and run["output_tokens"] > 1_000
    assert run["cost_usd"] > 0 and run["saved_usd"] > 0
    assert run["tokens_saved"] > 0.3 * run["tokens_before"]  # the default policy saves visibly
    steps = demo.store.steps(run["run_id"])
    assert all(s["cost_note"] == "priced with Session.prices" and not s["usage_estimated"] for s in steps)
    assert any(s["reasoning_tokens"] and s["output"].get("reasoning_content") for s in steps)

    pruned = [d for d in demo.store.decisions(run["run_id"]) if d["action"] == "pruned"]
    reasons = {d["reason"].split(":")[0] for d in pruned}
    assert {"unused", "superseded"} <= reasons
    assert any("re-read" in d["reason"] or "changed at step" in d["reason"] for d in pruned)


def test_the_model_restored_a_pruned_result_and_got_the_original(demo):
    run_id = demo.run["run_id"]
    restores = [t for t in demo.store.tool_calls(run_id) if t["name"] == "restore_context"]
    assert len(restores) == 1
    handle = re.search(r"ctx\d+", restores[0]["arguments"]).group(0)
    step = restores[0]["step"]
    seg = next(r for r in demo.store.step_messages(run_id, step) if r["handle"] == handle)
    assert seg["state"] == "pruned" and seg["edited"]
    assert f'restore_context("{handle}")' in seg["message"]["content"]  # what the model saw
    assert restores[0]["result"] == seg["original"]["content"]  # what it got back
    assert "invoicer/render.py" in restores[0]["result"]


def test_the_model_was_sent_the_pruned_requests(demo):
    """The scripted provider counts the request it received; the store's sent messages give the same count."""
    import litellm

    run_id = demo.run["run_id"]
    tools = Toolbox(demo.tmp).definitions() + [contextkit.restore_tool()]
    steps = {s["step"]: s for s in demo.store.steps(run_id)}
    edited = [k for k in steps if any(r["edited"] for r in demo.store.step_messages(run_id, k))]
    assert edited
    for k in (1, edited[0], max(steps)):
        sent = demo.store.sent_messages(run_id, k)
        assert steps[k]["input_tokens"] == litellm.token_counter(model=scripted_model.PRICED_AS, messages=sent, tools=tools)
    k = max(steps)
    assert steps[k]["tokens_before"] > steps[k]["tokens_after"]
    assert demo.store.sent_messages(run_id, k) != demo.store.raw_messages(run_id, k)


def _figure(pattern: str, text: str) -> list[str]:
    m = re.search(pattern, text, re.M)
    assert m, f"{pattern!r} not in the summary:\n{text}"
    return [g.replace(",", "") for g in m.groups()]


def test_the_summary_agrees_with_the_store(demo):
    run, out = demo.run, demo.out
    steps, tools, restores = map(int, _figure(r"steps\s+(\d+) model calls, (\d+) tool calls \((\d+) restore_context\)", out))
    sent, pruned = map(int, _figure(r"tokens\s+([\d,]+) input tokens billed; pruning kept ([\d,]+) more", out))
    (cost,) = map(float, _figure(r"cost\s+\$([\d.]+), priced as", out))
    saved, share, raw_cost = map(float, _figure(r"saved\s+\$([\d.]+), (\d+)% of \$([\d.]+): what the same", out))
    (n_pruned,) = map(int, _figure(r"pruned\s+(\d+) tool results", out))
    assert (steps, tools, restores) == (run["steps"], run["tool_calls"], 1)
    assert (sent, pruned) == (run["input_tokens"], run["tokens_saved"])
    assert (cost, saved) == (round(run["cost_usd"], 4), round(run["saved_usd"], 4))
    assert raw_cost == pytest.approx(run["cost_usd"] + run["saved_usd"], abs=1e-4)
    # one percentage, the viewer's: saved / (cost + saved)
    assert share == round(100 * run["saved_usd"] / (run["cost_usd"] + run["saved_usd"]))
    # with the scripted model's prompt cache, saved is far below the pruned tokens at the full input price
    flat = run["tokens_saved"] * scripted_model.prices()[scripted_model.MODEL]["input_cost_per_token"]
    assert 0 < run["saved_usd"] < 0.5 * flat
    decisions = [d for d in demo.store.decisions(run["run_id"]) if d["action"] == "pruned"]
    assert n_pruned == len(decisions) == len({d["handle"] for d in decisions})
    assert len(re.findall(r"^\s+\d+  \S", out, re.M)) == steps  # one table row per step


def test_the_summary_compares_with_a_run_without_pruning(demo):
    """The head-to-head: pruning costs the agent re-reads and a restore, and still saves."""
    base_id, base_steps, base_tokens, base_cost = _figure(
        r"--policy none \(stored: run (\w+), tag comparison\):\n\s+(\d+) model calls, ([\d,]+) input tokens, \$([\d.]+)", demo.out)
    (less,) = map(int, _figure(r"this run cost (\d+)% less", demo.out))
    run, base = demo.run, demo.baseline
    assert base["run_id"].startswith(base_id) and (int(base_steps), int(base_tokens)) == (base["steps"], base["input_tokens"])
    assert float(base_cost) == round(base["cost_usd"], 4)
    assert base["steps"] < run["steps"]  # without pruning nothing needs re-reading or restoring
    assert run["input_tokens"] < base["input_tokens"] < run["input_tokens"] + run["tokens_saved"]
    assert less == round(100 * (base["cost_usd"] - run["cost_usd"]) / base["cost_usd"]) and less >= 5


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    demo_cli.add_arguments(p)
    return p.parse_args(list(argv))


def test_model_without_its_key_fails_before_anything_runs(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert demo_cli.run(_args("--model", "openai/gpt-4.1-mini")) == 2
    err = capsys.readouterr().err
    assert "missing: OPENAI_API_KEY" in err and "--model openai/gpt-4.1-mini" in err
    assert demo_cli.SCRIPTED == scripted_model.MODEL  # the CLI knows the name without importing litellm
    assert list(tmp_path.iterdir()) == []  # no workspace was made
    with pytest.raises(demo_cli.MissingCredentialsError, match="ANTHROPIC_API_KEY"):
        monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
        demo_cli.check_credentials("anthropic/claude-sonnet-4-5")


def test_model_runs_the_same_agent_against_a_real_provider(openai_server, monkeypatch, tmp_path, capsys):
    """`--model openai/...` with a key: litellm's OpenAI path to a local server, same tools and Session."""
    from openai_server import Reply

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_API_BASE", openai_server.base_url)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    openai_server.script(Reply.tool_call("list_files", {"path": "invoicer"}), Reply.text("Not fixed: out of ideas."))
    assert demo_cli.run(_args("--model", "openai/demo-model", "--quiet")) == 1  # finished, but the tests still fail
    out = capsys.readouterr().out
    assert "Result: not fixed" in out and "2 model calls, 1 tool call," in out
    first, second = openai_server.chat_requests
    names = {t["function"]["name"] for t in first.body["tools"]}
    assert names == {"list_files", "read_file", "grep", "run_command", "write_file", "restore_context"}
    result = second.messages[-1]
    assert result["role"] == "tool" and "invoicer/discounts.py" in result["content"]  # the real tool ran
    assert list(tmp_path.iterdir()) == []  # the workspace was removed


def test_the_same_agent_under_policy_none_needs_no_restore(demo, tmp_path):
    """Nothing pruned: the scripted model reads everything in place, still fixes the bug, sends more."""
    scripted_model.register()
    root = workspace.create(str(tmp_path))
    with contextkit.Session("none", tracing=False, prices=scripted_model.prices()) as session:
        run = agent.run_agent(session, scripted_model.MODEL, workspace.TASK, Toolbox(root))
    assert run.finished and workspace.run_tests(root).passed
    assert not [r for r in session.tool_records if r.name == "restore_context"]
    assert demo.baseline["steps"] == run.steps  # what the demo's comparison found
    assert sum(s.input_tokens for s in session.steps) > demo.run["input_tokens"] * 1.2
