"""The ask/tell loop the algorithm tests drive, with a synthetic score (no model, no verifier)."""

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
