"""Screenshots of the app's Lineage view at 1440x900, for docs/lineage.md.

    OMP_NUM_THREADS=1 GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 python tests/lineage_shots.py [--out docs]

Opens the page as a newcomer does (the default model and budget), and for zero-order, smc and tree: picks the
algorithm, opens the Lineage tab, presses Run, waits for the finished run's lineage, clicks its best node (its
image and recipe show under the view) and saves OUT/lineage-NAME.png, scrolled to the view.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from served import ARGS, CHROMIUM, served   # tests/ is on the path when this file is run

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # and the repository, for tsearch

ALGORITHMS = ("zero-order", "smc", "tree")
CLICK_BEST = """() => { const p = document.querySelector('#lineage .js-plotly-plot');
  const best = p.layout.meta.best; const d = p.data.flatMap(t => t.customdata || []).find(d => d[0] === best);
  p.emit('plotly_click', {points: [{customdata: d}]}); return best; }"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs", help="folder for lineage-NAME.png (default docs)")
    args = parser.parse_args()
    import torch
    from playwright.sync_api import sync_playwright

    from tsearch.app import build_demo

    torch.set_num_threads(1)
    os.environ.setdefault("TSEARCH_APP_RUNS", tempfile.mkdtemp())
    with served(build_demo()) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(url)
        page.wait_for_selector("#chart .main-svg", timeout=60_000)
        page.get_by_role("tab", name="Lineage").click()
        for name in ALGORITHMS:
            page.get_by_label(name, exact=True).check()
            page.click("#run")
            page.wait_for_function("name => { const p = document.querySelector('#lineage .js-plotly-plot');"
                                   " return document.querySelector('#status').innerText.startsWith('Done') &&"
                                   " p && p.layout.title.text.startsWith(name + ': lineage'); }",
                                   arg=name, timeout=600_000, polling=200)   # this run's, not the last one's
            count = int(page.inner_text("#status").split(" candidates")[0].split("·")[-1].replace(",", ""))
            page.wait_for_function("([name, n]) => { const p = document.querySelector('#lineage .js-plotly-plot');"
                                   " return p && p.layout.title.text.startsWith(name + ': lineage') &&"
                                   " p.layout.meta.scored === n; }", arg=[name, count], timeout=30_000)
            best = page.evaluate(CLICK_BEST)
            page.wait_for_function("id => document.querySelector('#lineage-card').innerText.startsWith('#' + id + ':')",
                                   arg=best, timeout=30_000)
            page.wait_for_timeout(1000)   # the clicked image loads
            page.locator("#chart-tabs").evaluate("tabs => tabs.scrollIntoView({block: 'start'})")
            page.evaluate("window.scrollBy(0, -8)")
            path = os.path.join(args.out, f"lineage-{name}.png")
            page.screenshot(path=path)
            print(f"wrote {path}: {count} candidates, best #{best}")
        browser.close()


if __name__ == "__main__":
    main()
