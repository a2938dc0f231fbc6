"""`python -m tsearch.bench scaling-algorithms`: `scaling --world shapes --methods all` at 10 steps.

Kept as a name for the table of docs/benchmarks/methods-easy-split.md: every registered algorithm (random, zero-order, paths,
steps, smc, prune, evolution, cem) at the same NFE budgets, judged by the shapes oracle, through the
same sweep as `python -m tsearch.bench scaling` (one mechanism). Flags are those of `scaling`; the
defaults here are budgets 40 160 640, 10 steps and every method.
"""

from __future__ import annotations


def main(argv=None) -> None:
    from tsearch.bench import scaling

    argv = list(argv or [])
    defaults = {"--world": ["shapes"], "--methods": ["all"], "--budgets": ["40", "160", "640"], "--steps": ["10"],
                "--out": ["out/bench-scaling-algorithms"]}
    for flag, values in defaults.items():
        if flag not in argv:
            argv += [flag, *values]
    scaling.run(argv)
