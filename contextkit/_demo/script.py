"""What the scripted model does: a coding agent's moves on the `invoicer` bug, one per model call.

The model is stateless like a real one: it reads the request it is sent (the conversation as
contextkit pruned it) and decides. Its tool-call ids carry the index of the move that made them,
so the next move follows the last one in the conversation. A move looks at what it can actually
see: a file is re-read when its earlier read was pruned, a pruned result it needs is brought back
with `restore_context`, the edits are computed from the file text in front of it, and the test
runs decide whether another round is needed. Nothing here imports litellm.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..restore import RESTORE_TOOL_NAME

_HANDLE = re.compile(r"\bctx\d+\b")  # contextkit's handles, as every placeholder shows them
_ID = re.compile(r"^call_(\d+)_\d+$")
_FAILED_TEST = re.compile(r"^(FAIL|ERROR): (\w+) \(([\w.]+)", re.M)
_RAN = re.compile(r"^Ran (\d+) tests?", re.M)

BOUNDARIES = (
    'python -c "from invoicer.discounts import bulk_rate; '
    'print({q: str(bulk_rate(q)) for q in (9, 10, 11, 19, 20, 21, 49, 50, 51)})"'
)
UNITTEST = "python -m unittest"


@dataclass
class Turn:
    """One assistant message: text, optional reasoning, and the tool calls (name, arguments)."""

    content: str | None
    calls: list[tuple[str, dict]] = field(default_factory=list)
    reasoning: str | None = None


def call_id(move: int, k: int) -> str:
    return f"call_{move:02d}_{k}"


class Seen:
    """The conversation as the model received it: its own calls and the results it can read."""

    def __init__(self, messages: list[Any]):
        # keyed by the ids as the messages carry them (a malformed message may carry none)
        self.calls: dict[str | None, tuple[str | None, dict]] = {}
        self.results: dict[str | None, str] = {}
        self.last_move = -1
        self.finished = False
        for m in messages:
            m = m if isinstance(m, dict) else _as_dict(m)
            if m.get("role") == "assistant":
                calls = m.get("tool_calls") or []
                self.finished = not calls
                for tc in calls:
                    fn = tc.get("function") or {}
                    self.calls[tc.get("id")] = (fn.get("name"), _args(fn.get("arguments")))
                    hit = _ID.match(tc.get("id") or "")
                    if hit:
                        self.last_move = int(hit.group(1))
            elif m.get("role") == "tool":
                self.results[m.get("tool_call_id")] = _text(m.get("content"))

    def did(self, move: str) -> bool:
        return call_id(INDEX[move], 0) in self.calls

    def result(self, move: str, k: int = 0) -> str:
        return self.results.get(call_id(INDEX[move], k), "")

    def pruned_handle(self, move: str, k: int = 0) -> str | None:
        """The handle of the move's result if it is a placeholder now, else None."""
        m = _HANDLE.search(self.result(move, k))
        return m.group(0) if m else None

    def file(self, path: str, marker: str) -> str | None:
        """The newest full text of `path` in view (a read_file result, or the model's own write),
        if it is still there: None when it was pruned or never read."""
        text = None
        for cid, (name, args) in self.calls.items():
            if args.get("path") != path:
                continue
            if name == "read_file":
                text = self.results.get(cid)
            elif name == "write_file":
                text = args.get("content")
        if text is None or marker not in text or _HANDLE.search(text):
            return None
        return text


Move = Callable[[Seen], "Turn | None"]


def next_turn(messages: list[Any], offered: set[str]) -> tuple[int, Turn]:
    """The model's next message: (move index, turn)."""
    return play(MOVES, messages, offered, "The fix is in place and the whole suite passes; see my summary above.")


def play(moves: list[Move], messages: list[Any], offered: set[str], done: str,
         always: frozenset[str] = frozenset()) -> tuple[int, Turn]:
    """The first move after the last one made that applies and calls only tools on offer (or in
    `always`); `done` once the play has finished."""
    seen = Seen(messages)
    if seen.finished and seen.last_move >= 0:
        return len(moves), Turn(done)
    for i in range(seen.last_move + 1, len(moves)):
        turn = moves[i](seen)
        if turn is not None and all(name in offered or name in always for name, _ in turn.calls):
            return i, turn
    return len(moves), Turn("I have nothing more to do here.")


