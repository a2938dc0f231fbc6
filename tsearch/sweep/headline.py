"""The headline number of a sweep report and of the arena: its name, its scale and each result's value.

Accuracy where an oracle with a pass mark judged (shapes-oracle: ok + 0.5 partial, so a pass scores at least
1), else the first held-out evaluator, else the verifier score the search was told. `tsearch report`, its
`--against` pairing, the arena's leaderboard and the verifier ladder all read it from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tsearch.verifiers.shapes_oracle import PASS_MARK as SHAPES_PASS_MARK

ACCURACY = {"shapes-oracle": SHAPES_PASS_MARK}   # evaluator -> pass mark: accuracy is the share scoring at least this
SCORE = "score"
PREFIX = "accuracy % ("


def accuracy(oracle: str) -> str:
    """The name of an oracle's accuracy column: 'accuracy % (shapes-oracle)'."""
    return f"{PREFIX}{oracle})"


def oracle_of(names: Iterable[str]) -> str | None:
    """The first of `names` that is an oracle with a pass mark, or None."""
    return next((name for name in names if name in ACCURACY), None)


def name(evaluators: Iterable[str]) -> str:
    """The headline of results judged by these evaluators (in order): an oracle's accuracy, else the first, else
    the score."""
    evaluators = list(evaluators)
    oracle = oracle_of(evaluators)
    return accuracy(oracle) if oracle else (evaluators[0] if evaluators else SCORE)


def scale(column: str) -> float:
    """What a value is multiplied by to be shown: 100 for an accuracy in % (its values are pass 1 / fail 0)."""
    return 100.0 if column.startswith(PREFIX) else 1.0


def value(column: str, evals: Mapping, score, scores: Mapping | None = None) -> float | None:
    """One result's value in `column` (unscaled): an accuracy's pass (1.0) or fail (0.0) by the oracle's score
    among the evaluators' (else the verifiers', where the oracle searched), an evaluator's score, or the score."""
    if column == SCORE:
        return None if score is None else float(score)
    if column.startswith(PREFIX):
        oracle = column[len(PREFIX):-1]
        judged = evals.get(oracle, (scores or {}).get(oracle))
        return None if judged is None else float(judged >= ACCURACY[oracle])
    judged = evals.get(column)
    return None if judged is None else float(judged)


def of_summary(summary: Mapping, column: str) -> float | None:
    """A sweep result's value in `column`, scaled as shown (accuracy in %), from its summary's best."""
    found = value(column, summary.get("evals") or {}, summary.get("best_score"), summary.get("scores") or {})
    return None if found is None else scale(column) * found
