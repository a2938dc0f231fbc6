"""Every cell of a sweep checked before the first one runs (issue 21): a spec that cannot run fails at once.

Each cell's config is validated when the spec is read (`SearchConfig.validate`); here its model name
is checked and its algorithm built by the one budget check, `search.fit_budget`, so its checks (budget
against one candidate's cost, checkpoints, options against steps) run too. Models that load in a
second on a CPU (analytic, bundled) are loaded here to learn their exact costs; for the others (hub
models, which the driver may not be able to load) the cheapest costs are assumed (one pass per step,
Euler), so no cell is refused that could run, and the cells whose steps are the model's default are
left to their worker. What needs the model itself (a class index out of range, a verifier of another
world) still fails in its cell, recorded in results.jsonl.
"""

from __future__ import annotations

import os

from tsearch.config import SearchConfig
from tsearch.search import Costs, fit_budget

CHEAP_KINDS = ("analytic", "bundled")   # registry kinds loaded here to learn their exact costs
SHOWN = 3                                # problems quoted in the error; the rest are counted


def unrunnable(cells, loader=None) -> dict:
    """{cell key: why it cannot run} for the cells a check finds that cannot run (see the module's note)."""
    from tsearch.sweep.local import CachingLoader

    loader = loader or CachingLoader()
    problems = {}
    for cell in cells:
        try:
            check_config(cell.config, loader)
        except ValueError as error:
            problems[cell.key] = " ".join(str(error).split())
    return problems


def refusal(cells, problems: dict) -> ValueError:
    """One ValueError saying how many cells cannot run and why: the first few reasons, one each."""
    reasons: dict[str, list[str]] = {}
    for cell in cells:
        if cell.key in problems:
            reasons.setdefault(problems[cell.key], []).append(f"{cell.config.algorithm} {cell.key}")
    shown = [f"{len(keys)} cell(s) ({keys[0]}{', ...' if len(keys) > 1 else ''}): {why}"
             for why, keys in list(reasons.items())[:SHOWN]]
    more = f"; and {len(reasons) - SHOWN} other reason(s)" if len(reasons) > SHOWN else ""
    return ValueError(f"{len(problems)} of {len(cells)} cell(s) cannot run, nothing was run: {'; '.join(shown)}{more}"
                      f" (--keep-going records them as failed and runs the rest)")


def check_cells(cells, loader=None) -> None:
    """ValueError naming how many cells cannot run and why (the first few, one each), before any runs."""
    problems = unrunnable(cells, loader)
    if problems:
        raise refusal(cells, problems)


def check_config(config: SearchConfig, loader) -> None:
    """ValueError when this validated config's model name or algorithm cannot work (see the module's note)."""
    costs, steps = _costs(config, loader)
    if steps is None:
        return   # the model's default steps are known once a worker loads it
    fit_budget(config.algorithm, config.budget, costs, steps, config.seed, config.options, config.final_steps,
               config.final_top)


def _costs(config: SearchConfig, loader) -> tuple[Costs, int | None]:
    from tsearch.models import MODELS
    from tsearch.models.hub import check_name
    from tsearch.registry import unknown

    name = config.model
    if not isinstance(name, str):
        return Costs(config.solver or "euler", 1), config.steps
    if name in MODELS and MODELS[name].kind in CHEAP_KINDS:
        options = dict(config.model_options)
        if config.dtype is not None:
            options["dtype"] = config.dtype
        model = loader.load_model(name, "cpu", options)   # the costs do not depend on the device
        return Costs(config.solver or model.default_solver, model.nfe_per_eval), config.steps or model.default_steps
    if name not in MODELS:
        if "/" not in name and not os.path.isdir(name):
            raise unknown("model", name, MODELS)
        check_name(name)
    return Costs(config.solver or "euler", 1), config.steps
