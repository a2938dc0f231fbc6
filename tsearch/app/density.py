"""gmm as a 2-D picture: a run's samples over the mixture's density, instead of 8x8 colour mosaics.

The gmm model's data is a mixture of isotropic Gaussians N(mu_k, v I) in a 3x8x8 = 192-D space.
Projected on any plane through orthonormal directions, each component is again N(P mu_k, v I_2), so
the plane of the two principal directions of the means shows the mixture's exact marginal density:
a circle of radius 1 and 2 standard deviations around each projected mean. Each candidate's sample
is read back from its PNG (the decoded image is (x + 1) / 2, 8-bit) and projected on the same plane.
The target component (the run's condition) is drawn bold; the star is the run's best (`best.best`).

On the page it is the Search chart's companion, shown only while the model is gmm (`shown_for`) and redrawn
from the tab's run each time the chart is (`view`), so it grows with the search.
"""

from __future__ import annotations

import math
from functools import lru_cache

import gradio as gr
import numpy as np

from tsearch.app import best as best_lib
from tsearch.app.charts import plot, run_meta
from tsearch.app.pool import POOL
from tsearch.app.state import LiveRun, Session
from tsearch.jsonio import finite
from tsearch.registry import Unavailable

TEXT, TARGET, OTHER = "#333333", "#b91c1c", "#71717a"
MODELS = ("gmm",)   # the models drawn as samples over their density: an analytic mixture with `means` and `variance`


