"""Search algorithms: ask/tell objects over noise recipes, one file each (DESIGN.md)."""

from __future__ import annotations

import dataclasses

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


def convert_option(algorithm: str, f: dataclasses.Field, value):
    """One option value, checked against its field; refused (never truncated) when it does not fit."""
    kind, where = option_kind(f), f"option {f.name} of {algorithm!r}"
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false, got {value!r}")
        return value
    if kind in (int, float):
        if isinstance(value, bool) or not (isinstance(value, (int, float)) or _is_number(value)):
            raise ValueError(f"{where} must be a {'whole ' if kind is int else ''}number, got {value!r}")
        number = float(value)
        if number != number or number in (float("inf"), -float("inf")):
            raise ValueError(f"{where} must be a finite number, got {value!r}")
        if kind is int:
            if not isinstance(value, int) and abs(number) > 2**53:
                raise ValueError(f"{where} must be given as an integer, not the float {value!r}")
            if not number.is_integer():
                raise ValueError(f"{where} must be a whole number, got {value!r}")
            return int(value) if isinstance(value, int) else int(number)
        return number
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a string, got {value!r}")
    choices = f.metadata.get("choices", ())
    if choices and value not in choices:
        raise ValueError(f"{where} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _is_number(value) -> bool:
    import numpy as np

    return isinstance(value, (np.integer, np.floating))


def option_fields(name: str) -> dict[str, dataclasses.Field]:
    if name not in ALGORITHMS:
        raise unknown("algorithm", name, ALGORITHMS)
    return {f.name: f for f in dataclasses.fields(ALGORITHMS[name].Options)}


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


__all__ = ["ALGORITHMS", "Algorithm", "Costs", "Proposal", "convert_option", "make_algorithm", "make_options",
           "option_fields"]