# ---------------------------------------------------------------------- reading results


def _unittest(text: str) -> tuple[bool, int, list[tuple[str, str, str]]]:
    """(passed, tests ran, [(FAIL|ERROR, test name, module)]) from unittest's output."""
    ran = _RAN.search(text)
    passed = bool(re.search(r"^OK\b", text, re.M)) and text.startswith("exit code: 0")
    return passed, int(ran.group(1)) if ran else 0, _FAILED_TEST.findall(text)


def _module(dotted: str) -> str:
    """"tests.test_invoice.InvoiceTotals.test_x" -> "tests.test_invoice" (the first test_* part ends it)."""
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if part.startswith("test_"):
            return ".".join(parts[: i + 1])
    return dotted


def _error_line(text: str) -> str:
    """The first AssertionError / NameError line of a test run."""
    m = re.search(r"^(\w+Error: .+?)(?: : .*)?$", text, re.M)
    return m.group(1).strip() if m else "the assertion failed"


# ---------------------------------------------------------------------- the moves


def _orient(s: Seen) -> Turn:
    return Turn("I'll start with an overview of the repository.", [("list_files", {"path": "."})])


def _readme(s: Seen) -> Turn:
    return Turn(
        None,
        [("read_file", {"path": "README.md"}), ("read_file", {"path": "pyproject.toml"})],
        reasoning="A small package, invoicer/, with tests under tests/, docs/pricing.md and data/catalog.json. "
        "The README and pyproject.toml should say how the tests are run.",
    )


def _reproduce(s: Seen) -> Turn:
    return Turn(
        "README.md says the suite needs only the standard library (`python -m unittest`). Reproducing the failure first.",
        [("run_command", {"command": UNITTEST})],
    )


def _read_failing_test(s: Seen) -> Turn:
    passed, ran, failed = _unittest(s.result("reproduce"))
    if passed:
        return Turn(f"All {ran} tests pass already, so the ticket is not reproduced by the suite; nothing to fix.")
    name, module = (failed[0][1], _module(failed[0][2])) if failed else ("the failing test", "tests.test_invoice")
    return Turn(
        "Reading the failing test.",
        [("read_file", {"path": module.replace(".", "/") + ".py"})],
        reasoning=f"{len(failed)} of {ran} tests fail: {name} in {module}. {_error_line(s.result('reproduce'))}: the line's "
        "discount is 0.00 where 2.00 is expected, so 10 units got no bulk discount at all. That matches the ticket: "
        "47.60 = 40.00 x 1.19, VAT on the undiscounted amount.",
    )


def _read_invoice(s: Seen) -> Turn:
    return Turn(
        None,
        [("read_file", {"path": "invoicer/invoice.py"})],
        reasoning="test_bulk_discount_at_threshold builds 10 x WID-100 through build_invoice() and checks "
        "inv.lines[0].discount, then inv.total. LineItem is defined in invoicer/invoice.py.",
    )


def _read_tax(s: Seen) -> Turn:
    return Turn(
        "LineItem.discount delegates to line_discount() from invoicer/discounts.py, and VAT is per line via "
        "tax_rate(). Ruling out the VAT side first: the expected 45.22 is 38.00 x 1.19.",
        [("read_file", {"path": "invoicer/tax.py"})],
    )


def _grep_tiers(s: Seen) -> Turn:
    return Turn(
        "The DE standard rate is 0.19, so VAT is right and the discount is the problem. Finding every place that "
        "computes or uses the bulk tiers.",
        [("grep", {"pattern": r"bulk_rate|BULK_TIERS|line_discount", "path": "."})],
    )


def _read_discounts(s: Seen) -> Turn:
    return Turn(None, [("read_file", {"path": "invoicer/discounts.py"})],
                reasoning="The tiers are defined in invoicer/discounts.py; reading it whole.")


def _read_pricing(s: Seen) -> Turn:
    return Turn(
        "Reading the pricing rules to see whether a threshold is meant to be inclusive.",
        [("read_file", {"path": "docs/pricing.md"})],
        reasoning="bulk_rate() walks BULK_TIERS from the highest tier and returns the first rate where "
        "`quantity > threshold`. For exactly 10 units no tier matches, so the rate is 0. The module docstring says "
        "'10 or more', which is inclusive; the spec decides.",
    )


