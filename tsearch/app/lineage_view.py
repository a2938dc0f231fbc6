"""The Search tab's Lineage view, beside the chart: which candidate came from which (`tsearch.lineage`).

It shows the run the Search chart shows (`Session.shown.run`: the search running in this tab, its last one,
or a loaded run), for every algorithm alike. While it is open a timer redraws it once a second when the run
has grown (nothing is drawn while the chart is shown instead). Hovering a node gives its id, scores and recipe;
clicking it (or typing an id) shows its image large with its whole recipe, beside the figure.
"""

from __future__ import annotations

import weakref

import gradio as gr

from tsearch.app import best as best_lib
from tsearch.app.charts import plot
from tsearch.app.state import LiveRun, Session
from tsearch.app.views import fmt
from tsearch.lineage import kind, lineage_dict
from tsearch.recipes import recipe_text

TICK = 1.0   # seconds between redraws while the view is open (only when the run has grown)
EMPTY = "Run a search (or load one): each candidate is a node at (NFEs spent, score), joined to the one it came from."
# A click on a node puts its id in the "candidate" field, as if typed: the field's change shows it.
HEAD = """<style>#lineage-image img { width: 100%; height: 200px; max-height: 200px; object-fit: contain; }</style>
<script>
setInterval(() => {
  const plot = document.querySelector('#lineage .js-plotly-plot');
  if (!plot || plot._lineageWired || !plot.on) return;
  plot._lineageWired = true;
  plot.on('plotly_click', e => {
    const d = e.points && e.points[0] && e.points[0].customdata;
    const field = document.querySelector('#lineage-pick input');
    if (!d || !field) return;
    field.value = String(d[0]);
    field.dispatchEvent(new Event('input', {bubbles: true}));
    field.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
    field.dispatchEvent(new Event('blur'));
  });
}, 300);
</script>"""


def build() -> dict:
    """The view's components (inside the Lineage tab); `wire` connects them."""
    v = {}
    v["plot"] = gr.Plot(label="Lineage", elem_id="lineage")
    with gr.Row(equal_height=False):
        v["x"] = gr.Radio([("NFEs spent", "nfe"), ("round", "round")], value="nfe", label="Lineage x axis",
                          elem_id="lineage-x", scale=1)
        v["pick"] = gr.Number(None, label="Candidate shown (click a node, or type its id)", precision=0,
                              minimum=0, elem_id="lineage-pick", scale=1)
    with gr.Row(equal_height=False):
        v["image"] = gr.Image(label="Candidate", type="filepath", interactive=False, height=200,
                              elem_classes=["pixelated"], elem_id="lineage-image", min_width=120, scale=1)
        v["card"] = gr.Markdown(EMPTY, elem_id="lineage-card")
    v["timer"] = gr.Timer(TICK, active=False)
    v["drawn"] = gr.State(None)   # what the figure shows: (run, candidates, x), to skip redrawing it unchanged
    return v


def best_id(run: LiveRun) -> int | None:
    """The star: the run's best (`tsearch.app.best`), else its best draft, else its best preview."""
    shown = best_lib.best(run) or best_lib.best_draft(run) or best_lib.best_preview(run)
    return shown.id if shown is not None else None


_MEMOS: dict[int, tuple] = {}   # id of a shown LiveRun -> (a weak reference to it, its lineage memo)


def _memo(run: LiveRun) -> dict:
    """The lineage memo of a run this server shows (its candidates only grow): each redraw reads the new ones."""
    held = _MEMOS.get(id(run))
    if held is None or held[0]() is not run:
        if len(_MEMOS) > 256:   # a long-lived server: forget runs no longer shown
            for key in [k for k, (ref, _) in _MEMOS.items() if ref() is None]:
                del _MEMOS[key]
        held = _MEMOS[id(run)] = (weakref.ref(run), {})
    return held[1]


def figure(run: LiveRun, x: str = "nfe", memo: dict | None = None) -> dict:
    return lineage_dict(run.candidates, best=best_id(run), x=x, title=f"{run.algorithm or 'search'}: lineage",
                        memo=memo)


def redraw(session: Session | None, x: str = "nfe", drawn=None, force: bool = True):
    """(the figure, what it shows) for the run this tab shows; skipped when unchanged (unless `force`)."""
    run = session.shown.run if session is not None else None
    if run is None or not run.candidates:
        return gr.skip(), drawn
    shown, run = run, run.snapshot()
    key = (id(shown), len(run.candidates), run.running, x)
    if not force and key == drawn:
        return gr.skip(), drawn
    try:
        return plot(figure(run, x if x in ("nfe", "round") else "nfe", _memo(shown))), key
    except ValueError as error:
        raise gr.Error(f"cannot draw the lineage: {error}") from None


def tick(session: Session | None, x: str = "nfe", drawn=None):
    return redraw(session, x, drawn, force=False)


def pick(session: Session | None, chosen):
    """The chosen candidate's image and card (its scores, where it came from, its whole recipe)."""
    run = session.shown.run if session is not None else None
    if run is None or chosen is None:
        return gr.skip(), gr.skip()
    candidate = run.candidate(int(chosen))
    if candidate is None:
        return gr.update(value=None), f"*No candidate #{int(chosen)} in this run (ids 0 to {len(run.candidates) - 1}).*"
    what = {"sample": "a sample the run can deliver", "draft": "a draft: a few-step render the run does not deliver",
            "preview": f"a preview: the clean estimate of a noisy state at t = {candidate.t_end:g}"}[kind(candidate)]
    scores = ", ".join(f"{k} {fmt(v)}" for k, v in candidate.scores.items())
    held = "".join(f" · **{k}** (held out) {fmt(v)}" for k, v in candidate.evals.items())
    parent = "none" if candidate.parent is None else f"#{candidate.parent}"
    card = (f"### #{candidate.id}: {fmt(candidate.score)}\n\n{what}.\n\n{scores}{held}\n\n"
            f"Round {candidate.round}, parent {parent}, {candidate.nfe} NFEs of its own, "
            f"{candidate.nfe_spent} spent by the search when it was scored.\n\n"
            f"Recipe: `{recipe_text(candidate.recipe)}`")
    return gr.update(value=candidate.image_path), card


def wire(v: dict, session: gr.State, lineage_tab, chart_tab) -> None:
    """Open the tab: draw and start the timer; back to the chart: stop it. The x axis and the field redraw."""
    private = dict(queue=False, show_progress="hidden", api_visibility="private")
    inputs = [session, v["x"], v["drawn"]]
    lineage_tab.select(redraw, inputs=inputs, outputs=[v["plot"], v["drawn"]], **private).then(
        lambda: gr.Timer(active=True), outputs=v["timer"], **private)
    chart_tab.select(lambda: gr.Timer(active=False), outputs=v["timer"], **private)
    v["timer"].tick(tick, inputs=inputs, outputs=[v["plot"], v["drawn"]], **private)
    v["x"].change(redraw, inputs=inputs, outputs=[v["plot"], v["drawn"]], **private)
    v["pick"].change(pick, inputs=[session, v["pick"]], outputs=[v["image"], v["card"]], **private)
