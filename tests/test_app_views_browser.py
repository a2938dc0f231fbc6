"""The x axis, the gmm picture and the Compare tab's pickers in a real browser (Debian's chromium, headless).

One page on gmm: the density picture is there before Run and fills with the candidates as the search goes;
the chart's x axis switches to seconds naming the device; the Compare tab shows only the picker that applies
and a results table after Compare; choosing another model hides the picture.
"""

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
    yield from _serve(tmp_path_factory, "gmm")


def _points(page, plot: str) -> int:
    return page.evaluate(f"document.querySelectorAll('{plot} .scatterlayer .point').length")


def test_axis_density_and_compare_pickers_in_a_browser(url):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1400})
            page.goto(url)
            page.wait_for_selector("#density .main-svg", timeout=60_000)   # gmm: the density before any run
            before = _points(page, "#density")
            budget = page.locator("input[type=number][aria-label*='Budget']")
            budget.fill("200")
            budget.press("Tab")
            page.click("#run")
            page.wait_for_function("document.querySelector('#status').innerText.startsWith('Done')", timeout=60_000)
            page.wait_for_function(f"document.querySelectorAll('#density .scatterlayer .point').length >= {before + 20}",
                                   timeout=30_000)   # every candidate of the search drawn over the density
            page.locator("#cost-axis input[value='seconds']").check()
            page.wait_for_function("document.querySelector('#chart').innerText.includes('seconds on cpu')",
                                   timeout=30_000)
            assert "NFEs spent" not in page.inner_text("#chart")

            page.get_by_role("tab", name="Compare").click()
            assert page.get_by_label("Algorithms").first.is_visible()
            assert not page.get_by_text("Verifiers (one run each)").is_visible()
            page.locator("input[type=radio][value='verifiers']").check()
            page.get_by_text("Verifiers (one run each)").wait_for(state="visible", timeout=10_000)
            assert not page.get_by_text("Algorithms", exact=True).is_visible()
            page.locator("input[type=radio][value='algorithms']").check()
            page.get_by_text("Algorithms", exact=True).wait_for(state="visible", timeout=10_000)
            page.wait_for_function("document.querySelector('#compare-estimate').innerText.includes('2 runs of 200')",
                                   timeout=30_000)
            page.click("#compare")
            page.wait_for_function("document.querySelector('#compare-table').innerText.includes('zero-order')",
                                   timeout=60_000)
            table = page.inner_text("#compare-table")
            assert "random" in table and "NFEs to best" in table

            page.get_by_label("Model").first.click()
            page.get_by_role("option", name="shapes").first.click()
            page.wait_for_selector("#density", state="hidden", timeout=60_000)
        finally:
            browser.close()