def _boundaries(s: Seen) -> Turn:
    return Turn(
        "The spec is explicit: 10 or more units get 5%, 20 or more 10%, 50 or more 15%. Checking the boundaries directly.",
        [("run_command", {"command": BOUNDARIES})],
    )


def _read_changelog(s: Seen) -> Turn:
    return Turn(
        None,
        [("read_file", {"path": "CHANGELOG.md"})],
        reasoning="Every tier starts one unit late: 10 units get 0, 20 units get 0.05 and 50 units get 0.10 "
        "instead of 0.05 / 0.10 / 0.15. Was it ever inclusive? The changelog may say when this changed.",
    )


def _read_discount_tests(s: Seen) -> Turn:
    return Turn(
        "0.4.0 moved the tiers into one table and replaced `if quantity >= 50 / elif quantity >= 20 / elif "
        "quantity >= 10` with a loop: the refactor turned >= into >. Why did the unit tests not catch it?",
        [("read_file", {"path": "tests/test_discounts.py"})],
    )


def _read_catalog(s: Seen) -> Turn:
    return Turn(
        None,
        [("read_file", {"path": "invoicer/catalog.py"})],
        reasoning="test_tiers only checks 11, 21 and 51 units, never a threshold itself. line_discount() also takes "
        "`eligible` from Product.bulk_eligible; checking invoicer/catalog.py so the fix leaves lamps and gift cards alone.",
    )


def _read_money(s: Seen) -> Turn:
    return Turn(
        "bulk_eligible comes from data/catalog.json and is unaffected. line_discount() rounds with round_cents(); "
        "checking it is half-up as the spec requires.",
        [("read_file", {"path": "invoicer/money.py"})],
    )


def _reread(path: str, marker: str, why: str) -> Move:
    def move(s: Seen) -> Turn | None:
        if s.file(path, marker) is not None:
            return None
        return Turn(why, [("read_file", {"path": path})])

    return move


def _edit(path: str, marker: str, old: str, new: str, say: str, reasoning: str | None = None) -> Move:
    """Write `path` with `old` replaced by `new`, in the text the model can see."""

    def move(s: Seen) -> Turn:
        text = s.file(path, marker)
        if text is None or old not in text:
            return Turn(f"I cannot apply the change to {path}: the code is not what I expected, so I stop here.")
        return Turn(say, [("write_file", {"path": path, "content": text.replace(old, new, 1)})], reasoning=reasoning)

    return move


def _check_boundaries(s: Seen) -> Turn:
    return Turn("Running the same boundary check again.", [("run_command", {"command": BOUNDARIES})])


def _run_affected(s: Seen) -> Turn:
    return Turn(
        "Now 10, 20 and 50 units reach their tiers. Running the two affected test modules.",
        [("run_command", {"command": f"{UNITTEST} tests.test_discounts tests.test_invoice"})],
    )


def _run_all(s: Seen) -> Turn:
    return Turn("Both modules pass. Now the whole suite.", [("run_command", {"command": UNITTEST})])


def _render_broke(s: Seen) -> bool:
    return any(mod.startswith("tests.test_render") for _, _, mod in _unittest(s.result("run_all"))[2])


def _read_render_test(s: Seen) -> Turn | None:
    if not _render_broke(s):
        return None
    return Turn(
        None,
        [("read_file", {"path": "tests/test_render.py"})],
        reasoning=f"A new failure in tests.test_render: {_error_line(s.result('run_all'))}. The discount now reaches the "
        "subtotal, but the printed rows do not show it. It passed before only because both sides ignored the discount.",
    )


def _restore_grep(s: Seen) -> Turn | None:
    if not s.did("read_render_test"):
        return None
    handle = s.pruned_handle("grep_tiers")
    if handle is None:  # still in view: nothing to bring back
        return None
    return Turn(
        f"The earlier search listed another user of the tier table in invoicer/render.py, but that result is only a "
        f"placeholder now ({handle}). Restoring it instead of searching again.",
        [(RESTORE_TOOL_NAME, {"handle": handle})],
    )


