"""viewer.safe and the launcher without a browser (tests/test_viewer_untrusted.py has the browser):
what reaches Streamlit's markdown holds no markup, what reaches st.html holds no tag that loads."""

from __future__ import annotations

import re

from contextkit.viewer.launch import allowed_hosts, command
from contextkit.viewer.safe import markdown_html, plain

import pytest

HOSTILE = ("![i](http://a.invalid/i.png) [l](https://a.invalid/l) <img src=x onerror=alert(1)> <https://a.invalid/auto> "
           "www.a.invalid me@a.invalid :material/home: :red[x] $x^2$ <iframe src=//a.invalid></iframe>\n\n[r]: http://a.invalid/r\n![r]")


def test_plain_escapes_every_markup_character_and_breaks_urls():
    out = plain(HOSTILE)
    unescaped = re.findall(r"(?<!\\)[\[\]()<>!:$`]", out)
    assert not unescaped, unescaped
    assert "://" not in out.replace("\\", "") and "www." not in out.replace("\\", "") and "e@" not in out
    assert plain("repo-inspector read_file v1.2") == "repo-inspector read_file v1.2"  # names stay readable
    assert "\n" not in plain("a\nb", one_line=True)


def test_markdown_keeps_formatting_and_drops_every_loading_tag():
    html = markdown_html(HOSTILE + "\n\n# Title\n\n- **bold** `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert not re.search(r"<(img|a|iframe|video|audio|source|link|script|style|object|embed)\b", html), html
    assert not re.search(r"<[^>]*\s(src|href|style)=", html)  # no tag carries a URL
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html and "<code>code</code>" in html and "<table>" in html
    assert "&lt;img" in html and "![i](http://a.invalid/i.png)" in html  # shown as written


@pytest.mark.parametrize("address,extra,want", [
    ("127.0.0.1", [], ["127.0.0.1", "localhost"]),
    ("127.0.0.1", ["viewer.corp.example"], ["127.0.0.1", "localhost", "viewer.corp.example"]),
    ("10.1.2.3", [], ["10.1.2.3"]),
])
def test_the_viewer_accepts_only_the_address_it_serves(address, extra, want):
    assert allowed_hosts(address, extra) == want


def test_the_launcher_runs_the_host_checking_app_on_loopback():
    cmd = command(8501)
    assert any(c.endswith("viewer/server.py") for c in cmd)
    assert "--server.address=127.0.0.1" in cmd and "--browser.gatherUsageStats=false" in cmd
