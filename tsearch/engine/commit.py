"""Draft-then-commit: the search's candidates are cheap drafts; the best `final_top` of them are
re-rendered from the same noise with `final_steps` steps, scored, and the best commit is the run's best.

CachedSearch (2026) and Flash-BoN (ECCV 2026) score cheap drafts and spend full quality only on the
most promising ones; with final_top = 1 this is the paper's "cheap candidates, one full final render"
(PAPER.md). Each commit is a `Candidate` of its own (parent: its draft; recipe: the draft's noise ops
and one integration from 1 to 0 in final_steps steps, so it regenerates like any candidate), written to
the run and reported as it is scored; the NFEs of the commits were reserved out of the budget.
"""

from __future__ import annotations

import math
from typing import Iterator

from tsearch import recipes
from tsearch.candidate import Candidate, Scores
from tsearch.engine.records import Batch, Plan
from tsearch.engine.state import RunState
from tsearch.events import CandidateScored, FinalRendered
from tsearch.recipes import to_pil
from tsearch.search.base import op_to_dict
from tsearch.verifiers.ensemble import MeanRank


def chosen_drafts(plan: Plan, state: RunState) -> list[tuple[int, tuple]]:
    """The best `final_top` drafts that can be committed, as (id, commit ops): the algorithm's best first,
    then the others by the score they were told, higher first (ties: the earlier id)."""
    steps, best = plan.config.final_steps, state.best[0] if state.best else None
    committable = {cid: recipes.final_render_ops(state.recipes[cid], steps)
                   for cid, c in state.candidates.items() if c.finished}
    order = sorted((cid for cid, ops in committable.items() if ops is not None and cid != best),
                   key=lambda cid: (-_number(state.candidates[cid].score), cid))
    if best is not None and committable.get(best) is not None:
        order.insert(0, best)
    return [(cid, committable[cid]) for cid in order[:plan.config.final_top]]


def _number(score) -> float:
    return -math.inf if score is None or score != score else float(score)


def _commit_scores(state: RunState, raw) -> list[float]:
    """Each commit's score: its verifier's raw score, or with several verifiers its mean rank among the
    commits only (drafts and commits are different renders, so they are not ranked together)."""
    if state.ensemble is None:
        return [_number(v) for v in raw[:, 0].tolist()]
    return [float(rank) for rank in MeanRank(len(state.names)).add(raw)]


def commit(plan: Plan, state: RunState, runner) -> Iterator:
    """Render, score and record the commits; yields their CandidateScored events, then the winner's
    FinalRendered. Sets the run's best to the winning commit. Nothing to commit: nothing happens."""
    drafts = chosen_drafts(plan, state)
    if not drafts:
        return   # no draft of this search came from a single noise (paths, smc)
    cost = plan.costs.full(plan.config.final_steps)
    nfe = cost * len(drafts)
    # one row per denoiser call, as a candidate is regenerated: each commit is bit for bit its recipe's image
    out = runner(Batch(tuple(ops for _, ops in drafts), None, 0.0, plan.config.solver, nfe, chunk=1))
    if out.nfe != nfe:
        raise RuntimeError(f"NFE accounting mismatch: the commits ran {out.nfe} NFEs, the plan said {nfe}")
    scores, first = _commit_scores(state, out.raw), max(state.candidates) + 1
    rnd = max(c.round for c in state.candidates.values()) + 1
    state.verifier_seconds += out.verifier_seconds
    made = []
    for j, (draft, ops) in enumerate(drafts):
        state.counter.nfe += cost
        candidate = Candidate(first + j, draft, rnd, scores[j], Scores(state.names, out.raw[j].tolist()),
                              Scores(state.eval_names, out.held_out[j].tolist()), cost, state.counter.nfe, 0.0,
                              tuple(op_to_dict(op) for op in ops), out.seconds / len(drafts),
                              out.verifier_seconds / len(drafts),
                              flops=state.flops_spent(state.counter.nfe, state.count + 1))
        image = to_pil(out.images[j])
        if state.writer:
            candidate = state.writer.add(candidate, image)
        state.candidates[candidate.id], state.recipes[candidate.id], state.images[candidate.id] = candidate, ops, image
        state.count += 1
        made.append(candidate)
        yield CandidateScored(candidate, image)
    winner = max(made, key=lambda c: (_number(c.score), -c.id))
    yield _crown(plan, state, winner, nfe, tuple(c.id for c in made))


def _crown(plan: Plan, state: RunState, winner: Candidate, nfe: int, ids: tuple) -> FinalRendered:
    """The winning commit becomes the run's best (final.png, rounds.jsonl); best.png keeps the best draft."""
    state.commits, state.best, state.best_image = ids, (winner.id, winner.score), state.images[winner.id]
    path = state.writer.set_best(state.best_image, "final.png") if state.writer else None
    if state.writer:
        state.writer.add_round(winner.round, state.counter.nfe, state.count, state.best)
    return FinalRendered(winner.parent, plan.config.final_steps, nfe, state.best_image, path,
                         winner.scores.values_tuple, winner.evals.values_tuple, winner.id)
