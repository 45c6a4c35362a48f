"""Attribute names: OpenInference's and GenAI's constants where they exist, `contextkit.*` for the
rest (field-notes §4). Phoenix reads the OpenInference names, Datadog the `gen_ai.*` ones; every
span carries both kinds, and always `openinference.span.kind` and `gen_ai.operation.name`.
"""

from __future__ import annotations

from dataclasses import dataclass

from openinference.semconv.resource import ResourceAttributes
from openinference.semconv.trace import (
    MessageAttributes,
    MessageContentAttributes,
    OpenInferenceSpanKindValues,
    SpanAttributes,
    ToolAttributes,
    ToolCallAttributes,
)
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as G
from opentelemetry.semconv.attributes.error_attributes import (
    ERROR_TYPE as ERROR_TYPE,  # re-exported: the class name of a failed call's error
)

SA = SpanAttributes

# ---------------------------------------------------------------- kinds and operations
SPAN_KIND = SA.OPENINFERENCE_SPAN_KIND
AGENT = OpenInferenceSpanKindValues.AGENT.value
LLM = OpenInferenceSpanKindValues.LLM.value
TOOL = OpenInferenceSpanKindValues.TOOL.value
CHAIN = OpenInferenceSpanKindValues.CHAIN.value

OPERATION = G.GEN_AI_OPERATION_NAME
OP_AGENT = G.GenAiOperationNameValues.INVOKE_AGENT.value
OP_CHAT = G.GenAiOperationNameValues.CHAT.value
OP_TOOL = G.GenAiOperationNameValues.EXECUTE_TOOL.value
OP_PRUNE = "context_prune"  # no convention has one: a custom operation name Datadog keeps

# ---------------------------------------------------------------- every span
SESSION_ID = SA.SESSION_ID
CONVERSATION_ID = G.GEN_AI_CONVERSATION_ID
USER_ID = SA.USER_ID
METADATA = SA.METADATA
TAGS = SA.TAG_TAGS
INPUT_VALUE = SA.INPUT_VALUE
INPUT_MIME = SA.INPUT_MIME_TYPE
OUTPUT_VALUE = SA.OUTPUT_VALUE
OUTPUT_MIME = SA.OUTPUT_MIME_TYPE
JSON_MIME = "application/json"
TEXT_MIME = "text/plain"

# ---------------------------------------------------------------- AGENT
AGENT_NAME = SA.AGENT_NAME
GEN_AI_AGENT_NAME = G.GEN_AI_AGENT_NAME

# ---------------------------------------------------------------- LLM
MODEL_NAME = SA.LLM_MODEL_NAME
PROVIDER = SA.LLM_PROVIDER
SYSTEM = SA.LLM_SYSTEM
INVOCATION_PARAMETERS = SA.LLM_INVOCATION_PARAMETERS
INPUT_MESSAGES = SA.LLM_INPUT_MESSAGES
OUTPUT_MESSAGES = SA.LLM_OUTPUT_MESSAGES
TOOLS = SA.LLM_TOOLS
TOOL_JSON_SCHEMA = ToolAttributes.TOOL_JSON_SCHEMA
FINISH_REASON = SA.LLM_FINISH_REASON
TOKENS_PROMPT = SA.LLM_TOKEN_COUNT_PROMPT
TOKENS_COMPLETION = SA.LLM_TOKEN_COUNT_COMPLETION
TOKENS_TOTAL = SA.LLM_TOKEN_COUNT_TOTAL
TOKENS_CACHE_READ = SA.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ
TOKENS_CACHE_WRITE = SA.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_WRITE
TOKENS_REASONING = SA.LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING
COST_PROMPT = SA.LLM_COST_PROMPT
COST_COMPLETION = SA.LLM_COST_COMPLETION
COST_TOTAL = SA.LLM_COST_TOTAL

REQUEST_MODEL = G.GEN_AI_REQUEST_MODEL
RESPONSE_MODEL = G.GEN_AI_RESPONSE_MODEL
PROVIDER_NAME = G.GEN_AI_PROVIDER_NAME
FINISH_REASONS = G.GEN_AI_RESPONSE_FINISH_REASONS
USAGE_INPUT = G.GEN_AI_USAGE_INPUT_TOKENS
USAGE_OUTPUT = G.GEN_AI_USAGE_OUTPUT_TOKENS
USAGE_CACHE_READ = G.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
USAGE_CACHE_WRITE = G.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
USAGE_REASONING = G.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS
RESPONSE_ID = G.GEN_AI_RESPONSE_ID
# the GenAI conventions' content attributes: JSON text (shapes in tracing/genai.py)
GEN_AI_INPUT_MESSAGES = G.GEN_AI_INPUT_MESSAGES
GEN_AI_OUTPUT_MESSAGES = G.GEN_AI_OUTPUT_MESSAGES
GEN_AI_SYSTEM_INSTRUCTIONS = G.GEN_AI_SYSTEM_INSTRUCTIONS
GEN_AI_TOOL_DEFINITIONS = G.GEN_AI_TOOL_DEFINITIONS
REQUEST_TEMPERATURE = G.GEN_AI_REQUEST_TEMPERATURE
REQUEST_MAX_TOKENS = G.GEN_AI_REQUEST_MAX_TOKENS
REQUEST_TOP_P = G.GEN_AI_REQUEST_TOP_P
REQUEST_STREAM = G.GEN_AI_REQUEST_STREAM

