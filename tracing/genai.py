"""OpenAI-format chat messages (what litellm sends) in the shapes the OpenTelemetry GenAI conventions
give their content attributes (`gen_ai.input.messages`, `gen_ai.output.messages`,
`gen_ai.system_instructions`, `gen_ai.tool.definitions`, JSON): a message is `{"role", "parts"}`,
a part is `{"type": "text", "content"}`, `{"type": "tool_call", "id", "name", "arguments"}`,
`{"type": "tool_call_response", "id", "response"}`, `{"type": "reasoning", "content"}`, or another
`type` with its own fields; an output message adds `finish_reason`. Also the conventions' names for
litellm's providers, and the model name without litellm's provider prefix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import GenAiProviderNameValues as P

# litellm's provider names -> the conventions' well-known `gen_ai.provider.name` values; any other
# provider keeps litellm's name (the conventions allow custom values).
PROVIDER_NAMES: dict[str, str] = {
    "openai": P.OPENAI.value,
    "text-completion-openai": P.OPENAI.value,
    "azure": P.AZURE_AI_OPENAI.value,
    "azure_text": P.AZURE_AI_OPENAI.value,
    "azure_ai": P.AZURE_AI_INFERENCE.value,
    "anthropic": P.ANTHROPIC.value,
    "anthropic_text": P.ANTHROPIC.value,
    "bedrock": P.AWS_BEDROCK.value,
    "bedrock_converse": P.AWS_BEDROCK.value,
    "gemini": P.GCP_GEMINI.value,
    "vertex_ai": P.GCP_VERTEX_AI.value,
    "vertex_ai_beta": P.GCP_VERTEX_AI.value,
    "cohere": P.COHERE.value,
    "cohere_chat": P.COHERE.value,
    "watsonx": P.IBM_WATSONX_AI.value,
    "watsonx_text": P.IBM_WATSONX_AI.value,
    "perplexity": P.PERPLEXITY.value,
    "xai": P.X_AI.value,
    "deepseek": P.DEEPSEEK.value,
    "groq": P.GROQ.value,
    "mistral": P.MISTRAL_AI.value,
    "codestral": P.MISTRAL_AI.value,
}

# OpenAI's finish reasons -> the conventions' (`tool_calls` is `tool_call` there)
_FINISH = {"tool_calls": "tool_call", "function_call": "tool_call"}


def provider_name(provider: str | None) -> str | None:
    """`gen_ai.provider.name` for litellm's provider name."""
    if not provider:
        return None
    return PROVIDER_NAMES.get(provider, provider)


def request_model(model: str, provider: str | None) -> str:
    """The model as the provider names it: litellm's `provider/` prefix removed (`bedrock/anthropic.
    claude-3` -> `anthropic.claude-3`; `openrouter/anthropic/claude-3.5` -> `anthropic/claude-3.5`)."""
    if provider and model.startswith(provider + "/"):
        return model[len(provider) + 1:]
    head, sep, rest = model.partition("/")
    if sep and head in PROVIDER_NAMES and rest:
        return rest
    return model


def finish_reason(reason: str | None) -> str:
    return _FINISH.get(reason or "", reason or "stop")


def error_type(error: str | None) -> str | None:
    """`error.type` of a recorded error ("RateLimitError: ..." -> "RateLimitError"; else `_OTHER`)."""
    if not error:
        return None
    head = error.split(":", 1)[0].strip()
    return head if head.replace(".", "").replace("_", "").isalnum() and len(head) <= 100 else "_OTHER"


def message(msg: Mapping) -> dict:
    """One chat message as a GenAI ChatMessage."""
    role = str(msg.get("role") or "user")
    out: dict[str, Any] = {"role": role, "parts": parts(msg)}
    if msg.get("name") and role != "tool":
        out["name"] = str(msg["name"])
    return out


def output_message(msg: Mapping, reason: str | None) -> dict:
    out = message(msg)
    out["finish_reason"] = finish_reason(reason)
    return out


def parts(msg: Mapping) -> list[dict]:
    role = msg.get("role")
    out: list[dict] = []
    rc = msg.get("reasoning_content")
    if isinstance(rc, str) and rc:
        out.append({"type": "reasoning", "content": rc})
    for b in msg.get("thinking_blocks") or ():
        if isinstance(b, Mapping) and isinstance(b.get("thinking"), str) and b["thinking"] != rc:
            out.append({"type": "reasoning", "content": b["thinking"]})
    content = msg.get("content")
    if role in ("tool", "function"):
        text = content if isinstance(content, str) else _text_of(content)
        out.append({"type": "tool_call_response", "id": msg.get("tool_call_id"), "response": text})
        return out
    if isinstance(content, str):
        if content:
            out.append({"type": "text", "content": content})
    elif isinstance(content, list):
        out.extend(_part(p) for p in content if isinstance(p, Mapping))
    for tc in msg.get("tool_calls") or ():
        if isinstance(tc, Mapping):
            fn = tc.get("function") or {}
            out.append({"type": "tool_call", "id": tc.get("id"), "name": fn.get("name") or "",
                        "arguments": _arguments(fn.get("arguments"))})
    return out


def system_instructions(messages: list) -> tuple[int, list[dict]]:
    """The leading system / developer messages as parts, and how many messages they are (the chat
    history in `gen_ai.input.messages` starts after them)."""
    n = 0
    out: list[dict] = []
    for m in messages:
        if not isinstance(m, Mapping) or m.get("role") not in ("system", "developer"):
            break
        n += 1
        out.extend(p for p in parts(m) if p.get("type") != "reasoning")
    return n, out


def tool_definitions(tools: list) -> list[dict]:
    """OpenAI's `tools=` list as GenAI tool definitions (`{"type", "name", "description", "parameters"}`)."""
    out = []
    for t in tools:
        if not isinstance(t, Mapping):
            continue
        fn = t.get("function") if isinstance(t.get("function"), Mapping) else None
        if fn is None:
            out.append(dict(t))
            continue
        d = {"type": t.get("type") or "function", "name": fn.get("name")}
        if fn.get("description"):
            d["description"] = fn["description"]
        if fn.get("parameters") is not None:
            d["parameters"] = fn["parameters"]
        out.append(d)
    return out


def _part(p: Mapping) -> dict:
    t = p.get("type")
    if t == "text":
        return {"type": "text", "content": str(p.get("text") or "")}
    if t in ("thinking", "reasoning"):
        return {"type": "reasoning", "content": str(p.get("thinking") or p.get("text") or "")}
    if t == "redacted_thinking":
        return {"type": "reasoning", "content": ""}
    if t in ("image_url", "image"):
        url = p.get("image_url")
        url = url.get("url") if isinstance(url, Mapping) else url
        if isinstance(url, str) and not url.startswith("data:"):
            return {"type": "uri", "modality": "image", "uri": url}
        return {"type": "blob", "modality": "image", "content": "(inline image not exported)"}
    return {"type": str(t or "unknown"), **{k: v for k, v in p.items() if k != "type"}}


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, list):
        return "\n".join(str(p.get("text") or "") for p in content if isinstance(p, Mapping) and p.get("type") == "text")
    return str(content)


def _arguments(args: Any) -> Any:
    """Arguments as JSON values when they parse (the conventions show them as an object)."""
    if isinstance(args, str):
        try:
            return json.loads(args)
        except ValueError:
            return args
    return args