def plane(means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(origin, basis[2, D]): the mean of the means and the two principal directions of their spread."""
    origin = means.mean(0)
    _, _, vt = np.linalg.svd(means - origin, full_matrices=False)
    basis = vt[:2]
    if basis.shape[0] < 2:   # one component: any second direction orthogonal to the first
        extra = np.zeros(means.shape[1])
        extra[int(np.argmin(np.abs(basis[0])))] = 1.0
        extra -= basis[0] * (extra @ basis[0])
        basis = np.vstack([basis, extra / np.linalg.norm(extra)])
    return origin, basis


@lru_cache(maxsize=50_000)
def _sample(path: str) -> np.ndarray:
    """A candidate's sample x in the model's space, from its PNG ((x + 1) / 2 in 8 bits, channels first)."""
    from PIL import Image

    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    return (pixels.transpose(2, 0, 1).reshape(-1) * 2.0) - 1.0


def _circles(centres: np.ndarray, sd: float, target: int | None) -> list[dict]:
    shapes = []
    for k, (x, y) in enumerate(centres):
        colour, width = (TARGET, 2.5) if k == target else (OTHER, 1)
        for radius, dash in ((sd, "solid"), (2 * sd, "dot")):
            shapes.append({"type": "circle", "xref": "x", "yref": "y", "x0": x - radius, "x1": x + radius,
                           "y0": y - radius, "y1": y + radius, "line": {"color": colour, "width": width, "dash": dash}})
    return shapes


def _means(centres: np.ndarray, target: int | None) -> dict:
    """Each component's mean, labelled with its class index (the circles alone vanish when zoomed out)."""
    colours = [TARGET if k == target else OTHER for k in range(len(centres))]
    return {"type": "scatter", "mode": "markers+text", "name": "component means (class)",
            "x": centres[:, 0].tolist(), "y": centres[:, 1].tolist(), "text": [str(k) for k in range(len(centres))],
            "textposition": "top right", "textfont": {"color": colours, "size": 13},
            "marker": {"symbol": "x-thin-open", "size": 9, "color": colours, "line": {"width": 2}},
            "hovertemplate": "mean of class %{text}<extra></extra>"}


def gmm_figure(run: LiveRun, means, variance: float) -> dict:
    """Plotly JSON: the run's samples (previews hollow) on the plane of the means, the density's circles."""
    means = np.asarray(means, dtype=np.float64).reshape(len(means), -1)
    origin, basis = plane(means)
    centres = (means - origin) @ basis.T
    rows = [c for c in run.candidates if c.image_path and finite(c.score) is not None]
    xy = np.array([(_sample(c.image_path) - origin) @ basis.T for c in rows]).reshape(-1, 2)
    target = run.condition if isinstance(run.condition, int) and 0 <= run.condition < len(means) else None
    traces = []
    for finished, name, symbol in ((True, "samples", "circle"), (False, "previews", "diamond-open")):
        keep = [i for i, c in enumerate(rows) if c.finished == finished]
        if keep:
            traces.append({"type": "scatter", "mode": "markers", "name": name, "x": xy[keep, 0].tolist(),
                           "y": xy[keep, 1].tolist(), "customdata": [[rows[i].id, rows[i].score] for i in keep],
                           "marker": {"size": 7, "symbol": symbol, "color": [rows[i].score for i in keep],
                                      "colorscale": "Viridis", "showscale": finished,
                                      "colorbar": {"title": {"text": "score"}}},
                           "hovertemplate": "#%{customdata[0]}: score %{customdata[1]:.4g}<extra></extra>"})
    traces.append(_means(centres, target))
    winner = best_lib.best(run)
    if winner is not None and winner in rows:
        i = rows.index(winner)
        traces.append({"type": "scatter", "mode": "markers", "name": f"best: #{winner.id}", "x": [xy[i, 0]],
                       "y": [xy[i, 1]], "marker": {"size": 16, "symbol": "star", "color": "#ffbf00",
                                                   "line": {"color": TEXT, "width": 1}}})
    title = (f"samples on the plane of the {len(means)} component means; circles: 1 and 2 sd of each component"
             + (f" (bold: the target, {target})" if target is not None else ""))
    axis = {"zeroline": False, "gridcolor": "#e5e5e5", "color": TEXT}
    return {"data": traces, "layout": {
        "title": {"text": title, "x": 0.01, "font": {"size": 13, "color": TEXT}}, "height": 420,
        "shapes": _circles(centres, math.sqrt(variance), target), "paper_bgcolor": "white", "plot_bgcolor": "white",
        "xaxis": {**axis, "title": {"text": "first principal direction of the means"}},
        "yaxis": {**axis, "title": {"text": "second"}, "scaleanchor": "x"},
        "legend": {"orientation": "h", "y": -0.2}, "uirevision": "keep-zoom"}}


def mixture(model: str, options: dict | None = None) -> tuple[np.ndarray, float] | None:
    """(means [K, D], variance) of the pool's `model` with `options`; None when it is no mixture or not here."""
    try:
        loaded = POOL.get(model, options or None).model
        return np.asarray(loaded.means.detach().cpu(), dtype=np.float64), float(loaded.variance)
    except (ValueError, Unavailable, OSError, AttributeError, TypeError):
        return None


def _options(run_dir: str | None) -> dict:
    """The model options the run was made with (its run.json), so the picture is of its own mixture."""
    options = run_meta(run_dir).get("config", {}).get("model_options")
    return dict(options) if isinstance(options, dict) else {}


def view(session: Session | None = None):
    """The tab's run over its density, when it is a gmm run (hidden for another model's run; nothing before one)."""
    run = session.shown.run if session is not None else None
    if run is None or not run.model:
        return gr.skip()
    found = mixture(run.model, _options(run.run_dir)) if run.model in MODELS else None
    if found is None:
        return gr.update(visible=False)
    return gr.update(value=plot(gmm_figure(run.snapshot(), *found)), visible=True)


def shown_for(model: str, cls=None):
    """The picture for a model just chosen: the density alone (no run yet) for gmm, hidden for any other."""
    found = mixture(model) if model in MODELS else None
    if found is None:
        return gr.update(visible=False)
    return gr.update(value=plot(gmm_figure(LiveRun(condition=_class(cls)), *found)), visible=True)


def _class(cls):
    try:
        return int(cls)
    except (TypeError, ValueError):
        return None


def density_plot() -> gr.Plot:
    """The Search chart's companion for gmm: hidden until a gmm model is chosen (`shown_for`)."""
    return gr.Plot(label="Samples over the density (gmm)", visible=False, elem_id="density")
