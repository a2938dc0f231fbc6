"""Re-create any candidate of a saved run, bit for bit, from its recorded recipe (DESIGN.md, Run on disk)."""

from __future__ import annotations

import torch

from tsearch import recipes
from tsearch.config import SearchConfig
from tsearch.runs import load_run
from tsearch.search.base import op_from_dict, t_end


def regenerate_tensor(model, condition, recipe_rows, solver: str | None = None) -> torch.Tensor:
    """The image tensor [3, H, W] in [0, 1] that the recipe produces (what the verifier scored)."""
    recipe = [op_from_dict(row) for row in recipe_rows]
    solver = solver or model.default_solver
    cond = model.encode(condition)
    counter = recipes.Counter()
    x = recipes.regenerate_state(model, cond, recipe, solver, counter)
    # an interval marked unpadded (a watched search's first candidate) replays unpadded, in apply_ops and here
    return recipes.scored_images(model, cond, x, t_end(recipe), counter, recipes.ends_unpadded(recipe))[0].float()


def regenerate_candidate(run_dir: str, candidate_id: int, model=None, device: str | None = None):
    """A saved run's candidate as a PIL image, rebuilt with the run's model, options, dtype (as resolved when it ran), solver and CPU threads.

    `device` overrides the run's (a run made on a GPU regenerates on a CPU; bit for bit only on the same kind)."""
    run = load_run(run_dir)
    candidate = run.candidate(candidate_id)
    stored = dict(run.config)
    if device is not None or model is not None:
        stored["device"] = device or str(getattr(model, "device", "cpu"))
    config = SearchConfig.from_dict(stored)
    if model is None:
        from tsearch.api import Loader

        options = dict(config.model_options)
        if config.dtype is not None:
            options["dtype"] = config.dtype
        model = Loader().load_model(config.model, config.device, options)
    threads = torch.get_num_threads()
    if run.torch_threads:
        torch.set_num_threads(run.torch_threads)
    try:
        return recipes.to_pil(regenerate_tensor(model, config.condition, candidate.recipe, config.solver))
    finally:
        torch.set_num_threads(threads)
