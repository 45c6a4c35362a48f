"""Secret detection speed (docs/benchmarks.md, ## Secret masking), side by side in one run:

1. `contextkit.secrets.mask` / `has_secret` over every message text of the shared trajectories
   (ordinary agent text: code, test output, diffs), against a pass of the same rules with the
   literal-fragment prefilter turned off (every rule runs on every text);
2. the same over a text dense with secrets (the test suite's 21 kinds, repeated), where every
   rule fires.

    python benchmarks/secret_masking.py [--trajectories ../shared/data/trajectories] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT / "tests"))

from contextkit import secrets  # noqa: E402

from fake_secrets import KINDS  # noqa: E402


def texts_of(folder: Path) -> list[str]:
    out = []
    for f in sorted(folder.glob("*.json")):
        for m in json.loads(f.read_text()).get("messages", []):
            c = m.get("content")
            if isinstance(c, str) and c:
                out.append(c)
    return out


def no_prefilter_mask(text: str) -> str:
    """Every rule on every text (anchored rules still anchored): what the prefilter saves."""
    st = secrets._S.compiled()
    found = []
    low = text.lower()
    for r in st.rules:
        for m in secrets._matches(r, text, low):
            try:
                a, b = m.span(r.group)
            except IndexError:
                a, b = m.span()
            if 0 <= a < b:
                found.append(secrets.Secret(a, b, r.kind))
    return str(len(secrets._merge(found)))


def timed(fn, texts: list[str], repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for t in texts:
            fn(t)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trajectories", type=Path, default=ROOT.parent / "shared" / "data" / "trajectories")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    t0 = time.perf_counter()
    n_rules = len(secrets.rules())
    print(f"{n_rules} rules compiled (detect-secrets imported) in {(time.perf_counter() - t0) * 1000:.0f} ms")
    ordinary = texts_of(args.trajectories)
    size = sum(map(len, ordinary)) / 1e6
    dense = ["\n".join(k.text for k in KINDS)] * 200
    dsize = sum(map(len, dense)) / 1e6
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}; "
          f"median of {args.repeats}")
    rows = [
        ("trajectories", len(ordinary), size, "mask", timed(secrets.mask, ordinary, args.repeats)),
        ("trajectories", len(ordinary), size, "has_secret", timed(secrets.has_secret, ordinary, args.repeats)),
        ("trajectories", len(ordinary), size, "mask, no prefilter", timed(no_prefilter_mask, ordinary, args.repeats)),
        ("21 kinds x200", len(dense), dsize, "mask", timed(secrets.mask, dense, args.repeats)),
        ("21 kinds x200", len(dense), dsize, "mask, no prefilter", timed(no_prefilter_mask, dense, args.repeats)),
    ]
    print(f"{'texts':<14} {'n':>6} {'MB':>6}  {'pass':<20} {'seconds':>8} {'MB/s':>7} {'µs/text':>8}")
    for name, n, mb, what, s in rows:
        print(f"{name:<14} {n:>6} {mb:>6.2f}  {what:<20} {s:>8.3f} {mb / s:>7.1f} {s / n * 1e6:>8.1f}")


if __name__ == "__main__":
    main()
