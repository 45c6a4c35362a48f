"""An agent script that makes model calls through a Session and then ends the way real programs
end: it never calls `tracing.flush()` or `session.close()` (the README's three-line use).

    python tests/exit_agent.py BASE_URL --calls 30 --end return|sys_exit|exception|wait [--duckdb-first]

`BASE_URL` is an OpenAI-compatible server (tests/openai_server.py) that `Session.completion` calls
through litellm; `recorded` instead of a URL records each step with `Session.record_step` (no
litellm: a process that starts in a second). Prints `run <id>` first and `ready` after the last
call; with `--end wait` it then sleeps until a signal ends it (Ctrl+C is SIGINT, a service
manager's stop is SIGTERM). `--duckdb-first` imports duckdb before contextkit (atexit hooks run
last-registered first, so the import order decides whose exit hook runs first).
"""

from __future__ import annotations

import argparse
import sys
import time

# Module-level code, like the README's example: the session lives until the interpreter exits.
ap = argparse.ArgumentParser()
ap.add_argument("base_url")
ap.add_argument("--calls", type=int, default=30)
ap.add_argument("--end", choices=["return", "sys_exit", "exception", "wait"], default="return")
ap.add_argument("--duckdb-first", action="store_true")
ap.add_argument("--name", default="exit-agent")
args = ap.parse_args()
if args.duckdb_first:
    import duckdb  # noqa: F401

import contextkit  # noqa: E402

session = contextkit.Session(name=args.name)
print(f"run {session.id}", flush=True)
messages = [{"role": "system", "content": "You are a coding agent."},
            {"role": "user", "content": "Read the files one by one."}]
kw = dict(model="openai/gpt-4o-mini", api_base=args.base_url, api_key="sk-test")
for i in range(args.calls):
    if args.base_url == "recorded":
        sent = session.prepare(messages)
        answer = f"read file_{i}.py"
        session.record_step(contextkit.StepRecord(step=session.step, model="gpt-4o-mini", started_at=time.time(),
                                                  latency_ms=1.0, messages_sent=sent, output_tokens=5,
                                                  response_message={"role": "assistant", "content": answer}))
    else:
        answer = session.completion(messages=messages, **kw).choices[0].message.content or ""
    messages.append({"role": "assistant", "content": answer})
    messages.append({"role": "user", "content": f"Now file_{i}.py:\n" + "x = 1\n" * 40})
print("ready", flush=True)
if args.end == "sys_exit":
    sys.exit(0)
if args.end == "exception":
    raise RuntimeError("the agent crashed")
if args.end == "wait":
    time.sleep(120)
