"""What kind of command a tool call ran: a shell command split as the shell would split it (quotes
respected, heredoc bodies skipped as data), or a structured tool's name. The fault flags ask it
whether a call is expected to print nothing (a write, a `cd`) or prints files (a reader)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .messages import parse_arguments

_READERS = frozenset({
    "cat", "bat", "head", "tail", "less", "more", "nl", "sed", "awk", "grep", "egrep", "fgrep", "rg", "ag", "ack",
    "find", "ls", "tree", "wc", "diff", "file", "stat", "du", "strings", "xxd", "od", "hexdump", "sort", "uniq", "cut",
    "git", "view", "read", "read_file", "open", "open_file", "search", "search_file", "search_dir", "find_file", "list",
    "list_files", "list_dir", "grep_search", "glob", "str_replace_editor",
})
_SILENT = frozenset({
    "cd", "mkdir", "rm", "rmdir", "cp", "mv", "touch", "chmod", "chown", "ln", "export", "source", ".", "unset",
    "true", ":", "sleep", "kill", "wait", "patch", "truncate", "install", "write", "write_file", "edit", "edit_file",
    "create", "create_file", "insert", "replace", "str_replace", "apply_patch", "delete", "delete_file", "submit",
})
_GIT_SILENT = frozenset({"add", "checkout", "switch", "apply", "commit", "stash", "reset", "restore", "config", "rm", "mv",
                         "clean", "init", "tag", "fetch", "pull", "push", "merge", "rebase", "cherry-pick", "am"})
_OPS = frozenset({"&&", "||", ";", "|", "&", "(", ")", ";;", "|&"})
_PREFIXES = frozenset({"sudo", "time", "nice", "env", "timeout", "xargs", "exec", "command", "nohup"})
_HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")
_ASSIGN = re.compile(r"^\w+=")
_FD_DUP = re.compile(r"\d*>&(?:\d+|-)")
_FILTERS = frozenset({"head", "tail", "grep", "egrep", "sort", "uniq", "cat", "tee", "cut", "tr", "less", "more"})
_NEUTRAL = frozenset({"cd", "export", "set", "true", ":", "source", "."})
_STDOUT_TO_FILE = re.compile(r"^(?:1?>>?|&>>?|>\|)(?!&)")  # `> f`, `>> f`, `&> f`, `1> f` (not `2>`, not `>&2`)


@dataclass(frozen=True, slots=True)
class Call:
    """A tool call as far as faults care: each simple command's words, for shell commands (the
    tool's name alone otherwise)."""

    tool: str
    commands: tuple[tuple[str, ...], ...]
    shell: bool
    piped: tuple[bool, ...] = ()  # each command's input comes from the one before (`a | b`)

    @property
    def programs(self) -> tuple[str, ...]:
        return tuple(words[0] for words in self.commands)

    @property
    def only_reads(self) -> bool:
        """Every program prints files or listings (what it prints is data, error words included)."""
        programs = [words[0] for words in self.commands if words[0] not in _NEUTRAL]
        return bool(programs) and all(p in _READERS for p in programs)

    @property
    def silent(self) -> bool:
        """Every command prints nothing on success: a write, a move, `git add`, `sed -i`,
        `pip install -q`, anything whose output goes to a file (a filter after it, `| head`, too)."""
        quiet = False
        for i, words in enumerate(self.commands):
            piped = i < len(self.piped) and self.piped[i]
            quiet = _silent(words) or (piped and quiet and words[0] in _FILTERS)
            if not quiet:
                return False
        return bool(self.commands)

    @property
    def expects_output(self) -> bool:
        """Whether an empty result is news: a structured tool (an API answers with something), or
        a command that reads, searches or lists. A script that prints nothing is no fault."""
        if self.silent:
            return False
        return not self.shell or any(words[0] in _READERS and not _silent(words) for words in self.commands)


def _silent(words: tuple[str, ...]) -> bool:
    prog = words[0]
    if prog in _SILENT or prog.startswith(("write", "edit", "create", "insert", "replace", "delete", "str_replace")):
        return True
    if any(_STDOUT_TO_FILE.match(w) for w in words[1:]):
        return True
    if prog == "git":
        sub = next((w for w in words[1:] if not w.startswith("-")), "")
        return sub in _GIT_SILENT
    if prog == "sed":
        return any(w.startswith("-i") or w == "--in-place" for w in words[1:])
    if prog in ("pip", "pip3", "uv", "conda"):
        return any(w in ("-q", "--quiet", "-qq", "-qqq") for w in words)
    if prog.startswith("python"):
        return "py_compile" in words or ("compileall" in words and "-q" in words)
    return False


def parse_call(tool: str | None, args_text: str = "") -> Call:
    """The simple commands a call runs: a shell command is split as the shell would (quotes
    respected, heredoc bodies skipped as data); a structured tool is one command, its name."""
    tool = tool or "tool"
    args = parse_arguments(args_text) if args_text else None
    cmd = None
    if isinstance(args, dict):
        cmd = next((args[k] for k in ("command", "cmd", "script") if isinstance(args.get(k), str)), None)
        if cmd is not None and isinstance(args.get("path"), str):  # str_replace_editor: command="view", path=...
            cmd = None
    if cmd is None:
        sub = args.get("command") if isinstance(args, dict) else None
        name = tool.lower()
        if isinstance(sub, str) and name == "str_replace_editor":
            name = "view" if sub == "view" else "edit"
        return Call(tool, ((name,),), False)
    commands = _commands(cmd)
    return Call(tool, tuple(w for w, _ in commands), True, tuple(p for _, p in commands))


# A shell word (unquoted characters, '...' and "..." runs, backslash escapes, glued together), a run
# of operator characters, or a comment. A regex, not shlex: 20x faster, and quotes may span lines.
_TOKEN = re.compile(r"""(?:[^\s'"\\|&;()#]|#(?<=\S#)|'[^']*'|"(?:[^"\\]|\\.)*"|\\.)+|\n|[|&;()]+|#[^\n]*|'[^']*|"[^"]*""", re.S)
_BODY = re.compile(r"""<<-?[ \t]*(['"]?)(\w+)\1([^\n]*\n).*?^\t*\2[ \t]*$""", re.S | re.M)  # a heredoc's body


def _unquote(word: str) -> str:
    return word.replace("'", "").replace('"', "") if ("'" in word or '"' in word) else word


def _commands(cmd: str) -> list[tuple[tuple[str, ...], bool]]:
    """(words, whether its input is piped from the command before) for each simple command."""
    out: list[tuple[tuple[str, ...], bool]] = []
    if "<<" in cmd:
        cmd = _BODY.sub(lambda m: "<< " + m.group(2) + m.group(3), cmd)  # the body is data, not commands
    cmd = _FD_DUP.sub(" ", cmd.replace("\\\n", " ")).replace("&>", " >")  # `2>&1`, `>&2` are no operators
    cur: list[str] = []
    piped = False
    for t in [*_TOKEN.findall(cmd), ";"]:
        if t.startswith("#"):
            continue
        if t != "\n" and t not in _OPS:
            cur.append(t)
            continue
        while cur and (_ASSIGN.match(cur[0]) or cur[0] in _PREFIXES):
            cur.pop(0)
            if cur and cur[0][:1].isdigit():  # timeout 30 cmd
                cur.pop(0)
        if cur:
            cur[0] = _unquote(cur[0]).rsplit("/", 1)[-1]
            out.append((tuple(cur), piped))
        piped = t in ("|", "|&")
        cur = []
    return out
