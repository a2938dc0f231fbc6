"""Compute-vs-score charts (plotly): the paper's figures, drawn live from a run's rows.

x is NFEs spent (one NFE = one denoiser pass over one sample, PAPER.md "Framing"), or seconds, or
verifier calls; y is the verifier's score. Each candidate is a point (previews, clean estimates of
noisy states, apart); the line is the run's best so far (`tsearch.app.best`, the one place it is
derived) with a star on the best; the held-out evaluator of that best sample is drawn in its own
panel below, never on a second scale over the first (it is never told to the search); the more-steps
baseline (one noise, more denoising steps) is drawn at equal cost when it was run.

Figures are plain plotly JSON dicts: building plotly's validated Figure objects cost more than a
search step here, and the chart is redrawn several times a second while a search runs.
"""

from __future__ import annotations

import json
from pathlib import Path

from gradio.components.plot import PlotData

from tsearch.app import best as best_lib
from tsearch.app.state import LiveRun
from tsearch.jsonio import finite

MAX_DRAWN_POINTS = 400   # plotly draws at most this many candidate points (evenly spread); the data keeps all
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]


def plot(figure: dict) -> PlotData:
    """A plotly JSON dict as gr.Plot's value (serialised once, without building a plotly Figure)."""
    return PlotData(type="plotly", plot=json.dumps(figure))


_RUN_META: dict[str, dict] = {}   # run folder -> its run.json's config and thread count (written once, at its start)


def run_meta(run_dir: str | None) -> dict:
    """{"config": ..., "torch_threads": ...} of a run's run.json; {} when it has no folder or none is readable yet."""
    if not run_dir:
        return {}
    if run_dir not in _RUN_META:
        try:
            meta = json.loads((Path(run_dir) / "run.json").read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
            return {}
        if len(_RUN_META) >= 1000:   # a long-lived server: forget the oldest runs' (they are read again if drawn)
            _RUN_META.clear()
        _RUN_META[run_dir] = {"config": meta["config"], "torch_threads": meta.get("torch_threads")}
    return _RUN_META[run_dir]


def measured_on(run_dir: str | None) -> str:
    """The device and torch thread count a run's seconds were measured with, e.g. `cpu, 2 threads` (its
    run.json); empty when the run has no folder or its run.json does not say (yet)."""
    meta = run_meta(run_dir)
    device, threads = meta.get("config", {}).get("device"), meta.get("torch_threads")
    if not isinstance(device, str) or not device:
        return ""
    if isinstance(threads, int) and not isinstance(threads, bool) and threads > 0:
        return f"{device}, {threads} thread{'s' if threads > 1 else ''}"
    return device


def cost_title(cost: str, run_dir: str | None = None) -> str:
    """The x axis's title; in seconds it names the device and thread count they were measured on."""
    where = measured_on(run_dir) if cost == "seconds" and run_dir else ""
    return f"seconds on {where} (denoiser, decoder and verifiers)" if where else best_lib.COSTS[cost]


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
        return f"mean rank of {', '.join(verifiers)} (higher is better)"
    return f"{verifiers[0]} score (higher is better)" if verifiers else "score"


def ranked_against(pool: LiveRun, rows) -> list[float | None]:
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


COMPUTE = {"nfe": "NFEs", "seconds": "seconds", "calls": "verifier calls", "flops": "FLOPs"}   # "best so far at equal ..."
GRID = "#e5e5e5"
TEXT = "#333333"            # axis and annotation text: 12.6:1 on white
PREVIEW = "#7a5c00"         # previews (clean estimates of noisy states): dark amber, 6.4:1 on white
DRAFT = "#6b4c9a"           # drafts (few-step renders the run does not deliver): purple, 6.7:1 on white
MAIN, HELD_OUT = [0.42, 1.0], [0.0, 0.25]   # y domains: the verifier's panel above, the held-out panel below


def _axis(title: str, **extra) -> dict:
    return {"title": {"text": title}, "gridcolor": GRID, "zeroline": False, "color": TEXT, **extra}


def _figure(traces: list[dict], y_title: str, y2_title: str | None, title: str,
            x_title: str = best_lib.COSTS["nfe"]) -> dict:
    """One panel per scale: the verifier's score, and (with y2_title) the held-out evaluator's below it."""
    layout = {
        "title": {"text": title, "x": 0.01, "font": {"size": 14, "color": TEXT}}, "height": 420,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 90}, "paper_bgcolor": "white", "plot_bgcolor": "white",
        "font": {"color": TEXT}, "xaxis": _axis(x_title, rangemode="tozero"), "yaxis": _axis(y_title),
        "uirevision": "keep-zoom", "legend": {"orientation": "h", "y": -0.32, "x": 0.0}, "hovermode": "closest",
    }
    if y2_title:
        layout["height"] = 520
        layout["yaxis"]["domain"] = MAIN
        layout["xaxis"] = _axis("", rangemode="tozero", anchor="y", matches="x2", showticklabels=False)
        layout["xaxis2"] = _axis(x_title, rangemode="tozero", anchor="y2")
        layout["yaxis2"] = _axis("held out", domain=HELD_OUT, anchor="x2")
        layout["annotations"] = [{"text": y2_title, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0,
                                  "y": HELD_OUT[1] + 0.02, "xanchor": "left", "yanchor": "bottom",
                                  "font": {"size": 12, "color": TEXT}}]
        layout["legend"]["y"] = -0.22
    return {"data": traces, "layout": layout}


