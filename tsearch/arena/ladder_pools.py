"""The verifier ladder's reading of candidate pools: each verifier's pick, its agreement with the oracle, its ties.

A *pool* is the finished candidates one search scored, in the order it scored them, each with every
verifier's raw score and the evaluators' scores (candidates.jsonl). An *entry* of the ladder is a tuple of
verifier names: one verifier, or several combined by mean rank (`tsearch.verifiers.ensemble`: each
candidate's percentile among the pool under each verifier, ties counting half, averaged).

- `entry_scores`: the entry's score of every candidate of a pool (an ensemble's over that very pool).
- `pick`: the index of the best (the first of equal bests, as `curves.best_within` and random search pick).
- `agreement`: over the pairs of candidates whose oracle scores differ, how many the entry orders the same
  way (a tie under the entry is not the same way); (agreeing pairs, pairs).
- `tied_best`: whether the pool's best entry score is shared by more than one candidate.
- `join`: the pools of several random-search cells of one unit, candidate by candidate (their candidates
  are the same noises whatever the verifiers, so scores recorded in different cells belong together).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsearch.candidate import Candidate


@dataclass(frozen=True)
class Pool:
    """One search's finished candidates in scoring order: raw scores [n, V] by name, oracle scores, costs."""
    names: tuple                 # the verifier names of `scores`' columns
    scores: np.ndarray           # [n, V] raw scores, -inf where missing or NaN
    oracle: np.ndarray           # [n] the evaluator's score (nan where missing)
    nfe_spent: np.ndarray        # [n] cumulative NFEs when each was scored
    seconds: np.ndarray          # [n] each candidate's wall-clock share, verifiers included
    verifier_seconds: np.ndarray  # [n] of which in the verifiers and evaluators
    ids: tuple = ()
    own: int | None = None       # how many of `names` its own cell scored (the rest joined from other cells)

    def __len__(self) -> int:
        return len(self.oracle)

    def within(self, nfe: float) -> "Pool":
        """The candidates scored within `nfe` NFEs (what an anytime search at that budget had seen)."""
        k = int(np.searchsorted(self.nfe_spent, nfe, side="right"))
        return Pool(self.names, self.scores[:k], self.oracle[:k], self.nfe_spent[:k], self.seconds[:k],
                    self.verifier_seconds[:k], self.ids[:k], self.own)


def pool_of(candidates: list[Candidate], oracle: str | None) -> Pool:
    """The pool of a cell's candidates (only finished samples: t_end == 0), in NFE order."""
    rows = sorted((c for c in candidates if c.finished), key=lambda c: c.nfe_spent)
    names = tuple(dict.fromkeys(n for c in rows for n in c.scores))
    scores = np.array([[_score(c.scores.get(n)) for n in names] for c in rows],
                      dtype=float).reshape(len(rows), len(names))
    judged = np.array([_nan(c.evals.get(oracle)) if oracle else np.nan for c in rows], dtype=float)
    column = lambda key: np.array([float(getattr(c, key)) for c in rows], dtype=float)   # noqa: E731
    return Pool(names, scores, judged, column("nfe_spent"), column("seconds"), column("verifier_seconds"),
                tuple(c.id for c in rows))


def join(pools: list[Pool]) -> Pool | None:
    """One pool with every column of `pools` (cells of one random-search unit); the first pool's candidates
    and costs. None when they are not the same candidates (ids and NFEs differ: they cannot be joined)."""
    if not pools:
        return None
    first = pools[0]
    names, columns = list(first.names), [first.scores]
    for other in pools[1:]:
        k = min(len(first), len(other))
        if first.ids[:k] != other.ids[:k] or not np.array_equal(first.nfe_spent[:k], other.nfe_spent[:k]):
            return None
        n = len(first)
        for j, name in enumerate(other.names):
            if name not in names:
                column = np.full(n, -np.inf)
                column[:k] = other.scores[:k, j]
                names.append(name)
                columns.append(column[:, None])
    return Pool(tuple(names), np.concatenate(columns, 1), first.oracle, first.nfe_spent, first.seconds,
                first.verifier_seconds, first.ids, len(first.names) if first.own is None else first.own)


def covers(pool: Pool, entry: tuple) -> bool:
    return all(name in pool.names for name in entry)


def entry_scores(pool: Pool, entry: tuple) -> np.ndarray:
    """[n] the entry's score of each candidate: the verifier's raw score, or an ensemble's mean percentile."""
    columns = pool.scores[:, [pool.names.index(name) for name in entry]]
    if len(entry) == 1:
        return columns[:, 0]
    n = len(pool)
    ranks = []
    for v in range(columns.shape[1]):
        ordered = np.sort(columns[:, v])
        ranks.append((np.searchsorted(ordered, columns[:, v], "left") +
                      np.searchsorted(ordered, columns[:, v], "right")) / (2.0 * n))
    return np.mean(ranks, axis=0)


def pick(scores: np.ndarray) -> int | None:
    """The index of the best score (the first of equal bests); None for an empty pool."""
    return int(np.argmax(scores)) if len(scores) else None


def tied_best(scores: np.ndarray) -> bool:
    """Whether more than one candidate holds the best score."""
    return len(scores) > 1 and int((scores == scores.max()).sum()) > 1


def agreement(scores: np.ndarray, oracle: np.ndarray, passes_only: float | None = None) -> tuple[int, int]:
    """(pairs ordered the same way, pairs) over the candidate pairs whose oracle scores differ. With
    `passes_only` (the oracle's pass mark), only pairs where one passes and the other fails count."""
    keep = ~np.isnan(oracle)
    s, o = scores[keep], oracle[keep]
    if passes_only is not None:
        o = (o >= passes_only).astype(float)
    i, j = np.triu_indices(len(o), 1)
    differ = o[i] != o[j]
    same = np.sign(s[i] - s[j]) == np.sign(o[i] - o[j])
    return int((same & differ).sum()), int(differ.sum())


def apportioned_seconds(pool: Pool, entry: tuple, evaluators: tuple, cost: dict) -> np.ndarray:
    """[n] each candidate's seconds had only the entry's verifiers (and the evaluators) scored it: its
    denoising and decoding share plus its verifier time scaled by the measured per-image costs (those of the
    entry and the evaluators over those its own cell scored with; a joined verifier adds its own cost)."""
    scored = [*pool.names[:pool.own], *evaluators]
    total = sum(cost.get(name, 0.0) for name in scored)
    part = sum(cost.get(name, 0.0) for name in [*entry, *evaluators])
    share = part / total if total > 0 else 1.0
    return pool.seconds - pool.verifier_seconds + share * pool.verifier_seconds


def _score(value) -> float:
    return -np.inf if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def _nan(value) -> float:
    return np.nan if value is None else float(value)
