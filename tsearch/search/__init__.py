"""Search algorithms: ask/tell objects over noise recipes, one file each (DESIGN.md)."""

from __future__ import annotations

import dataclasses

from tsearch.options import Setting, check, setting_of
from tsearch.registry import unknown
from tsearch.search.base import Algorithm, Costs, Proposal
from tsearch.search.cem import CEMSearch
from tsearch.search.evolution import EvolutionSearch
from tsearch.search.paths import PathsSearch
from tsearch.search.prune import PruneSearch
from tsearch.search.random import RandomSearch
from tsearch.search.smc import SMCSearch
from tsearch.search.steps import StepsBaseline
from tsearch.search.tree import TreeSearch
from tsearch.search.zero_order import ZeroOrderSearch

ALGORITHMS = {
    "random": RandomSearch,
    "zero-order": ZeroOrderSearch,
    "paths": PathsSearch,
    "steps": StepsBaseline,
    "smc": SMCSearch,
    "prune": PruneSearch,
    "evolution": EvolutionSearch,
    "cem": CEMSearch,
    "tree": TreeSearch,
}


def option_kind(f: dataclasses.Field) -> type:
    """int, float, str or bool: the type of an option's default."""
    return type(f.default)


def option_setting(algorithm: str, f: dataclasses.Field) -> Setting:
    """An option's Setting: as `option(...)` declared it, or read off a plain field (its default's type)."""
    declared = setting_of(f)
    if declared is not None:
        return declared
    return Setting(f.name, type(f.default), f.default, f.metadata.get("help", ""), group="algorithm",
                   choices=tuple(f.metadata.get("choices", ())))


def convert_option(algorithm: str, f: dataclasses.Field, value):
    """One option value, checked against its setting (kind, finite, range, choices); refused, never clamped."""
    return check(option_setting(algorithm, f), value, f"option {f.name} of {algorithm!r}")


def declared_fields(name: str) -> dict[str, dataclasses.Field]:
    """The Options fields a registered algorithm declares."""
    if name not in ALGORITHMS:
        raise unknown("algorithm", name, ALGORITHMS)
    return {f.name: f for f in dataclasses.fields(ALGORITHMS[name].Options)}


option_fields = declared_fields   # the name the app and the API read


def option_settings(name: str) -> dict[str, Setting]:
    """name -> Setting of every option of a registered algorithm (help, default, range, label)."""
    return {key: option_setting(name, f) for key, f in option_fields(name).items()}


def make_options(name: str, **values):
    """The algorithm's Options dataclass from keyword values; ValueError names the valid ones."""
    fields = option_fields(name)
    bad = sorted(set(values) - set(fields))
    if bad:
        valid = ", ".join(fields) or "none"
        raise ValueError(f"option(s) {', '.join(bad)} do not apply to algorithm {name!r}; its options: {valid}")
    return ALGORITHMS[name].Options(**{key: convert_option(name, fields[key], v) for key, v in values.items()})


def make_algorithm(name: str, budget: int, costs: Costs, steps: int, seed: int = 0, options=None, **values):
    """Build an algorithm by name with its budget (NFEs), cost model, steps per candidate and seed.

    `options` is its Options instance; keyword `values` build one instead."""
    if options is None:
        options = make_options(name, **values)
    elif values:
        raise ValueError("give an algorithm either an Options instance or keyword options, not both")
    return ALGORITHMS[name](budget, costs, steps, seed, options)


def fit_budget(name: str, budget: int, costs: Costs, steps: int, seed: int = 0, options=None,
               final_steps: int | None = None, final_top: int = 1, **values):
    """The one budget check: the algorithm as a search of `budget` NFEs builds it, after the commits (`final_top`
    renders of `final_steps` steps) are kept back; ValueError naming the budget, final_top or the option that
    does not fit. The API's plan, a sweep's pre-check, the arena and the app's budget hint all ask it.
    `options` and keyword `values` as `make_algorithm` takes them."""
    reserved = _reserved_for_commits(budget, costs, steps, final_steps, final_top)
    return make_algorithm(name, budget - reserved, costs, steps, seed, options, **values)


def _reserved_for_commits(budget: int, costs: Costs, steps: int, final_steps: int | None, top: int) -> int:
    """The NFEs kept back for the commits; ValueError when they leave no room for as many drafts to choose from."""
    if not final_steps:
        return 0
    full, reserved = costs.full(steps), top * costs.full(final_steps)
    if top == 1 and budget - reserved < full:
        raise ValueError(f"budget of {budget} NFEs does not cover a final render of {final_steps} "
                         f"steps ({reserved} NFEs) plus one candidate ({full} NFEs)")
    if budget - reserved < top * full:
        most = budget // (costs.full(final_steps) + full)   # n commits need n * (commit + draft) NFEs
        lower = f"lower final_top (at most {most} here) or raise the budget" if most else "raise the budget"
        raise ValueError(f"final_top={top}: a budget of {budget} NFEs does not cover {top} commits of "
                         f"{final_steps} steps ({reserved} NFEs) plus {top} drafts to choose them from "
                         f"({top * full} NFEs); {lower}")
    return reserved


__all__ = ["ALGORITHMS", "Algorithm", "Costs", "Proposal", "convert_option", "declared_fields", "fit_budget",
           "make_algorithm", "make_options", "option_fields", "option_settings"]
