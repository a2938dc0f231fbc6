"""Words for what the page draws, for screen readers and for anyone who cannot read a picture:
the best image's alt text and a one-line text summary of the chart.

Both read the run's best from `tsearch.app.best` (the best-so-far line the chart draws), never their own.
"""

from __future__ import annotations

import gradio as gr

from tsearch.app import best as best_lib
from tsearch.app.state import LiveRun, Session
from tsearch.app.views import fmt

UNITS = {"nfe": "NFEs", "seconds": "s", "calls": "verifier calls"}   # the chart's x axis, after a number


def _subject(run: LiveRun) -> str:
    """What the run was asked for: `'a red circle'` for a prompt, `class 3` for a class, "" when unknown."""
    if isinstance(run.condition, str) and run.condition:
        return f", for '{run.condition}'"
    if isinstance(run.condition, int) and not isinstance(run.condition, bool):
        return f", for class {run.condition}"
    return ""


def best_alt(run: LiveRun | None, what: str = "Best sample so far") -> str | None:
    """The best image's alt text, e.g. `Best sample so far: #29, shapes-clip 2.006, for 'a red circle'`;
    the best preview's while there is no finished sample; None before anything was scored."""
    if run is None:
        return None
    shown = best_lib.best(run)
    if shown is None and best_lib.best_draft(run) is not None:
        shown, what = best_lib.best_draft(run), "Best draft so far (a few-step render)"
    if shown is None:
        shown, what = best_lib.best_preview(run), "Best preview so far (a clean estimate of a noisy state)"
    if shown is None:
        return None
    scale = " + ".join(run.verifiers) or "score"
    return f"{what}: #{shown.id}, {scale} {fmt(shown.score)}{_subject(run)}"


def _at(x, cost: str) -> str:
    return f"{x:g} {UNITS.get(cost, '')}".rstrip()


def chart_text(run: LiveRun | None, baseline: LiveRun | None = None, cost: str = "nfe") -> str:
    """The chart in one line, from its best-so-far line: e.g. `Best so far: 1.05 at 20 NFEs → 2.01 at 600 NFEs
    (40 candidates, 800 NFEs spent); held-out shapes-oracle 0.5 → 1.5.` and the more-steps baseline's result."""
    if run is None or not run.candidates:
        return ""
    xs, ys, ids = best_lib.line(run, cost)
    spent = f"({len(run.candidates)} candidates, {run.nfe_spent} NFEs spent)"
    if not xs:
        return f"Chart: no finished sample yet {spent}."
    reached = ids.index(ids[-1])   # where the final best was first drawn
    text = f"Chart, best so far: {fmt(ys[0])} at {_at(xs[0], cost)}"
    if ids[-1] != ids[0]:
        text += f" → {fmt(ys[reached])} at {_at(xs[reached], cost)}"
    text += f" {spent}"
    if run.evaluators:
        name = run.evaluators[0]
        first, last = (run.candidate(i).evals.get(name) for i in (ids[0], ids[-1]))
        text += f"; held-out {name} {fmt(first)}" + (f" → {fmt(last)}" if ids[-1] != ids[0] else "")
    more = best_lib.best(baseline) if baseline is not None else None
    if more is not None:
        text += f"; more steps (one noise): {fmt(more.score)} at {more.nfe} NFEs"
    return text + "."


def describe(session: Session | None = None) -> tuple:
    """After each chart update: the chart's text summary and the best image's alt text (page only)."""
    shown = session.shown if session is not None else None
    if shown is None or shown.run is None:
        return gr.skip(), gr.skip()
    alt = best_alt(shown.run)
    return chart_text(shown.run, shown.baseline, shown.cost), (gr.update(alt_text=alt) if alt else gr.skip())
