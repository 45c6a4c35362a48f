"""What a segment's content and its tool call tell us: terms an agent reuses, files read and
written, errors. Pure functions over text; the ledger decides what to do with them.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

# Identifiers an agent copies out of a tool result into its own reasoning or next call: paths and
# dotted names, snake_case, camelCase / PascalCase with an inner capital, long numbers (ids, line
# numbers). Every alternative starts at a word boundary: whole identifiers, and no backtracking
# from inside words (2x faster than an unanchored pattern on tool output).
_TERM = re.compile(
    r"\b[A-Za-z_][\w-]*(?:[./:]+[\w-]+)+"
    r"|\b[A-Za-z]*_\w{3,}"
    r"|\b[A-Za-z][a-z0-9]*[A-Z][A-Za-z0-9]{2,}"
    r"|\b\d{4,}\b"
)
MIN_TERM_LEN = 5


def terms(text: str) -> set[str]:
    """Distinctive terms of a text (the things later use of it can be recognised by)."""
    return {t for t in _TERM.findall(text) if len(t) >= MIN_TERM_LEN}


def ordered_terms(text: str) -> list[str]:
    """The distinct terms of a text in order of first appearance."""
    return list(dict.fromkeys(t for t in _TERM.findall(text) if len(t) >= MIN_TERM_LEN))


_RETURNCODE = re.compile(r"<returncode>\s*(-?\d+)\s*</returncode>|\b(?:exit code|returncode|exit status)[:= ]+(-?\d+)", re.I)
_ERROR_START = re.compile(r"^\s*(?:error|fatal|exception|traceback)\b", re.I)


def is_error(text: str) -> bool:
    """Whether a tool result reports a failure (non-zero exit, a traceback, an error object)."""
    head = text[:2000]
    m = _RETURNCODE.search(head)
    if m:
        code = m.group(1) or m.group(2)
        if code is not None and int(code) != 0:
            return True
        if code is not None:
            return "Traceback (most recent call last)" in text
    if _ERROR_START.match(head) or "Traceback (most recent call last)" in text:
        return True
    stripped = head.lstrip()
    return stripped.startswith("{") and ('"error":' in stripped[:200] or '"errors":' in stripped[:200])


# ---------------------------------------------------------------------------- tool-call targets


@dataclass
class CallFacts:
    """What one tool call touched, as far as its arguments say."""

    reads: set[str] = field(default_factory=set)  # files read (any part of them)
    full_reads: set[str] = field(default_factory=set)  # files read whole
    writes: set[str] = field(default_factory=set)  # files written, moved onto or deleted
    program: str = ""  # the command's program, or the tool name for structured tools
    target: str = ""  # the first file or operand: with the program it says "the same attempt"


_READERS_WHOLE = {"cat", "bat", "less", "more", "nl", "view"}
_READERS_PART = {"head", "tail", "sed", "awk", "grep", "egrep", "rg", "cut", "wc"}
_PATH_KEYS = ("path", "file_path", "filepath", "filename", "file", "target_file")
_WRITE_WORDS = ("write", "edit", "create", "replace", "insert", "patch", "append", "delete", "remove", "undo")
_READ_WORDS = ("read", "view", "open", "cat", "show", "get_file")
_OPEN_WRITE = re.compile(r"""open\(\s*['"]([^'"]+)['"]\s*,\s*['"][wax]""")
_WRITE_TEXT = re.compile(r"""Path\(\s*['"]([^'"]+)['"]\s*\)\s*\.write_(?:text|bytes)""")
_SHELL_OPS = {"&&", "||", ";", "|", "&", "(", ")", ";;"}
_COMMENT = re.compile(r"(?:^|(?<=\s))#.*")
_PLAIN_WORDS = re.compile(r"[();<>|&]+|[^\s();<>|&]+")  # shlex punctuation_chars runs, or words


def call_facts(tool_name: str, args: dict | None, raw_args: str) -> CallFacts:
    """Files read and written by a tool call: shell commands are parsed, structured tools read by key."""
    cmd = None
    if args is not None:
        for key in ("command", "cmd", "script", "code"):
            if isinstance(args.get(key), str):
                cmd = args[key]
                break
    if cmd is not None and args is not None and not _has_path_key(args):
        return _shell_facts(cmd)
    facts = CallFacts(program=tool_name)
    if args is None:
        facts.target = raw_args[:80]
        return facts
    path = next((args[k] for k in _PATH_KEYS if isinstance(args.get(k), str)), None)
    if path is None:
        return facts
    facts.target = path
    # the sub-command decides when there is one (str_replace_editor's "view" is a read)
    sub = args.get("command") or args.get("action")
    action = (sub if isinstance(sub, str) and sub else tool_name).lower()
    if any(w in action for w in _WRITE_WORDS):
        facts.writes.add(path)
    elif any(w in action for w in _READ_WORDS) or "view_range" in args or "line" in " ".join(args):
        facts.reads.add(path)
        if not any(k in args for k in ("view_range", "start_line", "end_line", "offset", "limit", "lines")):
            facts.full_reads.add(path)
    return facts


def _has_path_key(args: dict) -> bool:
    return any(isinstance(args.get(k), str) for k in _PATH_KEYS)


def _shell_facts(cmd: str) -> CallFacts:
    facts = CallFacts()
    body_writes = set(_OPEN_WRITE.findall(cmd)) | set(_WRITE_TEXT.findall(cmd))
    facts.writes |= body_writes
    first_line = cmd.split("\n", 1)[0]  # a heredoc body is data, not commands
    if not any(c in first_line for c in "'\"\\"):
        words = _PLAIN_WORDS.findall(_COMMENT.sub("", first_line))  # no quoting: shlex's answer, 5x faster
    else:
        try:
            lex = shlex.shlex(first_line, posix=True, punctuation_chars=True)
            lex.whitespace_split = True
            words = list(lex)
        except ValueError:
            words = first_line.split()
    for simple, piped in _split_commands(words):
        _simple_facts(simple, facts, piped)
    return facts


def _split_commands(words: list[str]) -> list[tuple[list[str], bool]]:
    """Simple commands, each with whether its output is piped into another (a partial view)."""
    out: list[tuple[list[str], bool]] = []
    cur: list[str] = []
    for w in words:
        if w in _SHELL_OPS:
            if cur:
                out.append((cur, w == "|"))
            cur = []
        else:
            cur.append(w)
    if cur:
        out.append((cur, False))
    return out


def _simple_facts(words: list[str], facts: CallFacts, piped: bool = False) -> None:
    # redirections first: `> f`, `>> f`, `2>&1` ...
    operands = []
    i = 0
    while i < len(words):
        w = words[i]
        if w in (">", ">>", ">|") and i + 1 < len(words):
            facts.writes.add(words[i + 1])
            i += 2
            continue
        if w in ("<", "<<", "<<<", "<<-", "2>", "&>") and i + 1 < len(words):
            i += 2
            continue
        if w.startswith(("2>", "1>", ">&", "&>")):
            i += 1
            continue
        operands.append(w)
        i += 1
    while operands and "=" in operands[0] and not operands[0].startswith("-"):
        operands.pop(0)  # FOO=bar cmd
    if not operands:
        return
    prog = operands[0].rsplit("/", 1)[-1]
    rest = operands[1:]
    if prog in ("sudo", "time", "timeout", "nice", "env") and rest:
        return _simple_facts(rest if prog != "timeout" else rest[1:], facts, piped)
    if prog == "cd":
        return
    files = [a for a in rest if not a.startswith("-")]
    if prog == "sed":
        files = _sed_files(rest)
    if not facts.program:
        facts.program = prog
        facts.target = next((a for a in files if "/" in a or "." in a), files[0] if files else "")
    if prog in _READERS_WHOLE:
        facts.reads.update(files)
        if not piped:
            facts.full_reads.update(files)
    elif prog == "sed":
        in_place = any(a == "-i" or a.startswith("-i") or a == "--in-place" for a in rest)
        (facts.writes if in_place else facts.reads).update(files)
    elif prog in _READERS_PART:
        facts.reads.update(a for a in files[1:] if "/" in a or "." in a)
    elif prog == "tee":
        facts.writes.update(files)
    elif prog in ("mv", "cp") and len(files) >= 2:
        facts.writes.add(files[-1])
        if prog == "mv":
            facts.writes.update(files[:-1])
    elif prog in ("rm", "touch", "truncate"):
        facts.writes.update(files)


def _sed_files(args: list[str]) -> list[str]:
    """The file operands of a sed command: what follows the script (given inline or with -e)."""
    files, script_seen, i = [], False, 0
    while i < len(args):
        a = args[i]
        if a in ("-e", "--expression", "-f"):
            script_seen = True
            i += 2
            continue
        if a.startswith("-"):
            i += 1
            continue
        if not script_seen:
            script_seen = True
        else:
            files.append(a)
        i += 1
    return files