# message parts (relative to llm.input_messages.N. / llm.output_messages.N.)
MSG_ROLE = MessageAttributes.MESSAGE_ROLE
MSG_CONTENT = MessageAttributes.MESSAGE_CONTENT
MSG_CONTENTS = MessageAttributes.MESSAGE_CONTENTS
MSG_NAME = MessageAttributes.MESSAGE_NAME
MSG_TOOL_CALL_ID = MessageAttributes.MESSAGE_TOOL_CALL_ID
MSG_TOOL_CALLS = MessageAttributes.MESSAGE_TOOL_CALLS
PART_TYPE = MessageContentAttributes.MESSAGE_CONTENT_TYPE
PART_TEXT = MessageContentAttributes.MESSAGE_CONTENT_TEXT
PART_SIGNATURE = MessageContentAttributes.MESSAGE_CONTENT_SIGNATURE
PART_DATA = MessageContentAttributes.MESSAGE_CONTENT_DATA
CALL_ID = ToolCallAttributes.TOOL_CALL_ID
CALL_NAME = ToolCallAttributes.TOOL_CALL_FUNCTION_NAME
CALL_ARGUMENTS = ToolCallAttributes.TOOL_CALL_FUNCTION_ARGUMENTS_JSON

# ---------------------------------------------------------------- TOOL
TOOL_NAME = SA.TOOL_NAME
TOOL_ID = SA.TOOL_ID
GEN_AI_TOOL_NAME = G.GEN_AI_TOOL_NAME
TOOL_CALL_ID = G.GEN_AI_TOOL_CALL_ID
TOOL_CALL_ARGUMENTS = G.GEN_AI_TOOL_CALL_ARGUMENTS
TOOL_CALL_RESULT = G.GEN_AI_TOOL_CALL_RESULT

# ---------------------------------------------------------------- resource
SERVICE_NAME = "service.name"
PROJECT_NAME = ResourceAttributes.PROJECT_NAME

# ---------------------------------------------------------------- contextkit.* (no convention has these)
CK = "contextkit."
CK_STEP = "contextkit.step"
CK_POLICY = "contextkit.policy"
CK_MODEL = "contextkit.model"
CK_TOKENS_BEFORE = "contextkit.tokens_before"
CK_TOKENS_AFTER = "contextkit.tokens_after"
CK_TOKENS_SAVED = "contextkit.tokens_saved"
CK_MESSAGES = "contextkit.messages"
CK_PREPARE_MS = "contextkit.prepare_ms"
CK_PRUNED_HANDLES = "contextkit.pruned.handle"  # str[]: pruned at this step
CK_PRUNED_REASONS = "contextkit.pruned.reason"  # str[], same order
CK_FALLBACK = "contextkit.fallback"
CK_ERROR = "contextkit.error"
CK_USAGE_ESTIMATED = "contextkit.usage_estimated"
CK_SAVED_USD = "contextkit.saved_usd"
CK_COST_USD = "contextkit.cost_usd"
CK_COST_NOTE = "contextkit.cost_note"
CK_GUARD_EVENTS = "contextkit.guard_events"  # JSON list (LLM spans: the step's own; TOOL spans: the breaker's)
CK_STEP_KIND = "contextkit.step_kind"  # "chat": the agent's call; "compaction": a summariser's (StepRecord.kind)
CK_NOTES = "contextkit.notes"  # str[]: what fitting the window and compaction did (PrepareReport.notes)
CK_BREAKER = "contextkit.breaker"  # a tool's circuit-breaker state: "open" (not run), "half_open" (a trial)
CK_LATENCY_MS = "contextkit.latency_ms"
CK_STREAM = "contextkit.stream"
CK_TOOLS = "contextkit.tools"  # JSON of the tools list offered (the store keeps it once per distinct list)
CK_OUTPUT_MESSAGE = "contextkit.output_message"  # JSON of the assistant message (store-only runs)
CK_LLM_SPANS_SUPPRESSED = "contextkit.llm_span_elsewhere"  # another instrumentation makes the LLM span
# how an LLM span shows its request (tracing/span_size.py): a full (capped) view, or what is new since the last call
CK_INPUT_SNAPSHOT = "contextkit.input_messages.snapshot"  # bool: this span's list stands for the whole request
CK_INPUT_SHOWN = "contextkit.input_messages.shown"  # messages shown whole
CK_INPUT_ELIDED = "contextkit.input_messages.elided"  # messages shown as a marker (their store hash) or not at all
CK_INPUT_SNAPSHOT_STEP = "contextkit.input_messages.snapshot_step"  # delta spans: the step whose span has the last full view
CK_ENDED_BY = "contextkit.ended_by"
CK_RUN_STEPS = "contextkit.run.steps"
CK_RUN_TOOL_CALLS = "contextkit.run.tool_calls"
CK_RUN_TOKENS_BEFORE = "contextkit.run.tokens_before"
CK_RUN_TOKENS_AFTER = "contextkit.run.tokens_after"
CK_RUN_INPUT_TOKENS = "contextkit.run.input_tokens"
CK_RUN_OUTPUT_TOKENS = "contextkit.run.output_tokens"
CK_RUN_COST_USD = "contextkit.run.cost_usd"
CK_RUN_SAVED_USD = "contextkit.run.saved_usd"
CK_RUN_ERRORS = "contextkit.run.errors"
CK_INPUT_COST_USD = "contextkit.input_cost_usd"
CK_OUTPUT_COST_USD = "contextkit.output_cost_usd"
# provider usage as reported (or estimated): contextkit.usage.<name>
CK_USAGE = "contextkit.usage."
CK_USAGE_INPUT = CK_USAGE + "input_tokens"
CK_USAGE_OUTPUT = CK_USAGE + "output_tokens"
CK_USAGE_REASONING = CK_USAGE + "reasoning_tokens"
CK_USAGE_CACHE_READ = CK_USAGE + "cache_read_tokens"
CK_USAGE_CACHE_WRITE = CK_USAGE + "cache_write_tokens"

