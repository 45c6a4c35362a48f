"""The viewer in a real browser: `contextkit view STORE --port P` as a user starts it, Debian's
Chromium driven by Playwright. It picks a run, moves the step scrubber, finds the context window's
composition chart and a pruned message's placeholder that expands to the original, and writes the
screenshot the README shows (docs/img/viewer.png).

CI installs chromium (.ci/run). Without /usr/bin/chromium the test is skipped, except in CI
(CONTEXTKIT_REQUIRE_EXTERNAL=1), where it fails.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import urllib.request

from contextkit.tracing.store import TraceStore
from contextkit.viewer.launch import free_port

import pytest
from helpers import REPO, missing_external, stop_process

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = REPO / "docs" / "img" / "viewer.png"  # the README's picture: rewritten in CI or on request


def screenshot_path(tmp_path):
    """docs/img/viewer.png in CI (CONTEXTKIT_REQUIRE_EXTERNAL=1) or with CONTEXTKIT_UPDATE_SCREENSHOT=1;
    elsewhere a temporary file, so running the tests never dirties a developer's checkout."""
    if os.environ.get("CONTEXTKIT_UPDATE_SCREENSHOT") == "1" or os.environ.get("CONTEXTKIT_REQUIRE_EXTERNAL") == "1":
        return SCREENSHOT
    return tmp_path / "viewer.png"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


def _chromium() -> str:
    if not os.path.exists(CHROMIUM):
        missing_external(CHROMIUM, "apt-get install chromium")
    return CHROMIUM


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"contextkit view exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"the viewer was not healthy at {url} within {timeout:.0f} s")


@contextlib.contextmanager
def _serve(store_path, home):
    """`contextkit view STORE --port P` as a user starts it; yields its URL."""
    port = free_port()
    env = dict(os.environ, HOME=str(home))  # no ~/.streamlit of the machine's user
    proc = subprocess.Popen([sys.executable, "-m", "contextkit", "view", str(store_path), "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=home)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        stop_process(proc)


@pytest.fixture
def viewer_url(viewer_store, tmp_path):
    with _serve(viewer_store.path, tmp_path) as url:
        yield url


# A run with a span the store refuses (a step no INTEGER column takes), traced into a copy of the
# viewer's store by a child process: the Runs table then shows every column, Unwritten included.
GAP_RUN = textwrap.dedent("""
    import sys
    from contextkit import Session, tracing
    from helpers import conversation
    from tracing_agent import replay
    tracing.configure(db_path=sys.argv[1])
    s = Session(name="with-a-gap")
    replay(s, conversation(n_tools=2))
    with tracing.current().provider.get_tracer("user-code").start_as_current_span(
            "user span", attributes={"session.id": s.id, "contextkit.step": 2**40}):
        pass
    s.close()
    tracing.flush(10)
    assert tracing.flush(5)
    tracing.shutdown(5)
""")


@pytest.fixture
def every_column_url(viewer_store, tmp_path):
    path = tmp_path / "traces.duckdb"
    for f in viewer_store.path.parent.glob(viewer_store.path.name + "*"):  # the file and any write-ahead log
        shutil.copy(f, tmp_path / f.name)
    done = subprocess.run([sys.executable, "-c", GAP_RUN, str(path)], cwd=REPO / "tests", capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert TraceStore(path).unwritten() == 1
    with _serve(path, tmp_path) as url:
        yield url


def _idle(page, timeout: float = 30_000) -> None:
    """Streamlit shows its status widget while a script runs; wait until the run is over."""
    page.wait_for_timeout(300)
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=timeout)


def test_pick_a_run_scrub_and_see_the_context_window_and_a_pruned_placeholder(viewer_store, viewer_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    rid = viewer_store.ids["default"]
    store = TraceStore(viewer_store.path)
    run = store.run(rid)
    steps = [s["step"] for s in store.steps(rid)]
    pruned_steps = sorted({d["step"] for d in store.decisions(rid) if d["action"] == "pruned"})
    target = max(s for s in pruned_steps if s < steps[-1])  # the latest step that pruned something, before the end
    back = steps.index(steps[-1]) - steps.index(target)

    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=_chromium(), args=ARGS, headless=True,
            viewport={"width": 1600, "height": 2050}, device_scale_factor=1)
        try:
            page = browser.new_page()
            page.goto(viewer_url)
            page.get_by_text("Runs", exact=True).first.wait_for(timeout=30_000)
            _idle(page)
            # the runs table is a canvas grid; its cells are mirrored in an (invisible) accessible table
            expect(page.locator("td[role='gridcell']", has_text=run["name"]).first).to_be_attached()

            # pick the run on the replay page
            page.get_by_role("link", name="Replay").click()
            _idle(page)
            page.get_by_test_id("stSelectbox").first.click()
            page.get_by_role("option", name=re.compile(rf"· default · .* · {rid[:8]}")).click()
            _idle(page)
            expect(page.get_by_text(f"Context window at step {steps[-1]}")).to_be_visible()

            # move the scrubber back with the keyboard
            slider = page.get_by_role("slider")
            slider.focus()
            for _ in range(back):
                slider.press("ArrowLeft")
                _idle(page)
            expect(page.get_by_text(f"Context window at step {target}")).to_be_visible()

            # the composition chart and its legend: placeholders are in the window, pruned tokens shown apart
            charts = page.locator("[data-testid='stVegaLiteChart']")
            expect(charts.first).to_be_visible()
            assert charts.count() >= 2
            legend = page.get_by_text("placeholders", exact=False).first
            expect(legend).to_be_visible()
            expect(page.get_by_text("pruned away").first).to_be_visible()
            expect(page.get_by_text(re.compile(r"^\d+ pruned$")).first).to_be_visible()  # what changed at this step

            # a pruned message: its placeholder as sent, expanding to the original
            page.get_by_role("radio", name="Pruned").click()
            _idle(page)
            badge = page.get_by_text(re.compile(r"pruned at step \d+")).first
            expect(badge).to_be_visible()
            pruned = [m for m in store.step_messages(rid, target) if m["state"] == "pruned"]
            handle, first = pruned[-1]["handle"], pruned[-1]  # the list opens on its latest page
            expect(page.get_by_text(f'restore_context("{handle}")').first).to_be_visible()
            original = page.locator("[data-testid='stExpander']").filter(has_text=re.compile(r"Original · [\d,]+ tokens")).last
            original.get_by_text(re.compile(r"^Original · [\d,]+ tokens$")).click()
            line = max(first["original"]["content"].splitlines(), key=lambda x: len(x.strip())).strip()
            expect(original.get_by_text(line[:60], exact=False).first).to_be_visible()

            page.get_by_role("radio", name="Changed").click()  # the screenshot: new messages and fresh placeholders
            _idle(page)
            page.evaluate("window.scrollTo(0, 0)")
            page.wait_for_timeout(800)  # charts finish their transition
            shot = screenshot_path(tmp_path)
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), clip={"x": 0, "y": 0, "width": 1600, "height": 2050})
        finally:
            browser.close()
    assert shot.stat().st_size > 50_000