def _line(name: str, xs, ys, colour: str, width: float = 3, dash: str = "solid", axis: str = "y",
          mode: str = "lines", shape: str = "hv") -> dict:
    return {"type": "scatter", "name": name, "x": list(xs), "y": list(ys), "mode": mode, "yaxis": axis,
            "xaxis": "x2" if axis == "y2" else "x", "line": {"color": colour, "width": width, "dash": dash,
                                                                "shape": shape}}


def empty_figure(message: str = "Press Run: NFEs spent go right, the best score so far goes up") -> dict:
    """The chart before a search (drawn at page load, so the plotting library is ready when Run is pressed)."""
    figure = _figure([], "verifier score", None, "compute vs score")
    figure["layout"]["annotations"] = [{"text": message, "showarrow": False, "xref": "paper", "yref": "paper",
                                        "x": 0.5, "y": 0.5, "font": {"size": 14, "color": TEXT}}]
    return figure


def _points(name: str, rows, xs, colour: str, symbol: str = "circle") -> dict:
    return {
        "type": "scatter", "name": name, "mode": "markers", "yaxis": "y", "xaxis": "x",
        "x": list(xs), "y": [c.score for c in rows],
        "marker": {"size": 6, "color": colour, "symbol": symbol, "maxdisplayed": MAX_DRAWN_POINTS},
        "customdata": [[c.id, c.round, "-" if c.parent is None else c.parent] for c in rows],
        "hovertemplate": "#%{customdata[0]} round %{customdata[1]} parent %{customdata[2]}<br>"
                         "%{x} " + name + ", score %{y:.4g}<extra></extra>"}


def _candidate_traces(run: LiveRun, cost: str) -> list[dict]:
    """Deliverable samples as filled dots, drafts (few-step renders) as hollow circles, previews (clean
    estimates of noisy states) as hollow diamonds; each draft's full render (or commit) joined to it."""
    xs = best_lib.costs(run.candidates, cost)
    rows = [(x, c) for x, c in zip(xs, run.candidates) if finite(c.score) is not None]
    done = [(x, c) for x, c in rows if c.deliverable]
    drafts = [(x, c) for x, c in rows if c.finished and c.draft]
    early = [(x, c) for x, c in rows if not c.finished]
    traces = [_points("candidates", [c for _, c in done], [x for x, _ in done], "rgba(31,119,180,0.35)")]
    if drafts:
        traces.append(_points("drafts (few-step renders, not delivered)", [c for _, c in drafts],
                              [x for x, _ in drafts], DRAFT, "circle-open"))
        traces += _commit_links(rows, run)
    if early:
        traces.append(_points("previews (clean estimates of noisy states)", [c for _, c in early],
                              [x for x, _ in early], PREVIEW, "diamond-open"))
    return traces


def _commit_links(rows, run: LiveRun) -> list[dict]:
    """A thin line from each draft to its full render or commit (a deliverable sample whose parent is a draft)."""
    at = {c.id: (x, c.score) for x, c in rows}
    lx, ly = [], []
    for x, c in rows:
        parent = run.candidate(c.parent)
        if c.deliverable and parent is not None and parent.draft and parent.id in at:
            lx += [at[parent.id][0], x, None]
            ly += [at[parent.id][1], c.score, None]
    if not lx:
        return []
    return [{"type": "scatter", "name": "draft → its full render", "mode": "lines", "x": lx, "y": ly,
             "yaxis": "y", "xaxis": "x", "line": {"color": DRAFT, "width": 1.5, "dash": "dot"}, "hoverinfo": "skip"}]


