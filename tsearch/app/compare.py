"""The Compare tab: several runs one after another on the one path (`drive`), drawn on one chart and one table.

`compare` (the API endpoint; `compare_page` on the page) checks the choices and prepares every run's plan;
`compare_plans` runs them and streams (status, chart, best images, results table). The runs are kept in the
session (`Shown`), so switching the chart's x axis redraws them without running them again (`redraw`).
"""

from __future__ import annotations

from typing import Iterator

import gradio as gr

from tsearch import engine
from tsearch.app import best as best_lib
from tsearch.app import catalog, charts, form, views
from tsearch.app.axis import check_cost
from tsearch.app.compare_table import table
from tsearch.app.contain import on_the_page
from tsearch.app.one_path import drive, lend, prepared
from tsearch.app.state import LiveRun, Pace, Session
from tsearch.app.validate import check_names, check_options, check_page_budget
from tsearch.config import DEFAULT_BATCH

MODES = ("algorithms", "verifiers")


def _cards(runs: list[LiveRun]) -> list[tuple[str, str]]:
    """Each run's best image, captioned with its label, score and held-out scores (the one best, `best.best`)."""
    cards = []
    for run in runs:
        path, best = views.best_path(run), best_lib.best(run)
        if path and best:
            evals = ", ".join(f"{k} {views.fmt(v)}" for k, v in best.evals.items())
            cards.append((path, f"{run.label}: {views.fmt(best.score)}" + (f" · {evals}" if evals else "")))
    return cards


def _compare_view(runs: list[LiveRun], status: str, by_evaluator: bool, chart: bool = True, cost: str = "nfe"):
    figure = charts.plot(charts.compare_figure(runs, by_evaluator, cost)) if chart else gr.skip()
    return status, figure, _cards(runs), table(runs)


def _compare_entries(mode, algorithms, compare_verifiers, algorithm, verifiers) -> list[tuple[str, str, list]]:
    """(label, algorithm, verifiers) of each run a comparison makes; gr.Error naming a malformed list."""
    for name, value in (("algorithms", algorithms), ("compare_verifiers", compare_verifiers)):
        if value is not None and (not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value)):
            kind = "algorithm" if name == "algorithms" else "verifier"
            raise gr.Error(f"{name} is a list of {kind} names, e.g. [{'random' if kind == 'algorithm' else 'gmm-density'!r}], "
                           f"got {value!r}")
    if mode == "algorithms":
        entries = [(name, name, verifiers) for name in dict.fromkeys(algorithms or [])]
    elif mode == "verifiers":
        entries = [(name, algorithm, [name]) for name in dict.fromkeys(compare_verifiers or [])]
    else:
        raise gr.Error(f"compare mode must be 'algorithms' or 'verifiers', got {mode!r}")
    if len(entries) < 2:
        raise gr.Error(f"choose at least two {mode} to compare")
    return entries


def compare_plans(session: Session, plans: list[tuple[str, engine.Plan]], by_evaluator: bool,
                  pace) -> Iterator[tuple]:
    """Prepared plans run one after another in this tab, each on the one path (`drive`), as page updates
    paced by `pace` (state.Pace); the chart's x axis is the session's choice, read at every update."""
    handle = session.start()
    runs: list[LiveRun] = []
    shown = session.shown
    shown.compared, shown.by_evaluator = runs, by_evaluator
    try:
        for i, (label, plan) in enumerate(plans):
            if handle.stopped:
                break
            run = LiveRun(seed=plan.config.seed, label=label)
            runs.append(run)
            status = f"Comparing {i + 1}/{len(plans)}: {label}"
            yield from drive(plan, f"compare-{label}", run, handle, pace, lambda chart: _compare_view(
                runs, f"{status} · {views.status_line(run)}", by_evaluator, chart, shown.compare_cost))
    finally:
        session.finish(handle)
    ended = "Stopped; the runs so far are kept" if handle.stopped else f"Compared {len(runs)} runs"
    yield _compare_view(runs, f"{ended} at {plans[0][1].config.budget} NFEs each.", by_evaluator,
                        cost=shown.compare_cost)


def compare(model: str, prompt: str | None, verifiers: list[str], algorithm: str, budget: int, steps: int | None,
            seed: int, cls: int | None = None, evaluator: str | None = None, mode: str = "algorithms",
            algorithms: list[str] | None = None, compare_verifiers: list[str] | None = None,
            batch_size: int = DEFAULT_BATCH, session: Session | None = None, baseline: bool = False,
            height: int | None = None, width: int | None = None, guidance: float | None = None,
            negative_prompt: str | None = None, max_sequence_length: int | None = None,
            final_steps: int | None = None, **options) -> Iterator[tuple]:
    """Several algorithms (same verifiers) or several verifiers (same algorithm), one after another, same budget.

    Streams (status, chart, each run's best image, results table). `baseline` is taken for symmetry with
    `handlers.search` and unused: add "steps" to the algorithms to compare with it.
    The model options and the other settings (`form.PAGE_SETTINGS`) are `handlers.search`'s."""
    settings, options = form.split({**options, "final_steps": final_steps})   # final_steps named: optional in the API
    check_options(options)
    check_page_budget(budget)   # each run of a comparison is held to a Run's cap
    entries = _compare_entries(mode, algorithms, compare_verifiers, algorithm, verifiers)
    model, _, evaluator, _ = check_names(model, entries[0][2], evaluator, entries[0][1])
    for _, algo, chosen in entries[1:]:
        check_names(model, chosen, evaluator, algo)
    slot = lend(model)
    kind = slot.model.conditioning
    model_values = dict(height=height, width=width, guidance=guidance, negative_prompt=negative_prompt,
                        max_sequence_length=max_sequence_length)
    configs = [(label, form.build(model, kind, prompt=prompt, cls=cls, verifiers=chosen, evaluator=evaluator,
                                  algorithm=algo, budget=budget, steps=steps, seed=seed, batch_size=batch_size,
                                  options=options, model_values=model_values, **settings))
               for label, algo, chosen in entries]
    for _, config in configs:
        check_page_budget(config.budget)
    plans = [(label, prepared(config, slot)) for label, config in configs]   # every entry checked before any runs
    by_evaluator = mode == "verifiers" and bool(configs[0][1].evaluators)
    yield from compare_plans(session if session is not None else Session(), plans, by_evaluator, Pace())


compare_page = on_the_page(lambda: compare, "Compare", 4, "compare_page")   # the page's: says why in its status line


def redraw(cost: str, session: Session | None = None):
    """The Compare chart's x axis was switched: the session's comparison drawn against `cost`, without a rerun
    (and the comparison running now, if any, draws its next updates against it)."""
    cost = check_cost(cost)
    if session is None:
        return gr.skip()
    session.shown.compare_cost = cost
    runs = [run.snapshot() for run in session.shown.compared]
    if not runs:
        return gr.skip()
    return charts.plot(charts.compare_figure(runs, session.shown.by_evaluator, cost))


def pickers(mode: str) -> tuple:
    """Only the picker that applies: the algorithms' checkboxes, or the verifiers' list."""
    if mode not in MODES:
        raise gr.Error(f"compare mode must be 'algorithms' or 'verifiers', got {mode!r}")
    return gr.update(visible=mode == "algorithms"), gr.update(visible=mode == "verifiers")


def verifier_choices(model: str, chosen) -> dict:
    """The verifiers to compare follow the model, as the Search tab's do: only those that can score its samples,
    the ones already ticked kept when they still fit."""
    fits = catalog.verifiers_for(model)
    return gr.update(choices=fits, value=[name for name in (chosen or []) if name in fits])
