"""A trace store of runs whose text is hostile, for the viewer's untrusted-text tests: each run puts
markdown images, links, raw HTML and Streamlit directives (all pointing at an outside host) in one
surface the viewer shows, so a fetch can be traced back to the surface that let it through.

    python tests/hostile_runs.py STORE      # prints {"surface": run_id, ...} as its last line
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ATTACKER = "attacker.invalid"


def hostile(surface: str) -> str:
    """Every way text could make a browser fetch from the attacker, tagged with the surface."""
    u = f"http://{ATTACKER}/{surface}"
    return (f"SENTINEL-{surface} ![img]({u}/md.png) [link]({u}/link) <img src=\"{u}/html.png\"> "
            f"<a href=\"{u}/a\">a</a> <{u}/auto> www.{ATTACKER}/{surface}/www "
            f"<iframe src=\"{u}/frame\"></iframe> <video src=\"{u}/video.mp4\"></video> "
            f"<style>@import url({u}/css);</style> <link rel=stylesheet href=\"{u}/link.css\"> "
            f":material/{surface}: :red[red] $x^2$ <svg><image href=\"{u}/svg.png\"/></svg>\n\n"
            f"![ref][r] and [ref][r]\n\n[r]: {u}/ref.png\n\n"
            f"<div style=\"background:url({u}/style.png)\">styled</div>")


def hostile_name(surface: str) -> str:
    """A one-line hostile name (a tool's, a run's, a model's)."""
    return f"SENTINEL-{surface}![x](http://{ATTACKER}/{surface}/name.png)<img src=http://{ATTACKER}/{surface}/n.png>"


SURFACES = ("answer", "reasoning", "past_assistant", "past_reasoning", "tool_name", "tool_arguments", "tool_result",
            "tool_error", "provider_error", "guard_message", "run_name", "model_name", "task", "pruned_original")


def _run(surface: str) -> str:
    from contextkit import Session, StepRecord
    from contextkit.records import GuardEvent

    h = hostile(surface)
    name = hostile_name(surface) if surface == "run_name" else f"hostile-{surface}"
    model = hostile_name(surface) if surface == "model_name" else "gpt-4o-mini"
    tool = hostile_name(surface) if surface == "tool_name" else "read_file"
    args = json.dumps({"path": h if surface == "tool_arguments" else "notes.md"})
    s = Session("default", name=name, model="gpt-4o-mini")
    msgs = [{"role": "system", "content": "You review notes."},
            {"role": "user", "content": h if surface == "task" else "Summarise notes.md"}]
    first = {"role": "assistant", "content": h if surface == "past_assistant" else "Reading the notes.",
             "reasoning_content": h if surface == "past_reasoning" else "I should read the file first.",
             "tool_calls": [{"id": "call_0", "type": "function", "function": {"name": tool, "arguments": args}}]}
    result = h if surface in ("tool_result", "pruned_original") else "\n".join(f"note line {k}: nothing odd" for k in range(40))
    second_call = {"id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\": \"b.md\"}"}}
    steps = [first, {"role": "assistant", "content": "Reading more.", "tool_calls": [second_call]}]
    last = {"role": "assistant", "content": h if surface == "answer" else "The notes are fine.",
            "reasoning_content": h if surface == "reasoning" else "Nothing to flag."}
    if surface == "pruned_original":
        result = result + "\n" + "\n".join(f"filler line {k}" for k in range(80))  # big enough to be pruned
    for k, reply in enumerate([*steps, last]):
        sent = s.prepare(msgs)
        t0 = time.time()
        final = k == len(steps)
        error = h if surface == "provider_error" and final else None
        guard = [GuardEvent(kind="loop", limit="loop", action="warn", message=h, step=s.step)
                 ] if surface == "guard_message" and final else []
        s.record_step(StepRecord(step=s.step, model=model, started_at=t0, latency_ms=5.0, provider="openai", messages_sent=sent,
                                 input_tokens=s.last_report.tokens_after, output_tokens=12, cost_usd=0.0001,
                                 response_message=None if error else reply, error=error, guard_events=guard,
                                 finish_reason=None if error else ("tool_calls" if reply.get("tool_calls") else "stop")))
        if final:
            break
        msgs.append(reply)
        call = reply["tool_calls"][0]
        try:
            with s.tool(call["function"]["name"], tool_call_id=call["id"], arguments=call["function"]["arguments"]) as t:
                if surface == "tool_error" and k == 1:
                    raise RuntimeError(h)
                t.result = result if k == 0 else "b.md: empty"
            content = t.result
        except RuntimeError as e:
            content = f"error: {e}"
        msgs.append({"role": "tool", "tool_call_id": call["id"], "content": content})
    s.close()
    return s.id


def build(path: str) -> dict[str, str]:
    from contextkit import tracing

    tracing.configure(db_path=path)
    try:
        ids = {surface: _run(surface) for surface in SURFACES}
        assert tracing.flush(20)
    finally:
        tracing.shutdown()
    return ids


if __name__ == "__main__":
    print(json.dumps(build(sys.argv[1])))