def test_every_column_of_the_runs_table_fits_a_1440_pixel_window(every_column_url, tmp_path):
    """The table is a canvas grid (glide-data-grid): its columns stand side by side in a div as wide
    as all of them together (.dvn-stack) inside the scrolling one (.dvn-scroller). The last column
    is clipped exactly when the first is wider than what the second shows."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900}, device_scale_factor=1)
            page.goto(every_column_url)
            page.get_by_text("1 span could not be written", exact=False).wait_for(timeout=30_000)
            _idle(page)
            page.locator("[data-testid='stDataFrame'] .dvn-stack").wait_for(state="attached", timeout=30_000)
            page.wait_for_timeout(500)  # the grid sizes its columns after it is attached
            grid = page.evaluate("""() => {
                const table = document.querySelector("[data-testid='stDataFrame']");
                const scroller = table.querySelector(".dvn-scroller"), stack = table.querySelector(".dvn-stack");
                return {window: window.innerWidth, page: document.documentElement.scrollWidth,
                        left: scroller.getBoundingClientRect().left, shown: scroller.clientWidth,
                        columns: stack.getBoundingClientRect().width, scrolls: scroller.scrollWidth,
                        headers: [...table.querySelectorAll("th[role='columnheader']")].map(th => th.textContent)};
            }""")
            page.screenshot(path=str(tmp_path / "runs-1440.png"))
        finally:
            browser.close()
    assert grid["headers"][-2:] == ["Unwritten", "Tags"], grid["headers"]  # every column is there
    assert grid["page"] <= grid["window"], grid  # the page does not scroll sideways
    assert grid["columns"] <= grid["shown"] and grid["scrolls"] <= grid["shown"], grid  # nor does the table
    assert grid["left"] + grid["columns"] <= grid["window"], grid  # the last column ends inside the window
