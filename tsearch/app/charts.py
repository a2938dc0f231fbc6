"""Compute-vs-score charts (plotly): the paper's figures, drawn live from a run's rows.

x is NFEs spent (one NFE = one denoiser pass over one sample, PAPER.md "Framing"); y is the
verifier's score. Each candidate is a point; the line is the search's best so far; the held-out
evaluator of that best sample is drawn on a second axis (it is never told to the search); the
more-steps baseline (one noise, more denoising steps) is drawn at equal NFEs when it was run.
"""

from __future__ import annotations

import plotly.graph_objects as go

from tsearch.app.state import LiveRun

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]


def best_curve(run: LiveRun) -> list[tuple[int, float, dict, int]]:
    """(nfe_spent, best score so far, that sample's evaluator scores, its id), one per candidate.

    Follows the algorithms' own notion of "best": a search over paths only counts finished samples
    (t_end = 0, not the clean estimates of noisy states); the steps baseline's result is its latest
    sample (choosing by score would itself be a search)."""
    curve, best = [], None
    for row in run.rows:
        score = row.get("score")
        if score is None:
            continue
        if run.algorithm == "steps":
            best = row
        elif row.get("t_end", 0.0) == 0.0 and (best is None or score > best["score"]):
            best = row
        if best is not None:
            curve.append((row["nfe_spent"], best["score"], best.get("evals") or {}, best["id"]))
    return curve


def score_label(verifiers) -> str:
    if len(verifiers) > 1:
        return f"mean rank of {', '.join(verifiers)}"
    return f"{verifiers[0]} score" if verifiers else "score"


def _ranked_against(pool: LiveRun, rows: list[dict]) -> list[float]:
    """Mean percentile of each row's raw scores among the pool's candidates (ensemble baselines)."""
    out = []
    for row in rows:
        parts = []
        for name in pool.verifiers:
            value = (row.get("scores") or {}).get(name)
            others = [r["scores"].get(name) for r in pool.rows if (r.get("scores") or {}).get(name) is not None]
            if value is None or not others:
                continue
            below = sum(o < value for o in others) + 0.5 * sum(o == value for o in others)
            parts.append(below / len(others))
        out.append(sum(parts) / len(parts) if parts else float("nan"))
    return out


def _layout(figure: go.Figure, y_title: str, y2_title: str | None, title: str) -> go.Figure:
    figure.update_layout(
        title=dict(text=title, x=0.01, font=dict(size=14)), height=380, margin=dict(l=60, r=60, t=50, b=45),
        xaxis=dict(title="NFEs spent (denoiser passes)", rangemode="tozero"),
        yaxis=dict(title=y_title), template="plotly_white", uirevision="keep-zoom",
        legend=dict(orientation="h", y=-0.2, x=0.0), hovermode="closest",
    )
    if y2_title:
        figure.update_layout(yaxis2=dict(title=y2_title, overlaying="y", side="right", showgrid=False))
    return figure


def run_figure(run: LiveRun, baseline: LiveRun | None = None) -> go.Figure:
    """One run: candidates as points, the best-so-far line, the held-out evaluator, the baseline."""
    figure = go.Figure()
    points = [r for r in run.rows if r.get("score") is not None]
    figure.add_trace(go.Scatter(
        x=[r["nfe_spent"] for r in points], y=[r["score"] for r in points], mode="markers", name="candidates",
        marker=dict(size=6, color="rgba(31,119,180,0.35)"),
        customdata=[[r["id"], r["round"], "-" if r["parent"] is None else r["parent"]] for r in points],
        hovertemplate="#%{customdata[0]} round %{customdata[1]} parent %{customdata[2]}<br>"
                      "%{x} NFEs, score %{y:.4g}<extra></extra>"))
    curve = best_curve(run)
    figure.add_trace(go.Scatter(x=[c[0] for c in curve], y=[c[1] for c in curve], mode="lines", name="best so far",
                                line=dict(color=COLOURS[0], width=3, shape="hv")))
    evaluator = run.evaluators[0] if run.evaluators else None
    if evaluator:
        figure.add_trace(go.Scatter(
            x=[c[0] for c in curve], y=[c[2].get(evaluator) for c in curve], mode="lines", yaxis="y2",
            name=f"{evaluator} (held out) of the best", line=dict(color=COLOURS[2], width=2, shape="hv")))
    if baseline is not None and baseline.rows:
        xs = [r["nfe_spent"] for r in baseline.rows]
        ys = _ranked_against(run, baseline.rows) if len(run.verifiers) > 1 else [r["score"] for r in baseline.rows]
        figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name="more denoising steps, one noise",
                                    line=dict(color=COLOURS[1], width=2, dash="dash")))
        if evaluator:
            figure.add_trace(go.Scatter(x=xs, y=[(r.get("evals") or {}).get(evaluator) for r in baseline.rows],
                                        mode="lines", yaxis="y2", name=f"{evaluator} of more steps",
                                        line=dict(color=COLOURS[1], width=1, dash="dot")))
    title = f"{run.algorithm} search, budget {run.budget} NFEs"
    return _layout(figure, score_label(run.verifiers), f"{evaluator} (held out)" if evaluator else None, title)


def compare_figure(runs: list[LiveRun], by_evaluator: bool) -> go.Figure:
    """Several runs' best-so-far curves on one chart: their own score, or the shared held-out evaluator."""
    figure = go.Figure()
    evaluator = next((r.evaluators[0] for r in runs if r.evaluators), None)
    for i, run in enumerate(runs):
        curve = best_curve(run)
        colour = COLOURS[i % len(COLOURS)]
        ys = [c[2].get(evaluator) for c in curve] if by_evaluator and evaluator else [c[1] for c in curve]
        figure.add_trace(go.Scatter(x=[c[0] for c in curve], y=ys, mode="lines", name=run.label or run.algorithm,
                                    line=dict(color=colour, width=3, shape="hv")))
        if evaluator and not by_evaluator:
            figure.add_trace(go.Scatter(x=[c[0] for c in curve], y=[c[2].get(evaluator) for c in curve],
                                        mode="lines", yaxis="y2", name=f"{run.label}: {evaluator}", showlegend=True,
                                        line=dict(color=colour, width=1, dash="dot", shape="hv")))
    if by_evaluator and evaluator:
        y_title, y2 = f"{evaluator} (held out) of each run's best", None
    else:
        y_title = score_label(runs[0].verifiers) if runs else "score"
        y2 = f"{evaluator} (held out)" if evaluator else None
    return _layout(figure, y_title, y2, "best so far at equal compute")
