"""The page's time estimate in words: 'N NFEs take about T s here', shown beside the budget before Run.

The first time a model is asked about, a short calibration search on its preset settings measures it
(`tsearch.app.estimate.Estimator.calibrate`, on the app's one path); after that the figure is the process's
finished Runs'. The form (`choices`, `restore`), the Compare tab's total and the Arena tab's duration read it here.
"""

from __future__ import annotations

import gradio as gr

from tsearch import engine
from tsearch.app import catalog, form, one_path
from tsearch.app.pool import POOL
from tsearch.config import DEFAULT_BATCH, MAX_BUDGET
from tsearch.registry import Unavailable


def estimate(model: str, budget, prompt: str | None = None, cls: int | None = None,
             batch_size: int = DEFAULT_BATCH, baseline: bool = False) -> str:
    """'N NFEs take about T s here': the first time, from a short search on the model's preset settings (its
    verifiers and held-out evaluator, the model's steps, `batch_size`), then from this process's finished Runs."""
    estimator = one_path.ESTIMATOR
    if model not in catalog.known_models() or not catalog.status_of("model", model)[0]:
        return ""
    if estimator.per_nfe(model) is None and not (catalog.is_local(model) or POOL.loaded(model)):
        return "Time estimate: measured once the model has loaded (its first search)."
    if estimator.per_nfe(model) is None:
        try:
            estimator.calibrate(_calibration_plan(model, prompt, cls, batch_size))
        except (ValueError, Unavailable, TypeError, gr.Error) as error:
            return f"Time estimate unavailable: {error}"
    return estimator.text(model, budget, bool(baseline))


def _calibration_plan(model: str, prompt: str | None, cls: int | None, batch_size) -> engine.Plan:
    """The plan of the calibration search: the model's preset verifiers and evaluator, a run folder of its own."""
    slot, preset = POOL.get(model), catalog.preset(model)
    text_model = slot.model.conditioning == "text"
    config = form.build(model, slot.model.conditioning, prompt=(prompt or preset.prompt) if text_model else None,
                        cls=None if text_model else (cls or 0), verifiers=preset.verifiers,
                        evaluator=preset.evaluator, algorithm="random", budget=MAX_BUDGET,   # it stops itself
                        batch_size=int(batch_size or DEFAULT_BATCH))
    return one_path._plan(slot, config, label="calibration")
