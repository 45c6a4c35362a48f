"""The figures of docs/policies.md: the peers as the reference judge implements them, contextkit's
presets, and the front around `default` (one knob at a time), on the shared trajectories.

    python benchmarks/policy_frontier.py [--write] [--no-judge] [PATH ...]

Scores everything with `contextkit eval` (which agrees with the judge to the 4th digit, verbatim
retention included), and the peers also with the judge's own code (../shared/bench/pruning_eval.py,
imported at run time: the README's table). Prints Markdown; `--write` replaces the generated block
of docs/policies.md (between its `figures` markers). Takes ~5 minutes on 2 cores (litellm.compress
is most of it).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("CONTEXTKIT_TRACING", "off")  # scoring must not write a trace store

from contextkit import PRESETS  # noqa: E402
from contextkit.evaluation import evaluate, load_trajectories  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CONTEXTKIT_SHARED", REPO.parent / "shared"))
DATA = SHARED / "data" / "trajectories"
JUDGE = SHARED / "bench" / "pruning_eval.py"
DOC = REPO / "docs" / "policies.md"
START, END = "<!-- figures:start (benchmarks/policy_frontier.py --write) -->", "<!-- figures:end -->"

# the judge's peers, named as the judge names them, with the row label of the docs
JUDGE_PEERS = {
    "raw": "no pruning",
    "mask10": "observation masking, M=10",
    "anthropic100k": "Anthropic `clear_tool_uses`, its default trigger 100k",
    "anthropic20k": "Anthropic `clear_tool_uses`, trigger 20k",
    "openai-trimmer": "OpenAI Agents SDK `ToolOutputTrimmer`",
    "opencode": "OpenCode, its default triggers",
    "litellm-compress": "`litellm.compress`, its default trigger 200k",
    "litellm-compress20k": "`litellm.compress`, trigger 20k",
    "contextkit:default": "**contextkit `default`**",
}
OLD_DEFAULT = {  # contextkit 0.1's default: an identifier list instead of evidence lines, no cache guard
    "preset": "default", "use_terms": 1, "max_payback_steps": None,
    "placeholder": {"template": '[pruned {tool} #{args_digest}, {tokens} tokens, age {age}, {reason}; restore_context("{handle}")]',
                    "key_terms": 20, "evidence": 0},
}


def variants() -> dict:
    d = PRESETS["default"]
    ph = d.placeholder

    def with_ph(**kw: object) -> object:
        return d.replace(placeholder=dataclasses.replace(ph, **kw))

    return {
        "default, use_terms=1 (any repeated identifier is use)": d.replace(use_terms=1),
        "default, use_terms=2": d.replace(use_terms=2),
        "default, use_terms=6": d.replace(use_terms=6),
        "default, evidence=0 (the header alone)": with_ph(evidence=0.0),
        "default, evidence=0.08": with_ph(evidence=0.08),
        "default, evidence=0.2": with_ph(evidence=0.2),
        "default, evidence_boost=1 (files and errors like the rest)": with_ph(evidence_boost=1.0),
        "default, evidence=0, key_terms=20 (an identifier list instead)": with_ph(evidence=0.0, key_terms=20),
        "default, max_payback_steps=None (no cache guard)": d.replace(max_payback_steps=None),
        "default, max_payback_steps=3": d.replace(max_payback_steps=3),
        "default, max_payback_steps=10": d.replace(max_payback_steps=10),
        "default, max_age=1": d.replace(max_age=1),
        "default, min_tokens=120": d.replace(min_tokens=120),
        "default, supersede=False": d.replace(supersede=False),
        "contextkit 0.1's default (identifier list, no cache guard)": OLD_DEFAULT,
    }


def row(label: str, t, per: list) -> str:
    costs = [p.cache_cost_vs_raw for p in per]
    over = sum(1 for c in costs if c > 1.0 + 1e-9)
    return (f"| {label} | {t.saved:.1%} | {t.cache_cost_vs_raw:.3f} | {max(costs):.3f} ({over}) | {t.retention:.2%} "
            f"| {t.verbatim_retention:.2%} | {t.invalid_requests} |")


HEADER = ("| policy | input tokens saved | cost vs raw, prompt cache | worst trajectory (above 1.0) | retention "
          "| verbatim retention | invalid |\n|---|---|---|---|---|---|---|")


def judge_table(paths: list[str]) -> str:
    spec = importlib.util.spec_from_file_location("pruning_eval", JUDGE)
    judge = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(judge)
    files = sorted(Path(p) for p in paths) if len(paths) > 1 or not Path(paths[0]).is_dir() else sorted(Path(paths[0]).glob("*.json"))
    trajs = [json.loads(f.read_text()) for f in files]
    lines = [HEADER]
    for name, label in JUDGE_PEERS.items():
        per, tot = [], dict(raw=0, sent=0, cache_cost=0.0, raw_cache_cost=0.0, needed=0, kept=0, kept_verbatim=0, invalid=0)
        for t in trajs:
            r = judge.replay(t, judge.make_policy(name))
            per.append(r["cache_cost"] / r["raw_cache_cost"])
            for k in tot:
                tot[k] += r[k]
        over = sum(1 for c in per if c > 1.0 + 1e-9)
        lines.append(
            f"| {label} | {1 - tot['sent'] / tot['raw']:.1%} | {tot['cache_cost'] / tot['raw_cache_cost']:.3f} "
            f"| {max(per):.3f} ({over}) | {tot['kept'] / tot['needed']:.2%} | {tot['kept_verbatim'] / tot['needed']:.2%} "
            f"| {tot['invalid']} |")
    return "\n".join(lines)


def ours_table(paths: list[str]) -> tuple[str, str]:
    trajs = load_trajectories(paths)
    policies = {"raw": "raw", **{p: p for p in PRESETS}, "litellm-compress20k": "litellm-compress20k", **variants()}
    res = evaluate(trajs, policies, progress=sys.stderr.isatty(), keep_steps=False)
    per = {p: [t for t in res.per_trajectory if t.policy == p] for p in res.policies}
    presets = [HEADER] + [row(p, res.totals[p], per[p]) for p in ["raw", *PRESETS, "litellm-compress20k"]]
    front = [HEADER] + [row(p, res.totals[p], per[p]) for p in ["default", *variants()]]
    return "\n".join(presets), "\n".join(front)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", default=[str(DATA)])
    ap.add_argument("--write", action="store_true", help="replace the generated block of docs/policies.md")
    ap.add_argument("--no-judge", action="store_true", help="skip the judge's own peers (faster)")
    a = ap.parse_args()
    t0 = time.perf_counter()
    presets, front = ours_table(a.paths)
    judged = None if a.no_judge else judge_table(a.paths)
    n = len(load_trajectories(a.paths))
    parts = [START, "", f"Data: {n} trajectories ({', '.join(a.paths)}). Generated {time.strftime('%Y-%m-%d')}, "
             f"{time.perf_counter() - t0:.0f} s on this machine. Worst trajectory: the highest cost vs raw of any one "
             "trajectory, and how many cost more than not pruning.", ""]
    if judged:
        parts += ["**The peers as the reference judge implements them** (`../shared/bench/pruning_eval.py`):", "", judged, ""]
    parts += ["**contextkit's presets** (the peers emulated by contextkit, each placeholder with its restore handle) "
              "and litellm's own `litellm.compress`, scored by `contextkit eval`:", "", presets, "",
              "**The front around `default`** (one knob changed per row):", "", front, "", END]
    block = "\n".join(parts)
    print(block)
    if a.write:
        doc = DOC.read_text()
        if START not in doc or END not in doc:
            raise SystemExit(f"{DOC} has no generated block (markers {START!r} ... {END!r})")
        head, rest = doc.split(START, 1)
        DOC.write_text(head + block + rest.split(END, 1)[1])
        print(f"\nwrote {DOC}", file=sys.stderr)


if __name__ == "__main__":
    main()
