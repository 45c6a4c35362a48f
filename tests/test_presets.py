"""Each peer preset does what the peer's documentation says (field-notes §1)."""

from __future__ import annotations

from pathlib import Path

from contextkit import PRESETS, Session

from helpers import conversation


def replay(preset: str, msgs: list[dict]) -> tuple[Session, list[dict]]:
    s = Session(preset, tracing=False)
    out = None
    for i, m in enumerate(msgs):
        if m["role"] == "assistant" and i > 0:
            out = s.prepare(msgs[:i])
    out = s.prepare(msgs)
    return s, out


def tool_states(s: Session) -> list[str]:
    return [seg.state for seg in s.ledger if seg.kind == "tool_result"]


def test_every_preset_is_documented():
    page = (Path(__file__).parent.parent / "docs" / "policies.md").read_text()
    assert {"default", "none", "observation-masking"} <= set(PRESETS)
    for name, p in PRESETS.items():
        assert p.name == name and p.description and p.source
        assert f"`{name}`" in page, f"docs/policies.md does not name the preset {name}"


def test_observation_masking_keeps_the_last_ten():
    s, out = replay("observation-masking", conversation(n_tools=14, size=100))
    assert tool_states(s) == ["pruned"] * 4 + ["kept"] * 10
    tools = [m for m in out if m["role"] == "tool"]
    assert all(m["content"].startswith("Old environment output omitted.") for m in tools[:4])


def test_anthropic_clear_tool_uses_waits_for_100k_then_keeps_three():
    small, _ = replay("anthropic-clear-tool-uses", conversation(n_tools=8, size=400))
    assert set(tool_states(small)) == {"kept"}
    big, out = replay("anthropic-clear-tool-uses", conversation(n_tools=40, size=2400))
    assert big.ledger.raw_tokens > 100_000
    states = tool_states(big)
    assert states[-3:] == ["kept"] * 3 and set(states[:-3]) == {"pruned"}
    assert out[3]["content"].startswith("[cleared ctx")


def test_openai_trimmer_previews_long_outputs_outside_the_last_two_turns():
    s, out = replay("openai-tool-output-trimmer", conversation(n_tools=6, size=400))
    assert tool_states(s) == ["pruned"] * 4 + ["kept"] * 2
    first = out[3]["content"]
    assert first.startswith("[Trimmed: read_file output — ")
    assert "def function_0_0(): return 1000" in first  # the 200-character preview


def test_opencode_protects_the_newest_40k_and_clears_only_20k_batches():
    s, _ = replay("opencode", conversation(n_tools=10, size=2400))  # ~1.2k tokens per result
    assert set(tool_states(s)) == {"kept"}
    s, _ = replay("opencode", conversation(n_tools=60, size=8000))
    states = tool_states(s)
    kept_tokens = sum(seg.tokens for seg in s.ledger if seg.kind == "tool_result" and seg.state == "kept")
    assert "pruned" in states and kept_tokens >= 40_000
    assert states.index("kept") > 0 and set(states[states.index("kept"):]) == {"kept"}


def test_none_prunes_nothing_but_tracks_everything():
    s, out = replay("none", conversation(n_tools=12, size=800))
    assert set(tool_states(s)) == {"kept"} and len(s.ledger) == len(out)
    assert all(seg.tokens > 0 for seg in s.ledger)
