"""The demo's agent loop, written the way you would write yours with contextkit:

    session = contextkit.Session()                      # default policy, tracing on
    response = session.completion(model=..., messages=messages, tools=tools + [session.restore_tool])
    messages.append(assistant message)
    for call in tool calls: messages.append(session.run_tool(call, your_function))

The agent keeps its own full message list; the session decides what is actually sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..messages import message_dict

SYSTEM_PROMPT = """\
You are a coding agent working in a small Python repository; every tool runs in its root.
Work step by step: explore, reproduce the problem, find the cause, fix it with the smallest sensible change,
and run the tests until they pass. write_file takes a file's complete new content.
Older tool results may be replaced by a short placeholder to save context; if you need one back in full,
call restore_context with the handle it shows.
When you are done, reply with a short summary of the cause and the change, without calling a tool."""


@dataclass
class AgentRun:
    steps: int  # model calls made
    finished: bool  # the model answered without calling a tool
    answer: str | None
    messages: list[dict] = field(default_factory=list)  # the agent's own (unpruned) conversation


def run_agent(
    session: Any,
    model: str,
    task: str,
    toolbox: Any,
    *,
    max_steps: int = 60,
    on_step: Callable[[Any, list[dict]], None] | None = None,
    **completion_kwargs: Any,
) -> AgentRun:
    """Run the loop until the model answers without a tool call, or `max_steps` model calls.

    `on_step(step_record, tool_messages)` is called after each step's tools ran.
    """
    messages: list[dict] = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": task}]
    tools = toolbox.definitions() + [session.restore_tool]
    for step in range(1, max_steps + 1):
        response = session.completion(model=model, messages=messages, tools=tools, **completion_kwargs)
        message = response.choices[0].message
        messages.append(message_dict(message))
        results = [session.run_tool(call, toolbox.get(call.function.name)) for call in message.tool_calls or []]
        messages.extend(results)
        if on_step is not None:
            on_step(session.steps[-1], results)
        if not message.tool_calls:
            return AgentRun(step, True, message.content, messages)
    return AgentRun(max_steps, False, None, messages)
