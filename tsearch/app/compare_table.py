"""The Compare tab's results table: one row per run, its best and what it cost, in NFEs and in seconds.

"Best" is `tsearch.app.best`'s (the one place it is derived); "to its best" is what the run had spent when it
scored that sample; seconds are the candidates' own wall-clock shares (denoiser, decoder and verifiers), the
same measure as the chart's seconds axis, so a run's total is where its line ends there.
"""

from __future__ import annotations

import pandas as pd

from tsearch.app import best as best_lib
from tsearch.app.state import LiveRun
from tsearch.jsonio import finite

HEADERS = ["method or verifier", "best score", "held-out score", "NFEs to best", "seconds to best", "total NFEs",
           "total seconds"]
DATATYPES = ["str", "number", "number", "number", "number", "number", "number"]


def _round(value, digits: int = 5):
    value = finite(value)
    return None if value is None else float(f"{value:.{digits}g}")


def row(run: LiveRun) -> list:
    """[label, best score, held-out score, NFEs and seconds to the best, total NFEs and seconds] (scores to 5
    significant digits, seconds to 3); None where there is nothing yet (no finished sample, no held-out evaluator)."""
    seconds = best_lib.costs(run.candidates, "seconds")
    total = seconds[-1] if seconds else 0.0
    winner = best_lib.best(run)
    label = run.label or run.algorithm
    if winner is None:
        return [label, None, None, None, None, run.nfe_spent, _round(total, 3)]
    evaluator = run.evaluators[0] if run.evaluators else None
    held = winner.evals.get(evaluator) if evaluator else None
    to_best = seconds[run.candidates.index(winner)]
    return [label, _round(winner.score), _round(held), winner.nfe_spent, _round(to_best, 3), run.nfe_spent,
            _round(total, 3)]


def table(runs: list[LiveRun]) -> pd.DataFrame:
    """One row per run, in the order they ran (a running one included, as far as it has got)."""
    return pd.DataFrame([row(run.snapshot()) for run in runs], columns=HEADERS)
