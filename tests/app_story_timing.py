"""Time the default Run in a real browser: seconds to the first candidate and to the finished status.

    OMP_NUM_THREADS=1 GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 python tests/app_story_timing.py [--shots DIR]

Opens the page as a newcomer does (nothing changed), presses Run, and prints the page's own time
estimate, the seconds until the first gallery image and until the status says Done. With --shots it
saves screenshots of the finished page at 1440x900 (from the top) and 390x844 (scrolled to the status, as
the page does after Run there) into DIR, each with a whole-page one.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time

from served import ARGS, CHROMIUM, served   # tests/ is on the path when this file is run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", default=None, help="folder for screenshots of the finished default Run")
    args = parser.parse_args()
    import torch
    from playwright.sync_api import sync_playwright

    from tsearch.app import build_demo

    torch.set_num_threads(1)
    os.environ.setdefault("TSEARCH_APP_RUNS", tempfile.mkdtemp())
    demo = build_demo()
    with served(demo) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(url)
        page.wait_for_selector("#chart .main-svg", timeout=60_000)
        try:   # the estimate is measured on load (a short search the first time)
            page.wait_for_function("document.body.innerText.includes('NFEs take')", timeout=180_000)
        except Exception:  # noqa: BLE001 - a page that shows none is reported, not a crash
            pass
        estimate = page.inner_text("body")
        line = next((s for s in estimate.splitlines() if "NFEs take" in s), "no estimate shown")
        t0 = time.perf_counter()
        page.click("#run")
        page.wait_for_function("document.querySelectorAll('#gallery img').length >= 1", timeout=120_000)
        first = time.perf_counter() - t0
        page.wait_for_function("document.querySelector('#status').innerText.startsWith('Done')",
                               timeout=600_000, polling=100)
        done = time.perf_counter() - t0
        print(f"estimate shown: {line.strip()}")
        said = re.search(r"NFEs take about (\d+)(?:-(\d+))? s", line)   # a figure, or a range on a busy machine
        ratio = f" ({done / int(said.group(2) or said.group(1)):.2f}x the estimate's upper end)" if said else ""
        print(f"first candidate after {first:.1f} s; finished after {done:.1f} s{ratio}")
        print("status:", page.inner_text("#status").replace("\n", " "))
        if args.shots:   # what the window shows after the Run, and the whole page
            page.wait_for_timeout(1500)
            for width, height in ((1440, 900), (390, 844)):
                page.set_viewport_size({"width": width, "height": height})
                page.wait_for_timeout(1000)
                # as the page shows it after Run: from the top on a desktop, the status at the top on a phone
                page.evaluate("window.scrollTo(0, 0)")
                if width < 1000:
                    page.locator("#status").evaluate("status => status.scrollIntoView({block: 'start'})")
                page.screenshot(path=os.path.join(args.shots, f"app-{width}x{height}.png"))
                page.screenshot(path=os.path.join(args.shots, f"app-{width}x{height}-full.png"), full_page=True)
        browser.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