def _read_render(s: Seen) -> Turn | None:
    if not s.did("read_render_test"):
        return None
    return Turn(
        None,
        [("read_file", {"path": "invoicer/render.py"})],
        reasoning="render.py imports BULK_TIERS and repeats the tier loop, with `quantity > threshold`, in "
        "_bulk_label(): a copy of the same bug, which decides whether the discount row is printed.",
    )


_LOOP = """    for threshold, rate in BULK_TIERS:
        if quantity > threshold:
            return f"bulk discount {percent(rate)}"
    return None
"""
_CALL = """    rate = bulk_rate(quantity)
    return f"bulk discount {percent(rate)}" if rate else None
"""


def _only_if(move: str, then: Move) -> Move:
    return lambda s: then(s) if s.did(move) else None


def _run_render(s: Seen) -> Turn:
    return Turn("Running tests.test_render.", [("run_command", {"command": f"{UNITTEST} tests.test_render"})])


def _reread_render(s: Seen) -> Turn | None:
    out = s.result("run_render")
    if not s.did("run_render") or "NameError" not in out:
        return None
    return Turn(
        None,
        [("read_file", {"path": "invoicer/render.py"})],
        reasoning=f"{_error_line(out)}. I replaced the loop but left the import as it was. Re-reading the file to fix the import.",
    )


def _run_all_again(s: Seen) -> Turn:
    passed, ran, failed = _unittest(s.result("run_render_again") or s.result("run_render"))
    lead = "tests.test_render passes now." if passed else "Checking where the suite stands."
    return Turn(f"{lead} The whole suite again.", [("run_command", {"command": UNITTEST})])


def _run_cli(s: Seen) -> Turn:
    passed, ran, _ = _unittest(s.result("run_all_again"))
    lead = f"All {ran} tests pass." if passed else "Not all tests pass yet."
    return Turn(
        f"{lead} A look at the real output for the sample order, which has 10 x ORG-010.",
        [("run_command", {"command": "python -m invoicer data/sample_order.json"})],
    )


def _grep_copies(s: Seen) -> Turn:
    return Turn(
        "The 10-unit line now shows 'bulk discount 5%' with its -6.45 EUR, and the rows add up to the subtotal. "
        "Making sure no other copy of the tier comparison is left.",
        [("grep", {"pattern": r"> ?threshold|BULK_TIERS", "path": "."})],
    )


_REGRESSION_TEST = '''
    def test_tiers_start_at_their_threshold(self):
        # ticket #4127: "10 or more" includes 10 (docs/pricing.md)
        self.assertEqual(bulk_rate(10), Decimal("0.05"))
        self.assertEqual(bulk_rate(20), Decimal("0.10"))
        self.assertEqual(bulk_rate(50), Decimal("0.15"))
        self.assertEqual(bulk_rate(19), Decimal("0.05"))
'''

_CHANGELOG_ENTRY = """## Unreleased
- Fix (#4127): bulk discount tiers include their threshold again (10, 20, 50 units), in the
  discount and in the rendered invoice; render.py now asks discounts.bulk_rate() instead of a copy.

"""


def _run_discount_tests(s: Seen) -> Turn:
    return Turn("Running the new test.", [("run_command", {"command": f"{UNITTEST} -v tests.test_discounts"})])


def _final_run(s: Seen) -> Turn:
    return Turn("Final check: the whole suite, verbose.", [("run_command", {"command": f"{UNITTEST} -v"})])


def _answer(s: Seen) -> Turn:
    passed, ran, failed = _unittest(s.result("final_run"))
    if not passed:
        names = ", ".join(name for _, name, _ in failed) or "see the output above"
        return Turn(f"I could not get the whole suite to pass: {names}. The changes so far are in place.")
    return Turn(
        "Fixed ticket #4127.\n\n"
        "Cause: the 0.4.0 refactor that moved the tiers into `BULK_TIERS` compared `quantity > threshold`, so every "
        "tier started one unit late (10 units got nothing, 20 got 5%, 50 got 10%).\n\n"
        "Changes:\n"
        "- `invoicer/discounts.py`: `bulk_rate()` uses `>=`, as docs/pricing.md says (\"10 or more\").\n"
        "- `invoicer/render.py`: `_bulk_label()` calls `bulk_rate()` instead of repeating the loop, so the printed "
        "rows always match the discount.\n"
        "- `tests/test_discounts.py`: a regression test at the exact thresholds.\n"
        "- `CHANGELOG.md`: an Unreleased entry.\n\n"
        f"`python -m unittest`: all {ran} tests pass. The sample order now totals 202.45 EUR (was 210.13 EUR)."
    )


