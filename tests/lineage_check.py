"""The Lineage view's check in a real browser, shared by the browser tests: after a Run of the page, the view
shows one node per scored candidate (previews and drafts included), one edge per candidate with a parent, and the
best's ancestry, as the run's records on disk say (the run folder under $TSEARCH_APP_RUNS)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from tsearch.lineage import ancestry, sources
from tsearch.runs import load_run

SHOWN = """() => {
  const p = document.querySelector('#lineage .js-plotly-plot');
  if (!p || !p.data) return null;
  const edges = name => { const t = p.data.find(t => t.name === name); return t ? t.meta.edges : 0; };
  const chain = p.data.find(t => t.name.startsWith("the best's ancestry"));
  return {title: p.layout.title.text, best: p.layout.meta.best, x: p.layout.xaxis.title.text,
          scored: p.layout.meta.scored, nodes: p.data.filter(t => t.customdata).flatMap(t => t.customdata.map(d => d[0])),
          parents: edges('parent → child') + edges('draft → its full render'),
          ancestry: chain ? chain.meta.ancestry : []};
}"""


def latest_run(algorithm: str):
    """The newest run folder of `algorithm` under $TSEARCH_APP_RUNS, loaded."""
    folders = [p.parent for p in Path(os.environ["TSEARCH_APP_RUNS"]).rglob("run.json")
               if json.loads(p.read_text())["config"]["algorithm"] == algorithm]
    return load_run(max(folders, key=lambda p: p.stat().st_mtime))


def check_lineage(page, algorithm: str, label: str | None = None) -> dict:
    """Open the Lineage tab after a finished Run of `algorithm`, check it against the run on disk, and go back
    to the chart; returns what the view showed. Past the view's node limit it shows a subset (and says so):
    then every node it shows is a scored candidate, and every parent of one is drawn."""
    run = latest_run(algorithm)
    scored = sorted(c.id for c in run.candidates if c.score is not None and math.isfinite(c.score))
    page.get_by_role("tab", name="Lineage").click()
    page.wait_for_function(f"() => {{ const s = ({SHOWN})(); return s && s.title.startsWith('{algorithm}: lineage · ')"
                           f" && s.scored === {len(scored)}; }}", timeout=15_000)
    shown = page.evaluate(SHOWN)
    name, drawn = label or algorithm, set(shown["nodes"])
    if len(drawn) == len(scored):
        assert sorted(shown["nodes"]) == scored, f"{name}: one node per scored candidate"
    else:
        assert drawn < set(scored) and f"of {len(scored):,} candidates shown" in shown["title"], name
    parents = {c.id: c.parent for c in run.candidates}
    assert all(parents[i] is None or parents[i] in drawn for i in drawn), f"{name}: a drawn node's parent is missing"
    assert shown["parents"] == sum(parents[i] is not None for i in drawn), f"{name}: one edge per parent"
    best = int(page.inner_text("#best-card").split("#")[1].split()[0].rstrip(":"))
    assert shown["best"] == best, f"{name}: the lineage's best #{shown['best']} is not the page's #{best}"
    assert shown["ancestry"] == ancestry(best, sources(run.candidates)), f"{name}: the best's ancestry"
    page.get_by_role("tab", name="Compute vs score").click()
    return shown
