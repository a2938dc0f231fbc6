"""The charts' x axis: NFEs, wall-clock seconds (verifiers included), verifier calls (issue 19, item 2) or FLOPs
(issue 28: `tsearch.flops`, each candidate's `flops`, so models of different sizes share an axis).

A radio beside each chart chooses it. The choice is kept in the tab's session (`Shown`): switching redraws
the run on show from what it recorded, with no rerun, and a search running meanwhile draws its next updates
against it. Each candidate records its NFEs and its seconds (`tsearch.candidate.Candidate`); a verifier call
is one scored candidate (`best.costs`). A seconds axis names the device and thread count (`charts.cost_title`).
"""

from __future__ import annotations

import gradio as gr

from tsearch.app import best as best_lib
from tsearch.app import charts
from tsearch.app.state import Session

CHOICES = [("NFEs", "nfe"), ("seconds", "seconds"), ("verifier calls", "calls"), ("FLOPs", "flops")]   # (shown, value)


def cost_radio(elem_id: str) -> gr.Radio:
    """NFEs | seconds | verifier calls | FLOPs, compact above its chart."""
    return gr.Radio(CHOICES, value="nfe", label="x axis", elem_id=elem_id)


def check_cost(cost) -> str:
    """`cost` when it names an axis, else gr.Error naming the argument and its choices."""
    if not isinstance(cost, str) or cost not in best_lib.COSTS:
        raise gr.Error(f"cost (the x axis) must be one of {', '.join(best_lib.COSTS)}, got {cost!r}")
    return cost


def redraw(cost: str, session: Session | None = None):
    """The Search chart's x axis was switched: the tab's last run (and its baseline) drawn against `cost`."""
    cost = check_cost(cost)
    if session is None:
        return gr.skip()
    shown = session.shown
    shown.cost = cost
    if shown.run is None:
        return gr.skip()
    baseline = shown.baseline.snapshot() if shown.baseline is not None else None
    return charts.plot(charts.run_figure(shown.run.snapshot(), baseline, cost))
