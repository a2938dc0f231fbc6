"""The anytime promise (tsearch.search.base.is_anytime), proved for every algorithm that declares it:
with the same seed, the run at budget b is the first candidates of the run at B, and its best is the best
finished candidate of the B run within b NFEs."""

import itertools

import pytest

from tsearch.arena.curves import best_within
from tsearch.candidate import Candidate
from tsearch.search import ALGORITHMS, Costs, make_algorithm
from tsearch.search.base import is_anytime

from searchloop import drive, seed_score

ANYTIME = sorted(name for name, cls in ALGORITHMS.items() if is_anytime(cls))
OPTIONS = {"zero-order": [{}, {"n": 3, "on_stall": "keep"}], "evolution": [{}, {"population": 3, "crossover": 0.9}],
           "tree": [{}, {"branch": 3, "levels": 2, "c": 0.5}]}


def rows_of(proposals, scores, costs):
    """(id, cumulative NFEs, t_end, score) per candidate, as candidates.jsonl records them, read back as records."""
    spent, rows = 0, []
    for proposal, score in zip(proposals, scores):
        spent += costs.of(proposal)
        rows.append(Candidate.from_row({"id": proposal.id, "nfe_spent": spent, "t_end": proposal.t_end, "score": score}))
    return rows


def test_the_declared_set():
    assert {"random", "zero-order", "evolution", "tree"} <= set(ANYTIME)
    assert not {"smc", "prune", "cem", "paths", "steps"} & set(ANYTIME)


@pytest.mark.parametrize("name", ANYTIME)
@pytest.mark.parametrize("steps,solver,cfg", [(10, "euler", 2), (4, "heun", 1), (6, "dpmpp-2m", 1)])
def test_a_smaller_budget_is_read_off_the_larger_run(name, steps, solver, cfg):
    costs = Costs(solver, cfg)
    one = costs.full(steps)
    for options, (big, seed) in itertools.product(OPTIONS.get(name, [{}]), [(32, 0), (13, 5)]):
        B = big * one + one // 2
        full, full_scores, _ = drive(make_algorithm(name, B, costs, steps, seed=seed, **options), costs, seed_score)
        rows = rows_of(full, full_scores, costs)
        for b in sorted({B // 2, B // 4, one, one + 1, 3 * one}):
            small_alg = make_algorithm(name, b, costs, steps, seed=seed, **options)
            small, _, spent = drive(small_alg, costs, seed_score)
            assert spent <= b
            assert [(p.id, p.ops, p.parent) for p in small] == [(p.id, p.ops, p.parent) for p in full[:len(small)]]
            assert [r.nfe_spent for r in rows].index(spent) == len(small) - 1   # it stops where B's run was
            assert small_alg.best == best_within(rows, b)[:2], (name, options, b)
