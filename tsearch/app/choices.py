"""The form's choices follow the chosen model and algorithm: only what works here is offered, and what each
choice costs is said next to it, before Run.

- the model's prompt or class, its verifiers and held-out evaluators (`catalog.verifiers_for`), its steps and the
  defaults of its model options (shown in the field, never sent: a blank field is the model's default);
- under the algorithm, one plain sentence and the least budget it takes here; under the budget, what one
  candidate costs in NFEs and how many the budget buys, and what is wrong with a typed value (`budget.py`).

`wire_choices` adds these events to the page (`ui._wire` calls it). The fields that follow the model start blank
on the page and are filled when it loads, so an API caller who leaves them out gets the chosen model's preset,
never the opening model's.
"""

from __future__ import annotations

import gradio as gr

from tsearch.app import budget as nfes
from tsearch.app import catalog, timing
from tsearch.app.pool import POOL
from tsearch.models import MODEL_OPTIONS
from tsearch.search import make_options

FOLLOWING = ("prompt", "cls", "verifiers", "evaluator", "steps")   # filled from the model when the page loads


def class_choices(info: dict) -> list[tuple[str, int]]:
    return [(f"{i}: {name}", i) for i, name in enumerate(info["classes"])]


def described(model: str) -> bool:
    """Whether the model may be loaded to describe it (local, or loaded already: no download for a page event)."""
    return catalog.is_local(model) or POOL.loaded(model)


def facts(model: str) -> nfes.Facts | None:
    return nfes.facts_of(POOL.get(model).model) if described(model) else None


def verifier_updates(model: str) -> tuple[dict, dict]:
    """The verifiers and held-out evaluator pickers for this model: its choices, its preset chosen."""
    preset, offered = catalog.preset(model), catalog.verifiers_for(model)
    return (gr.update(choices=offered, value=[v for v in preset.verifiers if v in offered]),
            gr.update(choices=[("none", "")] + [(name, name) for name in offered], value=preset.evaluator or ""))


def model_option_updates(model: str) -> list:
    """The model options accordion (hidden when the model takes none), then each option shown where the chosen
    model takes it, holding the model's own default where it is known (a loaded model's value; the search drops a
    value equal to it), else blank."""
    taken = catalog.model_options(model)
    loaded = POOL.get(model).model if taken and described(model) else None
    updates = [gr.update(visible=bool(taken))]
    for name in MODEL_OPTIONS:
        default = getattr(loaded, name, None) if name in taken else None
        blank = "" if name == "negative_prompt" else None
        updates.append(gr.update(visible=name in taken, value=blank if default is None else default))
    return updates


def following(model: str) -> dict:
    """The updates of the fields that follow the model (FOLLOWING), by name; {} for a model that does not run here."""
    if not catalog.runs_here(model):
        return {}
    preset = catalog.preset(model)
    verifiers, evaluator = verifier_updates(model)
    if not described(model):
        # Describing a hub model means loading it (and maybe downloading gigabytes): that waits for Run.
        return dict(prompt=gr.update(visible=True), examples=gr.update(visible=False),
                    cls=gr.update(visible=True, choices=[], value=None, allow_custom_value=True),
                    verifiers=verifiers, evaluator=evaluator, steps=gr.update(value=None))
    info = POOL.describe(model)
    catalog.warm(model)
    text, classes = info["conditioning"] == "text", class_choices(info)
    cls_value = preset.cls if preset.cls is not None and preset.cls < len(classes) else (0 if classes else None)
    return dict(prompt=gr.update(visible=text, value=preset.prompt if text and preset.prompt else gr.skip()),
                examples=gr.update(visible=text and bool(info["examples"])),
                cls=gr.update(visible=not text, choices=classes, value=cls_value),
                verifiers=verifiers, evaluator=evaluator, steps=gr.update(value=preset.steps or info["default_steps"]))


