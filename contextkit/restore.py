"""The "restore pruned context" tool an agent can offer its model, and the answer to its calls."""

from __future__ import annotations

from typing import Any

from .messages import parse_arguments

RESTORE_TOOL_NAME = "restore_context"


def restore_tool() -> dict:
    """An OpenAI-format tool definition (litellm translates it for other providers)."""
    return {
        "type": "function",
        "function": {
            "name": RESTORE_TOOL_NAME,
            "description": (
                "Bring back the full original content of an earlier tool result that was pruned from the "
                "conversation to save space. Pass the handle shown in the placeholder, e.g. ctx42."
            ),
            "parameters": {
                "type": "object",
                "properties": {"handle": {"type": "string", "description": "The handle from the placeholder."}},
                "required": ["handle"],
            },
        },
    }


def call_parts(tool_call: Any) -> tuple[str | None, str | None, Any]:
    """(id, function name, arguments) of a tool call given as a dict or a litellm/OpenAI object."""
    if isinstance(tool_call, dict):
        fn = tool_call.get("function") or {}
        return tool_call.get("id"), fn.get("name"), fn.get("arguments")
    fn = getattr(tool_call, "function", None)
    return getattr(tool_call, "id", None), getattr(fn, "name", None), getattr(fn, "arguments", None)


def requested_handle(arguments: Any) -> str | None:
    args = parse_arguments(arguments)
    if args is None:
        return arguments.strip() if isinstance(arguments, str) and arguments.strip() else None
    h = args.get("handle")
    return h if isinstance(h, str) else None
