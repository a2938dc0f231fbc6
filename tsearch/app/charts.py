"""Compute-vs-score charts (plotly): the paper's figures, drawn live from a run's rows.

x is NFEs spent (one NFE = one denoiser pass over one sample, PAPER.md "Framing"); y is the
verifier's score. Each candidate is a point; the line is the search's best so far; the held-out
evaluator of that best sample is drawn on a second axis (it is never told to the search); the
more-steps baseline (one noise, more denoising steps) is drawn at equal NFEs when it was run.

Figures are plain plotly JSON dicts: building plotly's validated Figure objects cost more than a
search step here, and the chart is redrawn several times a second while a search runs.
"""

from __future__ import annotations

from tsearch.app.state import LiveRun
from tsearch.jsonio import finite

MAX_DRAWN_POINTS = 400   # plotly draws at most this many candidate points (evenly spread); the data keeps all
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]


def best_curve(run: LiveRun) -> list[tuple[int, float, dict, int]]:
    """(nfe_spent, best score, that sample's evaluator scores, its id) after each round.

    The best is the algorithm's own, as it reported it on each round (best over the run, best
    finished sample, the steps baseline's latest sample): the chart derives nothing itself."""
    curve = []
    for nfe, best_id, best_score in run.rounds:
        best = run.candidate(best_id)
        if best is not None and best_score is not None:
            curve.append((nfe, best_score, dict(best.evals), best_id))
    return curve


def score_label(verifiers) -> str:
    if len(verifiers) > 1:
        return f"mean rank of {', '.join(verifiers)}"
    return f"{verifiers[0]} score" if verifiers else "score"


def _ranked_against(pool: LiveRun, rows) -> list[float | None]:
    """Mean percentile of each candidate's raw scores among the pool's candidates (ensemble baselines)."""
    out = []
    for row in rows:
        parts = []
        for name in pool.verifiers:
            value = row.scores.get(name)
            others = [c.scores.get(name) for c in pool.candidates if c.scores.get(name) is not None]
            if value is None or not others:
                continue
            below = sum(o < value for o in others) + 0.5 * sum(o == value for o in others)
            parts.append(below / len(others))
        out.append(sum(parts) / len(parts) if parts else None)
    return out


GRID = "#e5e5e5"


def _axis(title: str, **extra) -> dict:
    return {"title": {"text": title}, "gridcolor": GRID, "zeroline": False, **extra}


def _figure(traces: list[dict], y_title: str, y2_title: str | None, title: str) -> dict:
    layout = {
        "title": {"text": title, "x": 0.01, "font": {"size": 14}}, "height": 420,
        "margin": {"l": 60, "r": 60, "t": 50, "b": 90}, "paper_bgcolor": "white", "plot_bgcolor": "white",
        "xaxis": _axis("NFEs spent (denoiser passes)", rangemode="tozero"), "yaxis": _axis(y_title),
        "uirevision": "keep-zoom", "legend": {"orientation": "h", "y": -0.32, "x": 0.0}, "hovermode": "closest",
    }
    if y2_title:
        layout["yaxis2"] = _axis(y2_title, overlaying="y", side="right", showgrid=False)
    return {"data": traces, "layout": layout}


def _line(name: str, xs, ys, colour: str, width: float = 3, dash: str = "solid", axis: str = "y",
          mode: str = "lines", shape: str = "hv") -> dict:
    return {"type": "scatter", "name": name, "x": list(xs), "y": list(ys), "mode": mode, "yaxis": axis,
            "line": {"color": colour, "width": width, "dash": dash, "shape": shape}}


def empty_figure(message: str = "Press Run: NFEs spent go right, the best score so far goes up") -> dict:
    """The chart before a search (drawn at page load, so the plotting library is ready when Run is pressed)."""
    figure = _figure([], "verifier score", None, "compute vs score")
    figure["layout"]["annotations"] = [{"text": message, "showarrow": False, "xref": "paper", "yref": "paper",
                                        "x": 0.5, "y": 0.5, "font": {"size": 14, "color": "#888"}}]
    return figure


def run_figure(run: LiveRun, baseline: LiveRun | None = None) -> dict:
    """One run: candidates as points, the best-so-far line, the held-out evaluator, the baseline."""
    points = [c for c in run.candidates if finite(c.score) is not None]
    traces = [{
        "type": "scatter", "name": "candidates", "mode": "markers", "yaxis": "y",
        "x": [c.nfe_spent for c in points], "y": [c.score for c in points],
        "marker": {"size": 6, "color": "rgba(31,119,180,0.35)", "maxdisplayed": MAX_DRAWN_POINTS},
        "customdata": [[c.id, c.round, "-" if c.parent is None else c.parent] for c in points],
        "hovertemplate": "#%{customdata[0]} round %{customdata[1]} parent %{customdata[2]}<br>"
                         "%{x} NFEs, score %{y:.4g}<extra></extra>"}]
    curve = best_curve(run)
    xs = [c[0] for c in curve]
    traces.append(_line("best so far", xs, [c[1] for c in curve], COLOURS[0]))
    evaluator = run.evaluators[0] if run.evaluators else None
    if evaluator:
        traces.append(_line(f"{evaluator} (held out) of the best", xs, [c[2].get(evaluator) for c in curve],
                            COLOURS[2], width=2, axis="y2"))
    if baseline is not None and baseline.candidates:
        rows = baseline.candidates
        bx = [c.nfe_spent for c in rows]
        by = _ranked_against(run, rows) if len(run.verifiers) > 1 else [finite(c.score) for c in rows]
        traces.append(_line("more denoising steps, one noise", bx, by, COLOURS[1], width=2, dash="dash",
                            mode="lines+markers", shape="linear"))
        if evaluator:
            traces.append(_line(f"{evaluator} of more steps", bx, [c.evals.get(evaluator) for c in rows],
                                COLOURS[1], width=1, dash="dot", axis="y2", shape="linear"))
    title = f"{run.algorithm} search, budget {run.budget} NFEs"
    return _figure(traces, score_label(run.verifiers), f"{evaluator} (held out)" if evaluator else None, title)


def compare_figure(runs: list[LiveRun], by_evaluator: bool) -> dict:
    """Several runs' best-so-far curves on one chart: their own score, or the shared held-out evaluator."""
    traces = []
    evaluator = next((r.evaluators[0] for r in runs if r.evaluators), None)
    same_verifiers = len({r.verifiers for r in runs}) <= 1
    for i, run in enumerate(runs):
        curve = best_curve(run)
        colour = COLOURS[i % len(COLOURS)]
        xs = [c[0] for c in curve]
        ys = [c[2].get(evaluator) for c in curve] if by_evaluator and evaluator else [c[1] for c in curve]
        traces.append(_line(run.label or run.algorithm, xs, ys, colour))
        if evaluator and not by_evaluator:
            traces.append(_line(f"{run.label}: {evaluator}", xs, [c[2].get(evaluator) for c in curve], colour,
                                width=1, dash="dot", axis="y2"))
    if by_evaluator and evaluator:
        y_title, y2 = f"{evaluator} (held out) of each run's best", None
    else:
        y_title = score_label(runs[0].verifiers) if runs and same_verifiers else "each run's own verifier score"
        y2 = f"{evaluator} (held out)" if evaluator else None
    return _figure(traces, y_title, y2, "best so far at equal compute")
