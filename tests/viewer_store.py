"""A trace store written by real contextkit runs, for the viewer's tests, its screenshot and demos.

Every run goes through `Session.completion` -> litellm -> a local OpenAI-compatible server
(tests/openai_server.py) that answers with the recorded model turns of a shared trajectory, so
the store holds what a real agent leaves: pruned requests, provider usage (with prompt-cache
reads as OpenAI reports them), litellm's prices, tool executions, reasoning, guard events, a
failed call, a restored result, an agent that only reports its model calls (no context
manifest), a broken one-step run of a task another run finished, and one run still open.

    python tests/viewer_store.py OUT.duckdb        # prints {"role": run_id, ...} as JSON

It is a script (run in a child process) because the open run must stay open: the child flushes
its spans and leaves with os._exit, skipping the interpreter-exit hook that would end the run.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import REPO, TRAJECTORIES  # noqa: E402

# (role, trajectory file, policy, model calls to replay: None = all)
TRAJECTORY_RUNS = [
    ("default", "mswea-deepseek-chat__chat-test-1-100__django__django-11039.json", "default", None),
    ("none", "mswea-deepseek-chat__chat-test-1-100__django__django-11039.json", "none", None),
    ("masking", "mswea-gemini-3-pro__astropy__astropy-14365.json", "observation-masking", None),
]
OPEN_RUN = ("open", "mswea-deepseek-chat__chat-test-1-100__astropy__astropy-12907.json", "default", 12)


def _reply_for(message: dict):
    from openai_server import Reply

    calls = [(c["function"]["name"], c["function"]["arguments"], c["id"]) for c in message.get("tool_calls") or ()]
    if calls:
        return Reply.tool_calls(calls, content=message.get("content"))
    return Reply.text(message.get("content") or "")


class PromptCache:
    """The server's answers with usage as OpenAI reports it under its automatic prompt cache: the
    request's longest run of leading messages (tools first) that the previous request of the same
    conversation sent is read from the cache (`cached_tokens`, steps of 128, from 1,024 tokens on).
    Tokens are the fake server's own count (JSON characters / 4)."""

    def __init__(self):
        self.last: list[str] = []

    def __call__(self, reply):
        def answer(request):
            body = request.body or {}
            key = [json.dumps(body.get("tools"), sort_keys=True)] + [json.dumps(m, sort_keys=True) for m in request.messages]
            same = 0
            for a, b in zip(key, self.last):
                if a != b:
                    break
                same += 1
            self.last = key
            prompt = max(1, sum(len(k) for k in key) // 4)
            cached = sum(len(k) for k in key[:same]) // 4 // 128 * 128 if same > 1 else 0
            text = (reply.content or "") + "".join(a if isinstance(a, str) else json.dumps(a) for _, a, _ in reply.calls)
            reply.usage = {"prompt_tokens": prompt, "completion_tokens": max(1, len(text) // 4),
                           "prompt_tokens_details": {"cached_tokens": cached if cached >= 1024 else 0}}
            return reply
        return answer


def replay_trajectory(server, traj: dict, policy: str, *, limit: int | None = None, close: bool = True) -> str:
    """Drive one recorded trajectory through a traced Session: before every recorded assistant turn,
    the agent sends what it had then; the server answers with that turn; the tools 'run' and return
    what they returned in the recording."""
    from contextkit import Session

    model = traj.get("model") or "deepseek/deepseek-chat"
    msgs = traj["messages"]
    name = traj["id"].split("__", 1)[-1]
    # A model litellm cannot route (google/...) goes to the server as an OpenAI-compatible one,
    # priced with the user's own rates, as a user of such a gateway would set it up.
    extra = {} if model.startswith(("deepseek/", "openai/")) else {"custom_llm_provider": "openai"}
    prices = {} if not extra else {model: {"input_cost_per_token": 2e-6, "output_cost_per_token": 12e-6}}
    session = Session(policy, model=model, name=name, tags=["swe-bench", policy], prices=prices,
                      metadata={"task": (traj.get("task") or "")[:200], "trajectory": traj["id"]})
    results = {m["tool_call_id"]: m.get("content") or "" for m in msgs if m.get("role") == "tool"}
    calls = 0
    cache = PromptCache()
    for i, m in enumerate(msgs):
        if m.get("role") != "assistant" or i == 0:
            continue
        if limit is not None and calls >= limit:
            break
        server.script(cache(_reply_for(m)))
        session.completion(model=model, messages=msgs[:i], api_base=server.base_url, api_key="sk-test", max_retries=0,
                           **extra)
        calls += 1
        for tc in m.get("tool_calls") or ():
            session.run_tool(tc, lambda *a, _id=tc["id"], **k: results.get(_id, ""))
    if close:
        session.close()
    else:
        _OPEN.append(session)  # a collected Session ends its run: keep it alive until os._exit
    return session.id


_OPEN: list = []

READ_TOOL = {
    "type": "function",
    "function": {
        "name": "read_file",
        "description": "Read a file of the repository",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    },
}


def reasoning_agent(server) -> str:
    """A small agent on a reasoning model that really reads repository files through its tool: it
    trips the loop guard, one of its calls fails with a rate limit, it restores a pruned result, and
    the reasoning of its older turns is cleared (rule reasoning_cleared)."""
    import dataclasses

    from contextkit import Budget, LoopGuard, Session
    from contextkit.config import resolve_policy

    import litellm
    from openai_server import Reply

    model = "deepseek/deepseek-reasoner"
    policy = dataclasses.replace(resolve_policy("default"), keep_thinking_turns=2)  # older turns' reasoning cleared
    files = ["contextkit/policy.py", "contextkit/presets.py", "contextkit/surgery.py", "contextkit/presets.py",
             "contextkit/presets.py", "contextkit/presets.py"]
    session = Session(policy, model=model, name="repo-inspector", tags=["demo"], user_id="dev-1",
                      budget=Budget(max_input_tokens=20_000, on_limit="warn", warn_at=None),
                      loop_guard=LoopGuard(repeats=3, window=10, on_loop="warn"))
    msgs = [
        {"role": "system", "content": "You are a careful code reviewer. Use read_file to look at the code."},
        {"role": "user", "content": "Which preset prunes most aggressively, and where is its placeholder built?"},
    ]

    def read_file(path: str) -> str:
        return (REPO / path).read_text(encoding="utf-8")

    for k, path in enumerate(files):
        thought = (f"To answer I need to see how placeholders are produced. Step {k + 1}: "
                   f"{'re-reading' if path in files[:k] else 'reading'} {path} to check the pruning rules.")
        reply = Reply.tool_call("read_file", {"path": path}, call_id=f"call_read_{k}", content=f"Reading {path}.")
        reply.reasoning = thought
        if k == 2:
            server.script(Reply.error(429, "rate limited: slow down"))
            try:
                session.completion(model=model, messages=msgs, tools=[READ_TOOL], api_base=server.base_url,
                                   api_key="sk-test", max_retries=0)
            except litellm.RateLimitError:
                pass  # the agent backs off and tries again
        server.script(reply)
        out = session.completion(model=model, messages=msgs, tools=[READ_TOOL], api_base=server.base_url,
                                 api_key="sk-test", max_retries=0)
        msg = out.choices[0].message
        msgs.append(msg.model_dump(exclude_none=True))
        for tc in msg.tool_calls or ():
            msgs.append(session.run_tool(tc, read_file))
    # the model asks for a pruned result back: the session answers restore_context itself
    pruned = next(seg["handle"] for seg in session.segments() if seg["state"] == "pruned")
    server.script(Reply.tool_call("restore_context", {"handle": pruned}, call_id="call_restore",
                                  content="Let me look at the policy module again."))
    out = session.completion(model=model, messages=msgs, tools=[READ_TOOL, session.restore_tool], api_base=server.base_url,
                             api_key="sk-test", max_retries=0)
    msg = out.choices[0].message
    msgs.append(msg.model_dump(exclude_none=True))
    for tc in msg.tool_calls or ():
        msgs.append(session.run_tool(tc, read_file))
    msgs.append({"role": "user", "content": "Thanks. Sum it up for me in two sentences."})  # a new turn: older reasoning goes
    server.script(Reply.text(
        "`observation-masking` keeps only the last 10 results; `anthropic-clear-tool-uses` clears the most once past "
        "100k tokens. Placeholders are built in contextkit/surgery.py (placeholder_text).",
        reasoning="Comparing keep_last values across presets: observation-masking keeps 10, anthropic keeps 3 "
                  "but only past its trigger, the default prunes anything seen and unused.",
    ))
    session.completion(model=model, messages=msgs, tools=[READ_TOOL], api_base=server.base_url, api_key="sk-test",
                       max_retries=0)
    session.close()
    return session.id


def broken_run(server, traj: dict) -> str:
    """The task of the `default` run under another policy, broken at once: its one call failed
    (a counterpart the Compare page must not pick while a finished run of the task is there)."""
    from contextkit import Session

    import litellm
    from openai_server import Reply

    model = traj.get("model") or "deepseek/deepseek-chat"
    session = Session("observation-masking", model=model, name=traj["id"].split("__", 1)[-1], tags=["swe-bench"])
    server.script(Reply.error(500, "upstream exploded"))
    try:
        session.completion(model=model, messages=traj["messages"][:2], api_base=server.base_url, api_key="sk-test",
                           max_retries=0)
    except litellm.InternalServerError:
        pass
    session.close()
    return session.id


def own_client_agent() -> str:
    """An agent that calls its model with its own client and only reports the calls
    (`record_step`, no `prepare`): steps with usage and cost but no context manifest."""
    import time

    from contextkit import Session, StepRecord

    session = Session("default", model="gpt-4o-mini", name="own-client")
    for k in range(1, 4):
        t0 = time.time()
        session.record_step(StepRecord(step=k, model="gpt-4o-mini", started_at=t0, latency_ms=420.0 + k, provider="openai",
                                       input_tokens=1200 * k, output_tokens=80, cost_usd=0.00018 * k + 0.000048,
                                       response_message={"role": "assistant", "content": f"answer {k}"}, finish_reason="stop"))
    session.close()
    return session.id


def build(path: str | os.PathLike, trajectories_dir: Path = TRAJECTORIES) -> dict[str, str]:
    """Write the runs into a store at `path`; returns {role: run_id}. The open run stays open only if
    the process then leaves without running its exit hooks (see main)."""
    from contextkit import tracing

    from openai_server import OpenAIServer

    tracing.configure(db_path=str(path))
    ids: dict[str, str] = {}
    with OpenAIServer() as server:
        for role, fname, policy, limit in TRAJECTORY_RUNS:
            traj = json.loads((trajectories_dir / fname).read_text(encoding="utf-8"))
            ids[role] = replay_trajectory(server, traj, policy, limit=limit)
        first = json.loads((trajectories_dir / TRAJECTORY_RUNS[0][1]).read_text(encoding="utf-8"))
        ids["broken"] = broken_run(server, first)
        ids["reasoning"] = reasoning_agent(server)
        ids["own_client"] = own_client_agent()
        role, fname, policy, limit = OPEN_RUN
        traj = json.loads((trajectories_dir / fname).read_text(encoding="utf-8"))
        ids[role] = replay_trajectory(server, traj, policy, limit=limit, close=False)
    if not tracing.flush(30):
        raise RuntimeError("the trace store was not flushed within 30 s")
    return ids


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/viewer_store.py OUT.duckdb")
    ids = build(sys.argv[1])
    print(json.dumps(ids), flush=True)
    sys.stdout.flush()
    os._exit(0)  # no exit hooks: the open run must stay open in the store


if __name__ == "__main__":
    main()
