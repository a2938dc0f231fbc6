"""The ask/tell loop the algorithm tests drive, with a synthetic score (no model, no verifier)."""

import re

import numpy as np


def drive(algorithm, costs, score_fn, limit=100_000):
    """The four-line loop: ask, score, tell; returns (proposals, scores, nfe spent)."""
    seen, scores, spent = [], [], 0
    while not algorithm.done and len(seen) < limit:
        proposals = algorithm.ask()
        values = [score_fn(p) for p in proposals]
        spent += sum(costs.of(p) for p in proposals)
        algorithm.tell(proposals, values)
        seen += proposals
        scores += values
    return seen, scores, spent


def seed_score(p):
    """A reproducible score per recipe: a normal draw seeded by the proposal's ops."""
    return float(np.random.default_rng(hash(p.ops) % 2**32).normal())


def within_budgets(name, costs, steps, options, slack):
    """Over budgets from 7 to 1,000 NFEs: the algorithm spends at most its budget and proposes each id once, a
    budget too small for one search is refused naming a minimum that buys one, and from 250 NFEs on the budget
    is spent but for `slack` NFEs."""
    from tsearch.search import make_algorithm

    for budget in (7, 30, 97, 250, 1000):
        try:
            algorithm = make_algorithm(name, budget, costs, steps, seed=0, **options)
        except ValueError as error:
            least = int(re.search(r"at least (\d+)", str(error)).group(1))
            assert "budget" in str(error) and least > budget
            make_algorithm(name, least, costs, steps, seed=0, **options)   # the named minimum buys one
            continue
        proposals, _, spent = drive(algorithm, costs, seed_score)
        assert 0 < spent <= budget and algorithm.best is not None
        assert len({p.id for p in proposals}) == len(proposals)
        if budget >= 250:
            assert spent > budget - slack   # the budget is (nearly) spent