PLAY: list[tuple[str, Move]] = [
    ("orient", _orient),
    ("readme", _readme),
    ("reproduce", _reproduce),
    ("read_failing_test", _read_failing_test),
    ("read_invoice", _read_invoice),
    ("read_tax", _read_tax),
    ("grep_tiers", _grep_tiers),
    ("read_discounts", _read_discounts),
    ("read_pricing", _read_pricing),
    ("boundaries", _boundaries),
    ("read_changelog", _read_changelog),
    ("read_discount_tests", _read_discount_tests),
    ("read_catalog", _read_catalog),
    ("read_money", _read_money),
    ("reread_discounts", _reread("invoicer/discounts.py", "def bulk_rate", "Re-reading invoicer/discounts.py before editing it.")),
    ("fix_discounts", _edit(
        "invoicer/discounts.py", "def bulk_rate", "        if quantity > threshold:", "        if quantity >= threshold:",
        "round_cents() is ROUND_HALF_UP, as required. The fix is one character in bulk_rate(): the threshold is "
        "inclusive (`quantity >= threshold`), as docs/pricing.md and the code before 0.4.0 had it.",
    )),
    ("check_boundaries", _check_boundaries),
    ("run_affected", _run_affected),
    ("run_all", _run_all),
    ("read_render_test", _read_render_test),
    ("restore_grep", _restore_grep),
    ("read_render", _read_render),
    ("fix_render", _only_if("read_render_test", _edit(
        "invoicer/render.py", "def _bulk_label", _LOOP, _CALL,
        "Replacing the copied loop in _bulk_label() with a call to bulk_rate(), so the label can never disagree "
        "with the discount again.",
    ))),
    ("run_render", _only_if("read_render_test", _run_render)),
    ("reread_render", _reread_render),
    ("fix_render_import", _only_if("reread_render", _edit(
        "invoicer/render.py", "def _bulk_label", "from .discounts import BULK_TIERS", "from .discounts import bulk_rate",
        "Importing bulk_rate instead of BULK_TIERS (the table is no longer used here).",
    ))),
    ("run_render_again", _only_if("reread_render", _run_render)),
    ("run_all_again", _run_all_again),
    ("run_cli", _run_cli),
    ("grep_copies", _grep_copies),
    ("reread_discount_tests", _reread(
        "tests/test_discounts.py", "class CouponTests",
        "Only discounts.py holds the tiers now. Adding a regression test at the exact thresholds; re-reading "
        "tests/test_discounts.py first.",
    )),
    ("add_regression_test", _edit(
        "tests/test_discounts.py", "class CouponTests", "\n\nclass CouponTests", _REGRESSION_TEST + "\n\nclass CouponTests",
        "Adding test_tiers_start_at_their_threshold to BulkTests: 10, 20 and 50 units exactly, and 19.",
    )),
    ("run_discount_tests", _run_discount_tests),
    ("reread_changelog", _reread("CHANGELOG.md", "# Changelog", "The new test passes. Re-reading CHANGELOG.md to note the fix.")),
    ("update_changelog", _edit(
        "CHANGELOG.md", "# Changelog", "# Changelog\n\n", "# Changelog\n\n" + _CHANGELOG_ENTRY,
        "Adding an Unreleased entry to CHANGELOG.md.",
    )),
    ("final_run", _final_run),
    ("answer", _answer),
]
MOVES: list[Move] = [move for _, move in PLAY]
INDEX: dict[str, int] = {name: i for i, (name, _) in enumerate(PLAY)}


# ---------------------------------------------------------------------- helpers


def _args(raw: Any) -> dict:
    if isinstance(raw, dict):
        return raw
    try:
        out = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def _as_dict(m: Any) -> dict:
    dump = getattr(m, "model_dump", None)
    return dump() if callable(dump) else dict(m)
