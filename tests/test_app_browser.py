"""The app in a real browser: Debian's chromium driven headless by Playwright for Python.

Open the page, press Run, wait for the gallery to fill and the chart to draw, press Stop, check the
search ended with everything kept and take a screenshot (test-artifacts/app-stopped.png, and
$TSEARCH_SCREENSHOT when set). A second tab stays untouched. Uses `gmm` unless
TSEARCH_BROWSER_MODEL names another model (e.g. shapes, for the screenshots in docs/).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from served import ARGS, CHROMIUM, served

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (no browser download needed)")
if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium", allow_module_level=True)

from tsearch.app import build_demo  # noqa: E402


def _serve(tmp_path_factory, model: str):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # as app.py does on a 2-core machine: the browser needs a core too
    os.environ["TSEARCH_APP_RUNS"] = str(tmp_path_factory.mktemp("runs"))
    # a budget far beyond what the test waits for, so the search is still running when Stop is pressed
    demo = build_demo(model=model, budget=20000)
    with served(demo) as url:
        yield url
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    yield from _serve(tmp_path_factory, os.environ.get("TSEARCH_BROWSER_MODEL", "gmm"))


@pytest.fixture(scope="module")
def text_url(tmp_path_factory):
    yield from _serve(tmp_path_factory, "shapes")   # the bundled text-to-image model: a prompt box to press Enter in


def test_run_watch_and_stop_in_a_browser(url):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1400})
            other = browser.new_page()
            for tab in (page, other):
                tab.goto(url)
                tab.wait_for_selector("#run", timeout=30_000)
            page.wait_for_selector("#chart .main-svg", timeout=30_000)   # the empty chart: plotting is ready
            page.get_by_text("Advanced: algorithm parameters").click()
            page.get_by_label("Batch size").fill("1")   # one candidate per batch: a slower, longer search
            page.click("#run")
            page.wait_for_function("document.querySelectorAll('#gallery img').length >= 8", timeout=60_000)
            page.wait_for_selector("#chart .main-svg", timeout=30_000)
            page.wait_for_function("document.querySelectorAll('#chart .scatterlayer .point').length >= 8",
                                   timeout=30_000)
            page.wait_for_selector("#best img", timeout=30_000)
            status = page.inner_text("#status")
            assert status.startswith("Running") and "NFEs" in status and "candidates/s" in status
            assert "score" in page.inner_text("#gallery") or page.locator("#gallery img").count() >= 8
            pixelated = page.eval_on_selector("#gallery img", "img => getComputedStyle(img).imageRendering")
            assert pixelated == "pixelated"

            # Stop at once: gmm spends the 20,000 NFEs in seconds, and a full-page screenshot before Stop let the
            # search finish first (Stop is disabled once it ends) on a loaded machine
            page.click("#stop")
            page.wait_for_function("document.querySelector('#status').innerText.startsWith('Stopped')",
                                   timeout=30_000)
            stopped = page.inner_text("#status")
            spent = int(re.search(r"(\d+) / 20000 NFEs", stopped).group(1))
            assert 0 < spent < 20000 and "everything found so far is kept" in stopped
            assert page.locator("#gallery img").count() >= 8   # what was found stays on the page
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "app-stopped.png"), full_page=True)
            if os.environ.get("TSEARCH_SCREENSHOT"):
                page.screenshot(path=os.environ["TSEARCH_SCREENSHOT"], full_page=True)

            # the other tab has its own session: nothing of this search reached it
            assert other.locator("#gallery img").count() == 0
            assert other.inner_text("#status").startswith("Press")
        finally:
            browser.close()


def _tabs_to_run(page, most: int = 12) -> int:
    """Tab presses from page load until Run has the keyboard focus (most + 1 when it never does)."""
    for presses in range(1, most + 1):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "run":
            return presses
    return most + 1


def _running(page) -> None:
    """A search is running: the status says so, Run says so and is off, Stop is on, the model is fixed."""
    page.wait_for_function("document.querySelector('#status').innerText.startsWith('Running')", timeout=60_000)
    page.wait_for_function("document.querySelector('#run').disabled", timeout=10_000)
    assert page.inner_text("#run").startswith("Running")
    assert page.is_enabled("#stop")
    assert page.get_by_label("Model").is_disabled()


def _stop(page) -> None:
    """Stop the running search; Run and the model come back, Stop goes off."""
    page.click("#stop")
    page.wait_for_function("document.querySelector('#status').innerText.startsWith('Stopped')", timeout=30_000)
    page.wait_for_function("!document.querySelector('#run').disabled", timeout=10_000)
    assert page.inner_text("#run") == "Run" and page.is_disabled("#stop") and page.get_by_label("Model").is_enabled()


def test_run_is_in_sight_first_in_keyboard_order_and_shows_a_search_running(text_url):
    """Desktop 1440x900: Run in the first screen, reached in at most 12 Tab presses, Stop off before a search;
    Enter in the prompt runs one, Run and Stop show it, and come back after Stop and after an error; a phone
    (390x844): Run within two screens, and after Run the live status is scrolled into view."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(text_url)
            page.wait_for_selector("#chart .main-svg", timeout=60_000)
            box = page.locator("#run").bounding_box()
            assert box["y"] + box["height"] <= 900, f"Run at {box} is below the first 900 px"
            status = page.locator("#status").bounding_box()
            assert status["y"] + status["height"] <= 900, f"the status at {status} is below the first screen"
            assert page.is_disabled("#stop") and page.is_enabled("#run")
            presses = _tabs_to_run(page)
            assert presses <= 12, "Run is not reached in 12 Tab presses"
            page.get_by_label("Prompt").press("Enter")
            _running(page)
            _stop(page)
            page.get_by_label("Prompt").fill("")   # a search refused with an error: Run back, Stop off
            page.click("#run")
            page.get_by_text("write a prompt").first.wait_for(timeout=30_000)
            page.wait_for_function("!document.querySelector('#run').disabled", timeout=10_000)
            assert page.inner_text("#run") == "Run" and page.is_disabled("#stop")

            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(text_url)
            phone.wait_for_selector("#chart .main-svg", timeout=60_000)
            box = phone.locator("#run").bounding_box()
            assert box["y"] + box["height"] <= 2 * 844, f"Run at {box} is beyond two phone screens"
            phone.locator("#run").scroll_into_view_if_needed()
            phone.click("#run")
            _running(phone)
            status = phone.locator("#status").bounding_box()   # relative to the viewport: in sight
            assert 0 <= status["y"] < 844, f"the status at {status} is out of sight after Run"
            _stop(phone)
        finally:
            browser.close()
