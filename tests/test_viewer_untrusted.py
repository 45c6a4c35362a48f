"""The viewer as an attack surface, in a real browser (Debian's Chromium via Playwright, as in
test_viewer_browser.py) against `contextkit view` as a user starts it.

- Run text is untrusted: one run per surface (tests/hostile_runs.py) fills it with markdown images,
  links, raw HTML and Streamlit directives pointing at an outside host; the replay page, at every
  step with every expander open, shows the text and makes no request to any host but the viewer's,
  and its page holds no element that could load one.
- The viewer itself fetches nothing from outside: every page, loaded, asks only the viewer.
- DNS rebinding: a request (HTTP or the WebSocket that carries the traces) whose Host header is not
  the address served is refused; the viewer binds 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import urllib.parse
import urllib.request

from contextkit.viewer.launch import free_port

import pytest
from helpers import REPO, stop_process
from hostile_runs import ATTACKER, SURFACES
from test_viewer_browser import ARGS, _chromium, _idle, _wait_healthy

pytestmark = pytest.mark.browser

DANGEROUS = f"""() => {{
  const bad = [];
  for (const el of document.querySelectorAll('img,iframe,video,audio,source,embed,object,link,image,a,[style],[srcset]')) {{
    for (const a of ['src', 'href', 'srcset', 'data', 'style', 'xlink:href', 'poster']) {{
      const v = el.getAttribute(a);
      if (v && v.includes('{ATTACKER}')) bad.push(el.tagName + ' ' + a + '=' + v.slice(0, 80));
    }}
  }}
  return bad;
}}"""


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "traces.duckdb"
    done = subprocess.run([sys.executable, str(REPO / "tests" / "hostile_runs.py"), str(path)],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"tests/hostile_runs.py failed:\n{done.stderr[-3000:]}")
    return path, json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def viewer(hostile_store, tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "contextkit", "view", str(hostile_store[0]), "--port", str(port)],
                            env=dict(os.environ, HOME=str(home)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=home)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url, port
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(), args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class Recorder:
    """Every request the page makes; any not to the viewer is recorded and aborted (we are offline)."""

    def __init__(self, context, own: str):
        self.own = own
        self.all: list[str] = []
        self.outside: list[str] = []
        context.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        self.all.append(url)
        if urllib.parse.urlsplit(url).netloc == self.own or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()


def _open_everything(page) -> None:
    """Expand every collapsed expander, so nothing the page holds stays unrendered."""
    for _ in range(3):
        closed = page.locator("[data-testid='stExpander'] details:not([open]) > summary")
        n = closed.count()
        if not n:
            return
        for _ in range(n):
            closed.nth(0).click()
        _idle(page)


def _visit_every_step(page, sentinel: str) -> tuple[list[str], bool]:
    """From the last step back to the first: open everything, collect dangerous elements, and
    whether the sentinel text was on the page at some step."""
    found, seen = [], False
    slider = page.get_by_role("slider")
    steps = 1 if slider.count() == 0 else int(slider.get_attribute("aria-valuemax") or 1)
    for k in range(steps):
        _open_everything(page)
        page.wait_for_timeout(300)
        found += page.evaluate(DANGEROUS)
        seen = seen or page.get_by_text(sentinel, exact=False).count() > 0
        if k < steps - 1:
            slider.focus()
            slider.press("ArrowLeft")
            _idle(page)
    return found, seen


@pytest.mark.parametrize("surface", SURFACES)
def test_hostile_text_in_a_run_makes_the_replay_page_fetch_nothing(viewer, hostile_store, browser, surface):
    url, port = viewer
    run_id = hostile_store[1][surface]
    context = browser.new_context(viewport={"width": 1500, "height": 2400})
    rec = Recorder(context, f"127.0.0.1:{port}")
    try:
        page = context.new_page()
        page.goto(f"{url}/replay?run={run_id}")
        page.get_by_text("Context window at step", exact=False).first.wait_for(timeout=60_000)
        _idle(page)
        dangerous, seen_sentinel = _visit_every_step(page, f"SENTINEL-{surface}")
        page.wait_for_timeout(500)
    finally:
        context.close()
    assert seen_sentinel, f"the {surface} text was not shown at all"
    assert not dangerous, f"{surface}: elements that could load: {dangerous[:5]}"
    assert not rec.outside, f"{surface}: requests to other hosts: {rec.outside[:5]}"
    assert any("/_stcore/" in u or "/static/" in u for u in rec.all)  # the recorder saw the page load


@pytest.mark.parametrize("page_name", ["", "replay", "compare", "whatif"])
def test_no_page_asks_any_other_host(viewer, hostile_store, browser, page_name):
    """Icons, fonts, the favicon: all served by the viewer (Streamlit's material page icon came from
    an outside host on every load). The pages that pick a run open on the one with a hostile name
    and model (headers, pickers, tables, chart labels)."""
    url, port = viewer
    query = f"?run={hostile_store[1]['run_name']}" if page_name else ""
    context = browser.new_context(viewport={"width": 1500, "height": 1800})
    rec = Recorder(context, f"127.0.0.1:{port}")
    console = []
    try:
        page = context.new_page()
        page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        page.goto(f"{url}/{page_name}{query}")
        page.get_by_text({"": "Runs", "replay": "Replay", "compare": "Compare", "whatif": "What-if"}[page_name],
                         exact=True).first.wait_for(timeout=60_000)
        _idle(page)
        if page_name == "whatif":  # replay it offline: the results table and charts name the policies
            page.get_by_role("button", name="Replay offline").click()
            page.get_by_text("would have saved", exact=False).first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        dangerous = page.evaluate(DANGEROUS)
    finally:
        context.close()
    assert not dangerous, dangerous[:5]
    assert not rec.outside, rec.outside
    assert not [c for c in console if "ERR_FAILED" in c or "net::" in c], console


def _ws_status(port: int, host: str) -> str:
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall((f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: streamlit\r\n"
                   f"Origin: http://{host}\r\n\r\n").encode())
        return s.recv(200).split(b"\r\n")[0].decode()


def _http_status(port: int, host: str, path: str = "/") -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.parametrize("host", ["attacker.example", f"{ATTACKER}:8080", "127.0.0.1.nip.io", "evil.localhost.example"])
def test_a_foreign_host_header_is_refused_http_and_websocket(viewer, host):
    port = viewer[1]
    assert _http_status(port, host) == 400
    assert _http_status(port, host, "/_stcore/health") == 400
    assert " 101 " not in _ws_status(port, host) + " "
    assert "400" in _ws_status(port, host)


def test_the_served_address_is_accepted_and_only_loopback_is_bound(viewer):
    port = viewer[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        assert _http_status(port, host) == 200
        assert " 101 " in _ws_status(port, host) + " "
    # bound to 127.0.0.1 only: another loopback address (which a 0.0.0.0 bind would answer) does not
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.2", port), timeout=2).close()
