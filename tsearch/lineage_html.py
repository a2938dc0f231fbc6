"""A run folder's lineage as one HTML page (`tsearch report RUN --lineage OUT.html`).

The page holds plotly and the figure of `tsearch.lineage` (so it opens offline); hovering a node shows its
thumbnail, read from the run's images/ beside it (a path relative to the page), and clicking one shows it
large with its whole recipe under the figure.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

from tsearch.lineage import lineage_figure
from tsearch.recipes import recipe_text

# Hover: the node's thumbnail in the corner; click: the image large and its recipe under the figure.
SCRIPT = """
const wire = () => {
const plot = document.getElementById('{plot_id}');
const tip = document.getElementById('lineage-thumb'), pick = document.getElementById('lineage-pick');
const recipes = JSON.parse(document.getElementById('lineage-recipes').textContent);
plot.on('plotly_hover', e => { const d = e.points[0].customdata; if (!d || !d[7]) return;
  tip.src = d[7]; tip.style.display = 'block'; });
plot.on('plotly_unhover', () => { tip.style.display = 'none'; });
plot.on('plotly_click', e => { const d = e.points[0].customdata; if (!d) return;
  pick.querySelector('img').src = d[7] || ''; pick.querySelector('img').style.display = d[7] ? 'block' : 'none';
  pick.querySelector('p').textContent = '#' + d[0] + ' (' + d[4] + '), score ' + e.points[0].y + ', round ' + d[2]
    + ', ' + d[3] + ' NFEs spent, parent ' + d[1] + '. ' + d[5];
  pick.querySelector('code').textContent = recipes[d[0]] || ''; });
};
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', wire); else wire();
"""
STYLE = """body { font-family: sans-serif; color: #333; margin: 16px; }
#lineage-thumb { position: fixed; top: 12px; right: 12px; width: 128px; image-rendering: pixelated;
  border: 1px solid #999; background: white; display: none; z-index: 10; }
#lineage-pick img { width: 256px; image-rendering: pixelated; display: none; }
#lineage-pick code { white-space: pre-wrap; overflow-wrap: anywhere; }"""


def write(run_dir: str | os.PathLike, out: str | os.PathLike, x: str = "nfe") -> Path:
    """Write `out` (an .html file) from the run folder `run_dir`; ValueError naming what is wrong."""
    from tsearch.runs import load_run

    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"--lineage writes an HTML page: give a file name ending in .html, got {str(out)!r}")
    if not (Path(run_dir) / "candidates.jsonl").is_file():
        raise ValueError(f"{run_dir} is not a run folder (it has no candidates.jsonl); give the folder a search wrote")
    run = load_run(run_dir)
    if not run.candidates:
        raise ValueError(f"{run_dir} holds no scored candidate yet: nothing to draw")
    config, summary = run.config or {}, run.summary or {}
    best = summary.get("best_id") if isinstance(summary.get("best_id"), int) else None
    here = out.resolve().parent

    def image(candidate):
        return Path(os.path.relpath(candidate.image_path, here)).as_posix() if candidate.image_path else None

    title = f"{config.get('algorithm', 'search')} on {config.get('model', '?')}: lineage"
    figure = lineage_figure(run.candidates, best=best, x=x, title=title, image=image)
    recipes = {str(c.id): recipe_text(c.recipe) for c in run.candidates}
    body = figure.to_html(include_plotlyjs=True, full_html=False, post_script=SCRIPT, div_id="lineage")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title><style>"
            + STYLE + "</style></head><body>" + body + "<img id='lineage-thumb' alt='thumbnail of the hovered node'>"
            "<div id='lineage-pick'><p>Click a node: its image and recipe show here.</p><img alt='the clicked node'>"
            "<code></code></div><script type='application/json' id='lineage-recipes'>"
            + json.dumps(recipes).replace("</", "<\\/") + "</script></body></html>")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