# The segment manifest, column by column (parallel arrays, one element per segment, in list order).
# `contextkit.segments.*`: the whole manifest (only when spans are flattened for OTLP viewers);
# `contextkit.segment_changes.*`: the segments that changed since the run's previous step, always
# (what the store keeps; a segment that left the list has index -1).
SEG = "contextkit.segments."
SEG_CHANGES = "contextkit.segment_changes."
SEG_COUNT = "contextkit.segments.count"


@dataclass(frozen=True)
class SegmentField:
    """One field of the segment manifest, declared once: the `Segment` attribute it reads (the same
    name), its span attribute (`contextkit.segments.<name>` / `contextkit.segment_changes.<name>`, a
    parallel array whose elements are `kind`), and its column in the store's `segment_states`."""

    name: str
    kind: str  # "str" ("" stands for a missing value), "int" (-1 does), "bool", "list" (str codes joined by ",")
    column: str | None = ""  # "": the name; None: not stored (the views compute it)
    captured: bool = True  # read off the Segment; False: derived when the span is built

    @property
    def store_column(self) -> str | None:
        return self.name if self.column == "" else self.column


SEGMENT_FIELDS: tuple[SegmentField, ...] = (
    SegmentField("handle", "str"),
    SegmentField("index", "int", column="idx"),  # -1: the segment left the list
    SegmentField("role", "str"),
    SegmentField("kind", "str"),
    SegmentField("tool_name", "str"),
    SegmentField("tool_call_id", "str"),
    SegmentField("tokens", "int"),
    SegmentField("sent_tokens", "int"),
    SegmentField("reasoning_tokens", "int"),
    SegmentField("first_seen", "int"),
    SegmentField("last_used", "int"),
    SegmentField("age", "int", column=None, captured=False),  # step - last_used
    SegmentField("used_count", "int"),
    SegmentField("state", "str"),
    SegmentField("reason", "str"),  # the sentence a person reads
    SegmentField("superseded_by", "str"),
    SegmentField("pruned_at", "int"),
    SegmentField("edited", "bool", captured=False),  # sent in a changed form (Segment.sent_message set)
    SegmentField("rule", "str"),  # the machine-readable code beside the reason ("unused", "keep_last", ...)
    SegmentField("flags", "list"),  # a tool result's implicit faults (contextkit/faults.py): empty, injection, ...
)
SEG_STR_FIELDS = tuple(f.name for f in SEGMENT_FIELDS if f.kind == "str")
SEG_INT_FIELDS = tuple(f.name for f in SEGMENT_FIELDS if f.kind == "int")
# Contents, once each: originals of segments first seen at this step, and new edited forms.
NEW_SEG_HANDLES = "contextkit.new_segments.handle"
NEW_SEG_MESSAGES = "contextkit.new_segments.message"  # JSON of each original message
EDIT_HANDLES = "contextkit.edits.handle"
EDIT_MESSAGES = "contextkit.edits.message"  # JSON of each message as now sent

# Attribute prefixes that the DuckDB store normalises into its own tables (left out of raw_spans).
NORMALISED_PREFIXES = (
    INPUT_MESSAGES + ".", TOOLS + ".", SEG, SEG_CHANGES, "contextkit.new_segments.", "contextkit.edits.", CK_TOOLS, CK_OUTPUT_MESSAGE,
)

