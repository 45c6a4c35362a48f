"""Text from a run is untrusted: the model wrote it, or a tool, a provider, a prompt injection.
Shown here, nothing in it can make the browser fetch anything: no image, no link that loads, no
HTML, no Streamlit directive. Every viewer surface that shows run text goes through one of these.

- `plain(text)`: for Streamlit markdown (labels, headers, captions, alerts): the characters markup
  is made of backslash-escaped, URLs broken by an invisible joiner, so nothing in it is markup
  (`![x](url)`, `<img>`, `:material/..:`, `:red[..]`, `$..$`, autolinks).
- `markdown(text)`: a model's answer or reasoning with its formatting (headings, lists, code,
  tables), rendered by markdown-it-py with raw HTML, links and images turned off (they show as the
  text that was written), then shown with `st.html` (only the tags markdown-it itself makes).
- `code(text)`: raw content (tool results, arguments, prompts) in a code box, never interpreted.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal

import streamlit as st

# What markdown builds links, images, HTML, code, math, tables, emphasis and Streamlit's directives
# (`:material/..:`, `:red[..]`) from; `-`, `.`, `_` and `#` stay (at worst a list or a heading).
_PUNCT = re.compile(r"([\\`*\[\]()<>!:$&|~{}])")
_LINKISH = re.compile(r"://|(?i:\bwww)\.|[\w.+-]@")  # what GFM autolinks: scheme://, www., user@host
_JOINER = "\u2060"  # WORD JOINER: invisible, and no URL pattern matches across it
CSS = """
.ck-md { font-size: 1rem; line-height: 1.55; overflow-wrap: anywhere; }
.ck-md > :first-child { margin-top: 0; }
.ck-md pre { background: #f5f7fb; padding: 0.6rem 0.8rem; border-radius: 0.4rem; white-space: pre-wrap; }
.ck-md code { background: #f5f7fb; padding: 0.05rem 0.25rem; border-radius: 0.25rem; font-size: 0.88em; }
.ck-md table { border-collapse: collapse; } .ck-md th, .ck-md td { border: 1px solid #e5e7eb; padding: 0.2rem 0.5rem; }
.ck-md blockquote { border-left: 3px solid #cbd5e1; margin-left: 0; padding-left: 0.8rem; color: #4b5563; }
"""


def plain(text: Any, *, one_line: bool = False) -> str:
    """`text` for a place that reads Streamlit markdown, shown literally (newlines kept as breaks,
    or folded into spaces with `one_line`, for labels). Streamlit also turns URLs and emails in
    plain text into links after parsing, escapes or not: an invisible word joiner breaks them."""
    s = "" if text is None else str(text)
    s = _LINKISH.sub(lambda m: m.group(0)[:-1] + _JOINER + m.group(0)[-1], s.replace("\r", ""))
    s = _PUNCT.sub(r"\\\1", s)
    return " ".join(s.split()) if one_line else s.replace("\n", "  \n")


@lru_cache(maxsize=1)
def _renderer():
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    # Links, images, autolinks and link reference definitions show as the text that was written.
    md.disable(["link", "image", "autolink", "reference"])
    return md


def markdown_html(text: Any) -> str:
    """A model's markdown as HTML that cannot fetch: markdown-it-py makes every tag (text escaped,
    raw HTML off, links and images off)."""
    return _renderer().render("" if text is None else str(text))


def markdown(text: Any) -> None:
    """Show a model's markdown (answer, reasoning, an assistant turn) with its formatting, safely."""
    body = markdown_html(text)
    if body.strip():
        st.html(f'<div class="ck-md">{body}</div>')


def code(text: Any, *, language: str | None = None, height: int | Literal["content", "stretch"] = "content") -> None:
    """Raw content in a wrapped code box (`st.code` shows text as it is)."""
    st.code("" if text is None else str(text) or " ", language=language, wrap_lines=True, height=height)