def _winner(run: LiveRun, cost: str) -> list[dict]:
    """A star on the best sample: where it was found and its score."""
    winner = best_lib.best(run)
    if winner is None:
        return []
    x = best_lib.costs(run.candidates, cost)[run.candidates.index(winner)]
    return [{"type": "scatter", "name": f"best: #{winner.id}", "mode": "markers", "x": [x], "y": [winner.score],
             "yaxis": "y", "xaxis": "x", "marker": {"size": 16, "symbol": "star", "color": "#ffbf00",
                                                    "line": {"color": TEXT, "width": 1}},
             "hovertemplate": f"best #{winner.id}: score %{{y:.4g}} at %{{x}}<extra></extra>"}]


def _baseline_traces(run: LiveRun, baseline: LiveRun, cost: str, evaluator: str | None) -> list[dict]:
    rows = baseline.candidates
    bx = best_lib.costs(rows, cost)
    by = ranked_against(run, rows) if len(run.verifiers) > 1 else [finite(c.score) for c in rows]
    traces = [_line("more denoising steps, one noise", bx, by, COLOURS[1], width=2, dash="dash",
                    mode="lines+markers", shape="linear")]
    if evaluator:
        traces.append(_line(f"{evaluator} of more steps", bx, [c.evals.get(evaluator) for c in rows],
                            COLOURS[1], width=2, dash="dash", axis="y2", mode="lines+markers", shape="linear"))
    return traces


def run_figure(run: LiveRun, baseline: LiveRun | None = None, cost: str = "nfe") -> dict:
    """One run: candidates as points (drafts and previews apart), the best-so-far line from the first deliverable
    sample, a star on the best, the best preview and draft so far, the baseline; the held-out evaluator in its
    own panel.

    `cost` is the x axis: "nfe" (NFEs spent), "seconds" (wall-clock, verifiers included) or "calls"
    (verifier calls, one per candidate scored)."""
    traces = _candidate_traces(run, cost)
    xs, ys, ids = best_lib.line(run, cost)
    traces.append(_line("best so far", xs, ys, COLOURS[0]))
    px, py, _ = best_lib.line(run, cost, previews=True)
    if px:
        traces.append(_line("best preview so far", px, py, PREVIEW, width=2, dash="dot"))
    dx, dy, _ = best_lib.line(run, cost, drafts=True)
    if dx:
        traces.append(_line("best draft so far", dx, dy, DRAFT, width=2, dash="dot"))
    traces += _winner(run, cost)
    evaluator = run.evaluators[0] if run.evaluators else None
    if evaluator:
        held = [run.candidate(i).evals.get(evaluator) for i in ids]
        traces.append(_line(f"{evaluator} (held out) of the best", xs, held, COLOURS[2], width=2, axis="y2"))
    if baseline is not None and baseline.candidates:
        traces += _baseline_traces(run, baseline, cost, evaluator)
    title = f"{run.algorithm} search, budget {run.budget} NFEs"
    held_title = f"{evaluator} (held out) of the best so far" if evaluator else None
    return _figure(traces, score_label(run.verifiers), held_title, title, cost_title(cost, run.run_dir))


def compare_figure(runs: list[LiveRun], by_evaluator: bool, cost: str = "nfe") -> dict:
    """Several runs' best-so-far curves on one chart: their own score, or the shared held-out evaluator.

    `cost` is the x axis, as in `run_figure`; every run is drawn against the same one."""
    if cost not in best_lib.COSTS:
        raise ValueError(f"cost must be one of {', '.join(best_lib.COSTS)}, got {cost!r}")
    traces = []
    evaluator = next((r.evaluators[0] for r in runs if r.evaluators), None)
    same_verifiers = len({r.verifiers for r in runs}) <= 1
    for i, run in enumerate(runs):
        colour = COLOURS[i % len(COLOURS)]
        xs, scores, ids = best_lib.line(run, cost)
        held = [run.candidate(j).evals.get(evaluator) for j in ids] if evaluator else []
        traces.append(_line(run.label or run.algorithm, xs, held if by_evaluator and evaluator else scores, colour))
        if evaluator and not by_evaluator:
            traces.append(_line(f"{run.label}: {evaluator}", xs, held, colour, width=1, dash="dot", axis="y2"))
    if by_evaluator and evaluator:
        y_title, y2 = f"{evaluator} (held out) of each run's best", None
    else:
        y_title = score_label(runs[0].verifiers) if runs and same_verifiers else "each run's own verifier score"
        y2 = f"{evaluator} (held out)" if evaluator else None
    x_title = cost_title(cost, runs[0].run_dir if runs else None)
    return _figure(traces, y_title, y2, f"best so far at equal {COMPUTE[cost]}", x_title)
