"""How often each implicit-fault flag (contextkit/faults.py) fires on the shared real trajectories,
and how often the loop guard's near-loop checks would. Every tool result goes through the same
ledger hook a live session uses (one session per trajectory, the `none` policy).

    python benchmarks/fault_flags.py                 # the table
    python benchmarks/fault_flags.py --show error    # every result flagged `error`, with its evidence
    python benchmarks/fault_flags.py --files DIR     # also: every text file under DIR as `cat FILE` printed it
    python benchmarks/fault_flags.py --speed         # also: what flagging costs per result, beside counting its tokens

The trajectories are real SWE-bench runs of coding agents: no result in them was planted, so a
flag that fires there is either a true description of the result (an empty `find`, a cut output,
a traceback behind `| tail`) or a false positive; `--show` lists them for review.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CONTEXTKIT_SHARED", REPO.parent / "shared"))
TRAJ = SHARED / "data" / "trajectories"


def results_of(path: Path):
    """(session, segments of tool results) for one trajectory, observed the way a live run is."""
    import contextkit

    msgs = json.loads(path.read_text())["messages"]
    s = contextkit.Session("none", tracing=False)
    s.prepare(msgs)
    return s, [seg for seg in s.ledger.segments if seg.kind == "tool_result"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--show", metavar="FLAG", help="print every result with this flag and why")
    p.add_argument("--files", metavar="DIR", help="also flag every text file under DIR (a second corpus: code and docs)")
    p.add_argument("--speed", action="store_true", help="time the flags of every result next to counting its tokens")
    args = p.parse_args()
    from contextkit import faults

    files = sorted(TRAJ.glob("*.json"))
    if not files:
        sys.exit(f"no trajectories in {TRAJ}")
    total = 0
    fired: collections.Counter = collections.Counter()
    runs: collections.Counter = collections.Counter()
    for f in files:
        s, segs = results_of(f)
        total += len(segs)
        seen_here = set()
        for seg in segs:
            for flag in seg.flags:
                fired[flag] += 1
                seen_here.add(flag)
                if flag == args.show:
                    text = s.ledger.original(seg.handle)["content"]
                    why = faults.evidence(text, flag, seg.tool_name, seg.args_text)
                    print(f"{f.name[:60]} {seg.handle} {seg.tool_name} {seg.args_text[:90]!r}\n    -> {why!r}")
        runs.update(seen_here)
    print(f"{total:,} tool results in {len(files)} trajectories ({TRAJ})")
    print(f"{'flag':<10} {'results':>8} {'share':>7} {'trajectories':>13}")
    for flag in faults.FLAGS:
        print(f"{flag:<10} {fired[flag]:>8,} {100 * fired[flag] / total:>6.2f}% {runs[flag]:>6} of {len(files)}")
    if args.files:
        corpus(Path(args.files), args.show)
    if args.speed:
        speed(files)


def speed(files: list[Path], rounds: int = 5) -> None:
    """Per result, side by side in this run: the flags (faults.Recent.flags, what the ledger calls once
    per new result) and the token count the ledger makes of the same text anyway."""
    import statistics
    import time

    from contextkit import faults
    from contextkit.tokens import TokenCounter

    results = []
    for f in files:
        msgs = json.loads(f.read_text())["messages"]
        calls = {tc["id"]: tc["function"] for m in msgs if m["role"] == "assistant" for tc in m.get("tool_calls") or ()}
        for m in msgs:
            if m["role"] == "tool":
                fn = calls.get(m.get("tool_call_id"), {})
                results.append((m["content"], fn.get("name"), fn.get("arguments", "")))
    count = TokenCounter("gpt-4o").count
    best_flags, best_tokens = float("inf"), float("inf")
    per_result = []
    for _ in range(rounds):
        recent = faults.Recent()
        t0 = time.perf_counter()
        for text, tool, args in results:
            t = time.perf_counter()
            recent.flags(text, tool, args)
            per_result.append(time.perf_counter() - t)
        best_flags = min(best_flags, time.perf_counter() - t0)
        t0 = time.perf_counter()
        for text, _, _ in results:
            count(text)
        best_tokens = min(best_tokens, time.perf_counter() - t0)
    chars = sum(len(t) for t, _, _ in results)
    print(f"\n{len(results):,} results, {chars / 1e6:.1f} M characters, best of {rounds} rounds:")
    print(f"  flags (all five)        {best_flags * 1000:8.1f} ms   {best_flags / len(results) * 1e6:6.1f} us a result"
          f"   median {statistics.median(per_result) * 1e6:.1f} us")
    print(f"  token count (o200k)     {best_tokens * 1000:8.1f} ms   {best_tokens / len(results) * 1e6:6.1f} us a result")
    print(f"  flags / token count     {best_flags / best_tokens:8.2f}")


_TEXT = (".py", ".md", ".txt", ".rst", ".json", ".html", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".j2", ".sh", ".js", ".ts")


def corpus(root: Path, show: str | None) -> None:
    """Every text file under `root` (first 200k characters) as the result of `cat FILE`."""
    from contextkit import faults

    n = 0
    fired: collections.Counter = collections.Counter()
    for path in sorted(root.rglob("*")):
        if path.suffix not in _TEXT or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")[:200_000]
        except (OSError, UnicodeDecodeError):
            continue
        n += 1
        args = json.dumps({"command": f"cat {path}"})
        for flag in faults.flags(text, "bash", args):
            fired[flag] += 1
            if flag == show:
                print(f"{path.relative_to(root)} -> {faults.evidence(text, flag, 'bash', args)!r}")
    print(f"\n{n:,} files under {root}, each as `cat FILE` printed it")
    for flag in faults.FLAGS[:-1]:
        print(f"{flag:<10} {fired[flag]:>8,} {100 * fired[flag] / max(n, 1):>6.2f}%")


if __name__ == "__main__":
    main()
