"""A scripted agent for the tracing tests and benchmarks: it replays a conversation through a
Session the way an agent loop does (prepare, model call, tools), without a model.

As a script it is the child process of the multi-process and SIGKILL tests:

    python tests/tracing_agent.py --steps 50 --name worker-1 [--sleep-ms 5]

prints `run <id>` first, `step <n> <epoch seconds>` after each recorded step (flushed), and
`done <run id>` at the end. `--pause-after N` prints `paused` after step N and waits for a line on
stdin before going on (a test then looks at the store while the run is certainly still open).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from contextkit import Session, StepRecord  # noqa: E402

from helpers import conversation  # noqa: E402


def replay(session: Session, messages: list[dict], *, model: str = "gpt-4o-mini", sleep_s: float = 0.0,
           on_step=None) -> list[tuple[int, list[dict], list[dict]]]:
    """Prepare before every assistant message, record the step, run its tool calls.

    Returns (step, what the agent passed to prepare, what prepare returned) per step.
    """
    seen = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant" or i == 0:
            continue
        raw = messages[:i]
        t0 = time.time()
        sent = session.prepare(raw)
        if sleep_s:
            time.sleep(sleep_s)  # the model call
        session.record_step(StepRecord(
            step=session.step, model=model, started_at=t0, latency_ms=(time.time() - t0) * 1000,
            provider="openai", messages_sent=sent, input_tokens=session.last_report.tokens_after,
            output_tokens=20, response_message=m, cost_usd=0.0001, finish_reason="tool_calls" if m.get("tool_calls") else "stop",
        ))
        seen.append((session.step, raw, sent))
        for tc in m.get("tool_calls") or ():
            result = next((x["content"] for x in messages[i + 1:] if x.get("tool_call_id") == tc["id"]), "")
            with session.tool(tc["function"]["name"], tool_call_id=tc["id"], arguments=tc["function"]["arguments"]) as t:
                t.result = result
        if on_step:
            on_step(session.step)
    return seen


_KEEP: list = []


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--name", default="agent")
    ap.add_argument("--sleep-ms", type=float, default=0.0)
    ap.add_argument("--no-close", action="store_true", help="exit without session.close()")
    ap.add_argument("--pause-after", type=int, default=0, help="after this step, wait for a line on stdin")
    args = ap.parse_args()
    msgs = conversation(n_tools=args.steps - 1, size=200)
    msgs.append({"role": "assistant", "content": "done"})
    s = Session(name=args.name)
    print(f"run {s.id}", flush=True)

    def progress(step: int) -> None:
        print(f"step {step} {time.time():.6f}", flush=True)
        if step == args.pause_after:
            print("paused", flush=True)
            sys.stdin.readline()

    replay(s, msgs, sleep_s=args.sleep_ms / 1000, on_step=progress)
    if args.no_close:
        _KEEP.append(s)  # still open when the interpreter exits
    else:
        s.close()
    if s.observer_errors:
        print("observer_errors", s.observer_errors, flush=True)
        sys.exit(3)
    print(f"done {s.id}", flush=True)


if __name__ == "__main__":
    main()
