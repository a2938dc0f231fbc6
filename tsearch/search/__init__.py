"""Search algorithms: ask/tell objects over noise recipes, one file each (DESIGN.md)."""

from __future__ import annotations

import dataclasses

from tsearch.registry import unknown
from tsearch.search.base import Costs, Proposal
from tsearch.search.paths import PathsSearch
from tsearch.search.random import RandomSearch
from tsearch.search.steps import StepsBaseline
from tsearch.search.zero_order import ZeroOrderSearch

ALGORITHMS = {
    "random": RandomSearch,
    "zero-order": ZeroOrderSearch,
    "paths": PathsSearch,
    "steps": StepsBaseline,
}


def make_options(name: str, **values):
    """The algorithm's Options dataclass from keyword values; ValueError names the valid ones."""
    if name not in ALGORITHMS:
        raise unknown("algorithm", name, ALGORITHMS)
    options_cls = ALGORITHMS[name].Options
    fields = {f.name: f for f in dataclasses.fields(options_cls)}
    bad = sorted(set(values) - set(fields))
    if bad:
        valid = ", ".join(fields) or "none"
        raise ValueError(f"option(s) {', '.join(bad)} do not apply to algorithm {name!r}; its options: {valid}")
    converted = {}
    for key, value in values.items():
        kind = type(fields[key].default)
        try:
            converted[key] = kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"option {key} of {name!r} must be a {kind.__name__}, got {value!r}") from None
    return options_cls(**converted)


def make_algorithm(name: str, budget: int, costs: Costs, steps: int, seed: int = 0, **options):
    """Build an algorithm by name with its budget (NFEs), cost model, steps per candidate and seed."""
    options = make_options(name, **options)
    return ALGORITHMS[name](budget, costs, steps, seed, options)


__all__ = ["ALGORITHMS", "Costs", "Proposal", "make_algorithm", "make_options"]