def model_controls(model: str, budget, baseline: bool):
    """Controls that follow the chosen model (the page's model.change): note, prompt or class picker, examples,
    verifiers, evaluator, budget, steps, estimate, then its model options."""
    note, keep, follow = catalog.model_note(model), gr.update(), following(model)
    if not follow:
        return (note, *[keep] * 7, "", *model_option_updates(model))
    preset = catalog.preset(model)
    if not described(model):
        note += "\n\nIt loads when you press Run. Give a prompt, or a class index for a class-conditional model."
        estimate = timing.estimate(model, preset.budget, baseline=baseline)
    else:
        cls_value = follow["cls"].get("value") if isinstance(follow["cls"], dict) else None
        estimate = timing.estimate(model, preset.budget, preset.prompt, cls_value, baseline=baseline)
    return (note, follow["prompt"], follow["examples"], follow["cls"], follow["verifiers"], follow["evaluator"],
            gr.update(value=preset.budget), follow["steps"], estimate, *model_option_updates(model))


def opening(model: str):
    """The page has loaded: the fields that follow the model (they start blank), then its model options' defaults."""
    follow = following(model)
    return (*[follow.get(name, gr.update()) for name in FOLLOWING], *model_option_updates(model)[1:])


def _options(algorithm: str, keys: list[str], values) -> tuple[dict, str]:
    """The algorithm's chosen options from the form's values, and what is wrong with them ('' if nothing)."""
    chosen = catalog.options_for(algorithm, dict(zip(keys, values)))
    try:
        make_options(algorithm, **chosen)
    except (ValueError, TypeError) as error:
        return chosen, f"Options: {error}."
    return chosen, ""


def _steps(steps, default: int) -> tuple[int, str]:
    if steps is None or steps == "" or steps == 0:   # blank (an empty number field sends 0): the model's default
        return default, ""
    if isinstance(steps, bool) or not isinstance(steps, (int, float)) or steps != int(steps) or steps < 1:
        return default, f"Steps: {steps} is not a whole number of at least 1."
    return int(steps), ""


def notes(model: str, algorithm: str, budget, steps, keys: list[str], values) -> tuple:
    """The algorithm's note (its sentence and least budget here) and the budget's note (NFEs per candidate, what
    the budget buys, what is wrong with it as typed: the limits Run checks, said before Run)."""
    if algorithm not in catalog.ALGORITHMS:
        return "", ""
    brief = f"**{algorithm}**: {catalog.algorithm_brief(algorithm)}"
    known = facts(model) if catalog.runs_here(model) else None
    if known is None:
        return brief, ""
    steps, steps_problem = _steps(steps, known.default_steps)
    options, options_problem = _options(algorithm, keys, values)
    least = None if options_problem else nfes.least_budget(algorithm, known, steps, options)
    per = known.candidate(steps)
    problem = steps_problem or options_problem or nfes.budget_problem(budget, least, per, catalog.MOST_NFES)
    budget_note = nfes.cost_text(known, steps, budget) + (f"\n\n**⚠ {problem}**" if problem else "")
    return f"{brief} {nfes.least_text(algorithm, least, steps)}", budget_note


def wire_choices(demo: gr.Blocks, c: dict) -> None:
    """The events that keep the choices honest (`ui._wire` calls this): the following fields filled on load, and
    the algorithm's and the budget's notes redrawn whenever what they depend on changes."""
    quiet = dict(queue=False, show_progress="hidden", api_visibility="private")
    demo.load(opening, inputs=c["model"], outputs=[c[name] for name in FOLLOWING] +
              list(c["model_option_inputs"].values()), **quiet)
    keys, option_inputs = list(c["option_inputs"]), list(c["option_inputs"].values())
    inputs = [c["model"], c["algorithm"], c["budget"], c["steps"], *option_inputs]

    def redraw(model, algorithm, budget, steps, *values):
        return notes(model, algorithm, budget, steps, keys, values)

    for trigger in (demo.load, c["model"].change, c["algorithm"].change, c["steps"].change, c["budget"].change,
                    *(field.change for field in option_inputs)):
        trigger(redraw, inputs=inputs, outputs=[c["algorithm_note"], c["budget_note"]], **quiet)
    for trigger in (demo.load, c["verifiers"].change, c["evaluator"].change):
        trigger(catalog.score_note, inputs=[c["verifiers"], c["evaluator"]], outputs=c["score_note"], **quiet)
