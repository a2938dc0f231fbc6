"""The app's Arena tab: a saved arena leaderboard (`python -m tsearch arena --out DIR`), or a small one run live.

`arena_tab(default_dir, limits)` builds the tab's components inside the caller's `gr.Blocks` (and `gr.Tabs`)
and wires its buttons; ui.py calls it in one line. The live arena is the arena's own plan at toy size (a few
captions, 1-4 candidates, few steps) run through `tsearch.arena.live` as a library call: the values are
checked first (never handed to a parser, whose SystemExit would stop the server), it runs on the page's shared
shapes model in a folder of the app's runs removed when it ends, it takes one of the page's search slots (`limits`:
Run's concurrency), Stop ends it after the cell in hand with the leaderboard of what ran, and the duration the
tab promises is the page's measured estimate (tsearch.app.estimate) summed over its searches.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from tsearch.arena import live as arena_live
from tsearch.app.state import Session

LOG = logging.getLogger(__name__)
REFUSED = "refused"                 # the status line's class while it says why (as contain.REFUSED)


def load_leaderboard(folder: str) -> tuple[str, str | None]:
    """(the leaderboard's Markdown, its PNG path or None) of an arena folder; a plain message when it has none."""
    root = Path(str(folder or "").strip()).expanduser()
    board = root / "leaderboard.md"
    if not board.is_file():
        return (f"No leaderboard in `{root}`: run `python -m tsearch arena --split hard --out {root}` first, "
                f"or run a small one live below."), None
    png = root / "arena.png"
    return board.read_text(encoding="utf-8"), str(png) if png.is_file() else None


def _status(text: str, refused: bool = False):
    import gradio as gr

    return gr.update(value=text, elem_classes=[REFUSED] if refused else [])


def run_live(split, captions, methods, steps, session: Session | None = None):
    """A toy arena (captions x 1, 2 and 4 candidates) in a folder of its own: streams (status, leaderboard, PNG).

    Every failure is said in the status line, the leaderboard shown before kept (as the Search tab's Run)."""
    import gradio as gr

    skip = (gr.skip(), gr.skip())
    try:
        arena = arena_live.check(split, captions, methods, steps)
    except ValueError as error:
        yield (_status(f"**Arena refused: {error}**", refused=True), *skip)
        return
    try:
        yield from _run(arena, session if session is not None else Session())
    except GeneratorExit:
        raise
    except gr.Error as error:
        from tsearch.app.contain import shorten

        yield (_status(f"**Arena failed: {shorten(error.message)}**", refused=True), *skip)
    except BaseException as error:   # noqa: BLE001 (SystemExit too: a visitor's request never stops the server)
        from tsearch.app.contain import message

        LOG.error("the live arena failed", exc_info=(type(error), error, error.__traceback__))
        yield (_status(f"**{message(error, 'The arena')}**", refused=True), *skip)


def _run(arena: arena_live.LiveArena, session: Session):
    from PIL import Image

    from tsearch.app.one_path import lend
    from tsearch.app.runs_root import new_run_dir
    from tsearch.app.timing import estimate

    slot = lend(arena_live.MODEL)   # the page's shared shapes model: loaded once for every tab
    for name in ("shapes-clip", "shapes-oracle"):
        slot.load_verifier(name)
    estimate(arena_live.MODEL, 1)   # measured once (if not yet): the tab's next promise of a duration
    handle = session.start()
    # a marked folder under the app's runs root: removed when the arena ends, and by the app's clean-up of old runs
    # should the process die first
    out = new_run_dir("live-arena")
    try:
        result = None
        for step in arena_live.run(arena, out, slot, should_stop=lambda: handle.stopped, device=slot.device):
            if isinstance(step, arena_live.Progress):
                yield (_status(f"Arena running: {step.done} of {step.total} searches done "
                               f"({', '.join(arena.methods)}; {arena.captions} caption(s), {arena.steps} steps)"),
                       *_skip())
            else:
                result = step
        image = Image.open(result.png).copy() if result.png is not None else None   # read before the folder goes
        said = (f"Stopped after {result.ran} of {result.cells} searches: the leaderboard of the captions every method "
                f"finished" if result.stopped else f"Arena done: {result.ran} searches")
        said += f", {result.failed} failed" if result.failed else ""
        said += "".join(f". Note: {note}" for note in result.notes)
        yield (_status(said + "."), result.markdown, image)
    finally:
        session.finish(handle)
        shutil.rmtree(out, ignore_errors=True)   # done, stopped, failed or abandoned: nothing left behind


def _skip():
    import gradio as gr

    return gr.skip(), gr.skip()


def live_arena_estimate(split, captions, methods, steps) -> str:
    """How long this live arena takes here: the page's measured seconds per search (tsearch.app.estimate, the
    Search tab's figure for the shapes model, calibrated once on this machine) summed over its searches."""
    from tsearch.app import one_path
    from tsearch.app.estimate import _about
    from tsearch.app.pool import POOL
    from tsearch.app.timing import estimate
    from tsearch.search import Costs

    try:
        arena = arena_live.check(split, captions, methods, steps)
    except ValueError as error:
        return f"Not runnable as set: {error}"
    if one_path.ESTIMATOR.figure(arena_live.MODEL) is None and POOL.loaded(arena_live.MODEL):
        estimate(arena_live.MODEL, 1)   # calibrates the loaded shapes model once, as the Search tab does
    if one_path.ESTIMATOR.figure(arena_live.MODEL) is None:   # a slider never loads a model: the first arena does
        return ("Duration: measured on this machine once the shapes model has run here (a Search on shapes, or "
                "this tab's first live arena).")
    model = POOL.get(arena_live.MODEL).model
    budgets = arena_live.cell_budgets(arena, Costs(model.default_solver, model.nfe_per_eval))
    spans = [one_path.ESTIMATOR.span(arena_live.MODEL, budget) for budget in budgets]
    low, high = sum(s[0] for s in spans), sum(s[1] for s in spans)
    figure = one_path.ESTIMATOR.figure(arena_live.MODEL)
    return (f"{len(budgets)} searches, {sum(budgets)} NFEs: {_about(low, high)} here (the shapes model's "
            f"{figure.per_nfe * 1000:.1f} ms per NFE, {figure.source}; waits for a free search slot first).")


def stop_live_arena(session: Session | None = None) -> None:
    """Ask this tab's live arena to end after the search in hand."""
    if session is not None:
        session.stop()


def arm_live_arena(session: Session | None = None) -> None:
    if session is not None:
        session.arm()


SHIPPED = Path(__file__).resolve().parents[2] / "docs" / "bench"   # the measured leaderboard (docs/benchmarks/arena.md)


def shipped_leaderboard() -> tuple[str, str | None]:
    """The measured leaderboard (docs/bench/arena_hard.*, shown in docs/benchmarks/arena.md), shown when the tab opens."""
    board, png = SHIPPED / "arena_hard.md", SHIPPED / "arena_hard.png"
    if not board.is_file():
        return "No leaderboard ships with this copy: run `python -m tsearch arena --split hard`.", None
    return board.read_text(encoding="utf-8"), str(png) if png.is_file() else None


def arena_tab(default_dir: str | None = None, limits: dict | None = None):
    """The Arena tab's components, built in the current `gr.Blocks` context; returns them by name.

    `default_dir`: the host's arena folder (the command's --out), read on the server; a visitor never names a
    path (it is held in a gr.State), so nothing outside that folder is read. `limits`: the page's search
    concurrency (concurrency_limit, concurrency_id), which a live arena shares with Run and Compare."""
    import gradio as gr

    from tsearch.app.arena_ladder import load_ladder, shipped_ladder

    limits = dict(limits or {"concurrency_limit": 1})
    text, png = shipped_leaderboard()
    with gr.Tab("Arena", id="arena"):
        gr.Markdown("Every method on the shapes world's hard split at equal NFEs and equal seconds, paired "
                    "against random search (`python -m tsearch arena`). Below: the leaderboard measured on the "
                    "project's CPU; a small arena can run live here.")
        folder = gr.State(default_dir)
        session = gr.State(Session())   # this tab's live arena, stopped by its own Stop
        load = gr.Button("Show the host's arena leaderboard", visible=default_dir is not None)
        with gr.Accordion("Run a small arena live (a few captions, 1-4 candidates)", open=False) as box:
            split = gr.Radio(list(arena_live.SPLITS), value="hard", label="Split")
            captions = gr.Slider(1, arena_live.MAX_CAPTIONS, value=3, step=1, label="Captions")
            steps = gr.Slider(1, arena_live.MAX_STEPS, value=4, step=1, label="Steps per candidate")
            choices = list(arena_live.offered())   # every registered method a live arena can run
            methods = gr.CheckboxGroup(choices, value=[m for m in ("tree", "smc") if m in choices],
                                       label=f"Methods ({arena_live.REFERENCE} is always run as the reference)")
            duration = gr.Markdown("", elem_id="arena-estimate")
            with gr.Row():
                live = gr.Button("Run live", variant="primary")
                halt = gr.Button("Stop", variant="stop", elem_id="arena-stop")
        status = gr.Markdown("", elem_id="arena-status")
        board = gr.Markdown(text, elem_id="arena-board")
        image = gr.Image(png, label="Accuracy against NFEs", type="filepath", interactive=False)
        with gr.Accordion("Verifier ladder: each verifier against the oracle's upper bound", open=False):
            ladder = gr.Markdown(shipped_ladder(), elem_id="arena-ladder")
    private = dict(api_visibility="private")
    load.click(load_leaderboard, inputs=folder, outputs=[board, image], **private)
    load.click(load_ladder, inputs=folder, outputs=ladder, **private)
    settings = [split, captions, methods, steps]
    for trigger in (box.expand, split.change, captions.change, steps.change, methods.change):
        trigger(live_arena_estimate, inputs=settings, outputs=duration, show_progress="hidden", **private)
    live.click(arm_live_arena, inputs=session, queue=False, show_progress="hidden", **private)
    live.click(run_live, inputs=[*settings, session], outputs=[status, board, image], show_progress="minimal",
               **private, **limits)
    halt.click(stop_live_arena, inputs=session, queue=False, show_progress="hidden", **private)
    return {"folder": folder, "load": load, "live": live, "stop": halt, "board": board, "image": image,
            "status": status, "estimate": duration, "ladder": ladder}
