"""The run's best so far, derived once from its candidates and the algorithm's rounds.

The chart's best line, its winner mark, the gallery's star and the best card all read `history(run)`,
for a live run and a loaded one alike (both are a `LiveRun`: candidates in the order they were scored,
and the algorithm's best after each told round).

How "best" is decided (DESIGN.md: "best" comes from the algorithm, on the events):
- After each round the algorithm reports its best (`RoundDone`): that candidate is the best from then on.
  Its rule is its own: best over the run (random, zero-order, evolution), best *finished* sample (paths,
  prune, smc), the full render of the best preview (cem), the latest sample (the steps baseline).
- Between two reports (a round still being scored, or cut by Stop) a finished sample that scores higher
  than the last reported best becomes the best: the best found so far, shown before its round is told.
- A preview (a clean estimate of a noisy state, `Candidate.finished` False: smc, prune and paths score
  these) is never the best. Previews have their own running maximum, drawn and badged as previews.
- A draft (a few-step render the run does not deliver, `Candidate.draft`: cem's previews, and every
  sample of a draft-then-commit run before its commits) is never the best either, even when the algorithm
  reports one (cem does until its full render): the best follows the samples the run can deliver. Drafts
  have their own running maximum, drawn and badged as drafts.
So the best line starts at the first deliverable sample and, for every algorithm whose rule is "the highest
score", never goes down; the steps baseline's line follows its latest sample, as its result does.
"""

from __future__ import annotations

from dataclasses import dataclass

from tsearch.app.state import LiveRun
from tsearch.candidate import Candidate
from tsearch.jsonio import finite

COSTS = {"nfe": "NFEs spent (denoiser passes)", "seconds": "seconds spent (denoiser, decoder and verifiers)",
         "calls": "verifier calls (candidates scored)",
         "flops": "FLOPs spent (denoiser, decoder and verifiers; tsearch.flops)"}


@dataclass(frozen=True)
class Step:
    """The state of the run once `scored` was scored: its best, best preview and best draft so far (None: none yet)."""
    scored: Candidate
    best: Candidate | None
    preview: Candidate | None
    draft: Candidate | None = None


def _score(candidate: Candidate | None) -> float:
    value = None if candidate is None else finite(candidate.score)
    return float("-inf") if value is None else value


def history(run: LiveRun) -> list[Step]:
    """One Step per candidate, in the order they were scored (see the module's docstring for the rule)."""
    steps, best, preview, draft = [], None, None, None
    rounds, r = run.rounds, 0
    higher = lambda c, than: finite(c.score) is not None and (than is None or _score(c) > _score(than))  # noqa: E731
    for candidate in run.candidates:
        if candidate.deliverable:
            best = candidate if higher(candidate, best) else best
        elif candidate.finished:
            draft = candidate if higher(candidate, draft) else draft
        else:
            preview = candidate if higher(candidate, preview) else preview
        while r < len(rounds) and rounds[r][0] <= candidate.nfe_spent:   # the rounds told once it was scored
            reported = run.candidate(rounds[r][1])
            if reported is not None and reported.deliverable:
                best = reported
            r += 1
        steps.append(Step(candidate, best, preview, draft))
    return steps


def best(run: LiveRun) -> Candidate | None:
    """The run's best deliverable sample so far (None before the first one)."""
    steps = history(run)
    return steps[-1].best if steps else None


def best_preview(run: LiveRun) -> Candidate | None:
    steps = history(run)
    return steps[-1].preview if steps else None


def best_draft(run: LiveRun) -> Candidate | None:
    steps = history(run)
    return steps[-1].draft if steps else None


def costs(candidates: list[Candidate], cost: str = "nfe") -> list[float]:
    """Each candidate's x on the chart: NFEs spent, seconds spent (verifiers included), verifier calls or FLOPs."""
    if cost not in COSTS:
        raise ValueError(f"cost must be one of {', '.join(COSTS)}, got {cost!r}")
    if cost == "nfe":
        return [c.nfe_spent for c in candidates]
    if cost == "calls":
        return list(range(1, len(candidates) + 1))
    if cost == "flops":   # None where the run could not count them (the point is left off the axis)
        return [c.flops for c in candidates]
    total, out = 0.0, []
    for c in candidates:
        total += c.seconds
        out.append(round(total, 3))
    return out


def line(run: LiveRun, cost: str = "nfe", previews: bool = False, drafts: bool = False) -> tuple[list, list, list]:
    """(xs, scores, ids) of the best-so-far line (or the best-preview, or best-draft, line): a point per
    candidate from the first one that has a best, and at each point the best's score."""
    xs, ys, ids = [], [], []
    for x, step in zip(costs(run.candidates, cost), history(run)):
        chosen = step.preview if previews else step.draft if drafts else step.best
        if chosen is not None:
            xs.append(x)
            ys.append(finite(chosen.score))
            ids.append(chosen.id)
    return xs, ys, ids
