"""Re-create any candidate of a saved run, bit for bit, from its recorded recipe (DESIGN.md, Run on disk)."""

from __future__ import annotations

import torch

from tsearch.engine import regenerate_state, scored_images, to_pil
from tsearch.models import load_model
from tsearch.runs import load_run
from tsearch.search.base import op_from_dict, t_end


def regenerate_tensor(model, condition, recipe_rows: list[dict]) -> torch.Tensor:
    """The image tensor [3, H, W] in [0, 1] that the recipe produces (what the verifier scored)."""
    recipe = [op_from_dict(row) for row in recipe_rows]
    cond = model.encode(condition)
    x = regenerate_state(model, cond, recipe)
    return scored_images(model, cond, x, t_end(recipe))[0].float()


def regenerate_candidate(run_dir: str, candidate_id: int, model=None):
    """A saved run's candidate as a PIL image, rebuilt with the run's model, options and solver."""
    run = load_run(run_dir)
    row = run.candidate(candidate_id)
    config = run.config
    if model is None:
        model = load_model(config["model"], device=config.get("device", "cpu"), **config.get("model_options", {}))
    model.default_solver = config.get("solver", model.default_solver)
    return to_pil(regenerate_tensor(model, config["condition"], row["recipe"]))
