"""The state of one running search, between the loop and its batch runner.

A round's proposals are cut into batches (`start_round`); each batch goes through the runner as a
`Batch` and comes back `Scored`; its NFEs are counted and checked against the plan (`account`); its
candidates are written to the run before any is reported (`record`); then the round is told.
A list of proposals that goes through the runner together is a *group*; a `chunk` is only ever the
number of rows of one denoiser call.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any, Callable

import torch

from tsearch import flops, recipes
from tsearch.candidate import Candidate, Scores
from tsearch.engine.records import Accounted, Batch, Plan, Scored
from tsearch.recipes import Counter, to_pil
from tsearch.runs import RunWriter
from tsearch.search.base import Algorithm, Integrate, Proposal, op_to_dict
from tsearch.verifiers.deadline import Caller, VerifierError
from tsearch.verifiers.ensemble import MeanRank


class RunState:
    """The state of one running search: counter, recipes, end states of the last round, the pool of
    ranks, what was written and the algorithm's best so far."""

    def __init__(self, plan: Plan, timeout: float | None, chunked: bool = True, first_alone: bool = False):
        self.plan, self.caller = plan, Caller(timeout)
        self.counter = Counter()   # the NFEs every runner call reports, added up
        self.chunked, self.chunk = chunked, None   # the denoiser chunk, once the first batch has measured it
        self.first_alone = first_alone   # the search's first network call's worth goes alone, before calibration
        self.alone: tuple[int, ...] = ()   # the ids of that first group, once split off
        self.round_size = 0                             # proposals in the round being scored
        self.recipes: dict[int, tuple] = {}
        self.states: dict[int, torch.Tensor] = {}       # end states of the last told round (paths)
        self.new_states: dict[int, torch.Tensor] = {}   # ... of the round being scored
        self.candidates: dict[int, Candidate] = {}
        self.told: dict[int, Any] = {}                  # what the round being scored will tell
        self.untold: list[int] = []                     # ids of that round scored and not told yet (a Stop cuts)
        self.images: dict[int, Any] = {}
        self.names = tuple(v.name for v in plan.verifiers)
        self.eval_names = tuple(v.name for v in plan.evaluators)
        self.ensemble = MeanRank(len(self.names)) if len(self.names) > 1 else None
        self.reference_t = next((v.reference_t for v in [*plan.verifiers, *plan.evaluators]
                                 if getattr(v, "reference_t", None) is not None), None)
        self.verifier_seconds, self.count = 0.0, 0
        self.best: tuple[int, float] | None = None
        self.best_image = None
        self.commits: tuple[int, ...] = ()             # the committed candidates' ids (tsearch.engine.commit)
        self.cost: flops.Cost | None = None            # FLOPs per NFE, decode and verifier call (`count_flops`)
        # the thread count is recorded: CPU kernels sum in an order that can depend on it, so an exact
        # regeneration uses the same count
        extra = {"nfe_per_eval": plan.model.nfe_per_eval, "torch_threads": torch.get_num_threads()}
        self.writer = RunWriter(plan.out, plan.config.to_dict(), extra) if plan.out else None
        self.keep_images = self.writer is None and self.ensemble is not None   # live ranks may crown an old one

    def start_round(self, proposals: list[Proposal]) -> list[list[Proposal]]:
        """The round's groups: proposals of equal structure together, at most batch_size each (with
        `first_alone`, the search's first proposal in a group of its own, so its image comes first; on a model
        that pads every call to a fixed micro-batch it runs unpadded, one row, and its recipe says so)."""
        plan = self.plan
        planned = sum(plan.costs.of(p) for p in proposals)
        if self.counter.nfe + planned > plan.budget - plan.final_reserve:
            raise RuntimeError(f"algorithm {plan.algorithm_name!r} proposed {planned} NFEs with "
                               f"{plan.budget - plan.final_reserve - self.counter.nfe} left; this is a bug in it")
        self.told, self.new_states, self.untold = {}, {}, []
        self.round_size = len(proposals)   # no batch of the round is larger: calibration measures up to it
        if not self.keep_images:
            self.images = {}   # this round's images only; an earlier best is read back from its file
        by_structure = defaultdict(list)
        for proposal in proposals:
            by_structure[recipes.structure(proposal)].append(proposal)
        size = plan.config.batch_size
        groups = [g[i:i + size] for g in by_structure.values() for i in range(0, len(g), size)]
        if self.first_alone and self.count == 0 and not self.alone:
            first = _unpadded(groups[0][0]) if (getattr(plan.model, "micro_batch", None) or 1) > 1 else groups[0][0]
            self.alone = (first.id,)
            groups[:1] = [[first], groups[0][1:]] if len(groups[0]) > 1 else [[first]]
        return groups

    def _is_alone(self, group: list[Proposal]) -> bool:
        return bool(self.alone) and tuple(p.id for p in group) == self.alone

    def evaluate(self, runner, group: list[Proposal]) -> Accounted:
        """The group through `runner`; its NFEs counted into this run and checked against the plan."""
        batch = self.batch_of(group)
        return self.settle(group, batch, lambda: runner(batch))

    def settle(self, group: list[Proposal], batch: Batch, result: Callable[[], Scored]) -> Accounted:
        """`result()` accounted; a verifier that fails comes after the denoising, whose NFEs were spent."""
        try:
            out = result()
        except VerifierError:
            self.counter.nfe += batch.nfe
            raise
        return self.account(group, out)

    def batch_of(self, group: list[Proposal]) -> Batch:
        """The runner's input for these proposals (the first asks it to calibrate the denoiser chunk; the
        first group sent alone does not: it is one call, and its image should not wait)."""
        plan = self.plan
        starts = None if group[0].start is None else torch.stack([self.states[p.start] for p in group])
        alone = self._is_alone(group)
        calibrating = self.chunked and self.chunk is None and not alone
        return Batch(tuple(tuple(p.ops) for p in group), starts, group[0].t_end, plan.config.solver,
                     sum(plan.costs.of(p) for p in group), self.reference_t, len(group) if alone else self.chunk,
                     min(plan.config.batch_size, self.round_size) if calibrating else None)

    def account(self, group: list[Proposal], out: Scored) -> Accounted:
        """A runner's result counted into this run: NFEs checked against the plan, the calibration kept."""
        plan = self.plan
        costs = [plan.costs.of(p) for p in group]
        if out.calibration is not None:
            self.chunk = out.calibration.chunk
            if self.writer and "calibration" not in self.writer.extra:   # overlapped: a second batch may repeat it
                self.writer.extra["calibration"] = out.calibration.to_dict()
        elif self.chunked and self.chunk is None and not self._is_alone(group):
            self.chunk = plan.config.batch_size   # a runner that does not calibrate: whole batches
        if out.nfe != sum(costs):
            raise RuntimeError(f"NFE accounting mismatch: the denoiser ran {out.nfe} NFEs, the plan said {sum(costs)}")
        self.counter.nfe += out.nfe
        n = len(group)
        self.verifier_seconds += out.verifier_seconds
        return Accounted(out.states, out.images, out.raw, out.held_out, costs, out.seconds / n, out.verifier_seconds / n)

    def count_flops(self, runner) -> flops.Cost:
        """The search's FLOPs per NFE, decode and verifier call (counted once per process, `tsearch.flops`),
        recorded in run.json; each candidate then carries the run's cumulative FLOPs (`Candidate.flops`)."""
        if self.cost is None:
            plan = self.plan
            self.cost = flops.of_search(plan.model, getattr(runner, "cond", None), plan.verifiers, plan.condition)
            if self.writer:
                self.writer.extra["flops"] = self.cost.to_dict()
        return self.cost

    def flops_spent(self, nfe: int, scored: int) -> int | None:
        """Cumulative FLOPs once `nfe` NFEs were spent and `scored` candidates scored (None: not counted)."""
        return self.cost.spent(nfe, scored) if self.cost is not None else None

    def _scores(self, raw: torch.Tensor) -> list:
        """What the algorithm is told: the raw score (NaN ranks last), or live mean ranks for an ensemble."""
        if self.ensemble is not None:
            return self.ensemble.add(raw)
        first = raw[:, 0]
        return [float(v) for v in torch.where(torch.isnan(first), torch.full_like(first, -float("inf")), first)]

    def record(self, group: list[Proposal], done: Accounted) -> list[Candidate]:
        """The group's Candidates, every one written to the run before any is reported."""
        scores, spent, scored = self._scores(done.raw), self.counter.nfe - sum(done.costs), []
        for j, proposal in enumerate(group):
            recipe = (self.recipes[proposal.start] if proposal.start is not None else ()) + tuple(proposal.ops)
            self.recipes[proposal.id] = recipe
            spent += done.costs[j]
            self.told[proposal.id] = scores[j]
            if proposal.t_end > 0.0:
                self.new_states[proposal.id] = done.states[j]
            image = to_pil(done.images[j])
            candidate = Candidate(
                proposal.id, proposal.parent, proposal.round, float(scores[j]),
                Scores(self.names, done.raw[j].tolist()), Scores(self.eval_names, done.held_out[j].tolist()),
                done.costs[j], spent, proposal.t_end, tuple(op_to_dict(op) for op in recipe),
                done.seconds, done.verifier_seconds,
                draft=recipes.is_draft(recipe, self.plan.steps, self.plan.config.final_steps),
                flops=self.flops_spent(spent, self.count + j + 1))
            if self.writer:
                candidate = self.writer.add(candidate, image)
            self.candidates[proposal.id] = candidate
            self.images[proposal.id] = image
            self.untold.append(proposal.id)
            scored.append(candidate)
        self.count += len(scored)
        return scored

    def tell(self, algorithm: Algorithm, proposals: list[Proposal]) -> None:
        """Tell the round; take the algorithm's best (and its image) as it reports it."""
        algorithm.tell(proposals, [self.told[p.id] for p in proposals])
        self.states, self.untold = self.new_states, []
        if algorithm.best is not None:
            if self.best is None or algorithm.best[0] != self.best[0]:
                self.best_image = image_of(self.candidates[algorithm.best[0]], self.images)
                if self.writer and self.best_image is not None:
                    self.writer.set_best(self.best_image)
            self.best = algorithm.best
        if self.writer:
            self.writer.add_round(proposals[0].round, self.counter.nfe, self.count, self.best)

    def keep_cut(self, algorithm: Algorithm) -> bool:
        """A round a Stop (or a failure) cut before it was told: its scored finished samples join the run's best,
        by the score they would have been told, so the best is never worse than a candidate the run kept. The
        algorithm's own rule holds otherwise: the best over the run (ties: the earlier), or for an algorithm whose
        best is its latest sample (`best_is_latest`, the steps baseline) the latest. Clean estimates of noisy states
        never count, as in every algorithm. True when the round had scored candidates (the caller reports it)."""
        ids, self.untold = [i for i in self.untold if i in self.candidates], []
        finished = [i for i in ids if self.candidates[i].t_end == 0.0]
        if finished:
            if getattr(algorithm, "best_is_latest", False):
                pick = finished[-1]
            else:   # read now: live ensemble ranks compare as they stand
                pick = max(finished, key=lambda i: (_number(self.told[i]), -i))
            score, current = _number(self.told[pick]), algorithm.best or self.best   # the algorithm's, read now
            if current is None or getattr(algorithm, "best_is_latest", False) or score > _number(current[1]):
                self.best, self.best_image = (pick, score), image_of(self.candidates[pick], self.images)
                if self.writer and self.best_image is not None:
                    self.writer.set_best(self.best_image)
        if ids and self.writer:
            self.writer.add_round(self.candidates[ids[0]].round, self.counter.nfe, self.count, self.best)
        return bool(ids)


def _unpadded(proposal: Proposal) -> Proposal:
    """The proposal with its integrations marked unpadded: one row alone costs about 1.5 candidates' compute on
    shapes where a padded call costs 4 (docs/compute.md), and the mark makes every replay run it the same way."""
    ops = tuple(replace(op, unpadded=True) if isinstance(op, Integrate) else op for op in proposal.ops)
    return replace(proposal, ops=ops)


def _number(score) -> float:
    """A told score as a float to compare (a live rank read now; NaN or None lowest)."""
    value = -float("inf") if score is None else float(score)
    return -float("inf") if value != value else value


def image_of(candidate: Candidate, images: dict):
    """A candidate's image: in memory if this round made it, else read back from its file."""
    if candidate.id in images:
        return images[candidate.id]
    if candidate.image_path:
        from PIL import Image

        with Image.open(candidate.image_path) as image:
            return image.copy()
    return None
