"""The verifier's evidence on the page (issue 27, item 4) in a real browser: with `shapes-parts` among the
verifiers, each gallery caption carries one pass/fail mark per atom of the prompt, and the best image
is shown with the detected boxes drawn over it."""

from __future__ import annotations

import os

import pytest
from served import ARGS, CHROMIUM

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (no browser download needed)")
if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium", allow_module_level=True)

from tests.test_app_browser import _serve  # noqa: E402


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    yield from _serve(tmp_path_factory, "shapes")


def test_atom_marks_under_thumbnails_and_boxes_over_the_best(url):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1400})
            page.goto(url)
            page.wait_for_selector("#chart .main-svg", timeout=60_000)
            page.get_by_label("Prompt").fill("a circle to the left of a square")
            verifiers = page.get_by_label("Verifiers")
            verifiers.click()
            verifiers.fill("shapes-parts")
            verifiers.press("Enter")
            page.keyboard.press("Escape")
            budget = page.locator("input[type=number][aria-label*='Budget']")
            budget.fill("80")
            budget.press("Tab")
            page.click("#run")
            page.wait_for_function("document.querySelector('#status').innerText.startsWith('Done')", timeout=120_000)
            page.wait_for_function("/[✓✗?] [✓✗?] [✓✗?]/.test(document.querySelector('#gallery').innerText)", timeout=30_000)
            lines = [line for line in page.inner_text("#gallery").splitlines() if line and set(line) <= set("✓✗? ")]
            assert lines and all(len(line.split()) == 3 for line in lines)   # circle, square, the relation
            page.wait_for_function("(document.querySelector('#best img') || {src: ''}).src.includes('_boxes')",
                                   timeout=30_000)
        finally:
            browser.close()
