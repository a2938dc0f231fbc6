"""The first image after one candidate (issues 20 and 28): with `first_alone` (every watched search: the app, the
API's stream, the CLI's progress) the search's first candidate is a batch of its own, sent before the batch-size
calibration, and the search is the same as without it."""

from __future__ import annotations

import pytest
import torch

from tsearch import engine
from tsearch import api
from tsearch.api import prepare
from tsearch.config import SearchConfig
from tsearch.events import CandidateScored
from tsearch.models import calibrate

pytestmark = pytest.mark.usefixtures("one_thread")


def config(algorithm="random", options=None) -> SearchConfig:
    return SearchConfig(model="gmm", condition=1, verifiers=("gmm-density",), algorithm=algorithm, budget=96,
                        steps=4, batch_size=4, seed=2, options=options or {"per_round": 12})


def rows(events):
    return [(e.candidate.id, e.candidate.score, e.candidate.recipe, e.candidate.nfe_spent)
            for e in events if isinstance(e, CandidateScored)]


@pytest.mark.parametrize("algorithm, options", [("random", {"per_round": 12}), ("zero-order", {"n": 4}),
                                                 ("paths", {"n": 2, "m": 2, "L": 2})])
def test_the_first_batch_holds_one_uncalibrated_candidate_and_the_search_is_unchanged(algorithm, options):
    sent = []
    plan = prepare(config(algorithm, options))
    calibrate.forget(plan.model)
    runner = engine.LocalRunner(plan, None)
    alone = list(engine.run(plan, batch_runner=lambda batch: sent.append(batch) or runner(batch), first_alone=True))
    assert len(sent[0].ops) == 1 and sent[0].chunk == 1 and sent[0].calibrate_up_to is None
    assert sent[1].calibrate_up_to is not None and sent[1].chunk is None   # the calibration moved to the second
    calibrate.forget(plan.model)
    whole = list(engine.run(prepare(config(algorithm, options))))
    assert rows(alone) == rows(whole) and len(rows(alone)) > 4


def test_the_first_candidate_is_reported_before_any_calibration(monkeypatch):
    measured, real = [], calibrate.measure
    monkeypatch.setattr(calibrate, "measure", lambda *args, **kwargs: measured.append(1) or real(*args, **kwargs))
    plan = prepare(config())
    calibrate.forget(plan.model)
    events = engine.run(plan, first_alone=True)
    first = next(e for e in events if isinstance(e, CandidateScored))
    assert first.candidate.id == 0 and measured == []   # one candidate's compute, nothing measured before it
    list(events)
    assert measured == [1]
    calibrate.forget(plan.model)


class Seen:
    """An evaluator (it steers nothing) that keeps the float images the verifiers saw, in the order scored."""
    name, flops_counted = "seen", False

    def __init__(self):
        self.images = []

    def score(self, images, condition):
        self.images.extend(images.detach().clone())
        return torch.zeros(images.shape[0], dtype=torch.float64)


CAPTION = "a red circle and a blue square"
ON_SHAPES = {"random": {"per_round": 6}, "zero-order": {"n": 3}, "paths": {"n": 2, "m": 2, "L": 1}}
BUDGETS = {"random": 6 * 2 * 2 * 2, "zero-order": 7 * 2 * 2 * 2, "paths": 68}   # two passes of guidance, 2 steps


def shapes_plan(algorithm, seen=None):
    from tsearch.models import shapes

    ok, reason = shapes.available()
    if not ok:
        pytest.skip(reason)
    return prepare(SearchConfig(model="shapes", condition=CAPTION, verifiers=("shapes-clip",),
                                evaluators=(seen,) if seen else (), algorithm=algorithm, budget=BUDGETS[algorithm],
                                steps=2, batch_size=8, seed=1, options=ON_SHAPES[algorithm]))


def marked(candidate) -> bool:
    return any(op.get("unpadded") for op in candidate.recipe)


def plain(candidate) -> tuple:
    """The candidate's recipe without the unpadded mark: the ops it names, as a search without first_alone has them."""
    return tuple({k: v for k, v in op.items() if k != "unpadded"} for op in candidate.recipe)


@pytest.mark.parametrize("algorithm", ["random", "zero-order", "paths"])
def test_on_a_padded_model_the_first_candidate_runs_unpadded_and_every_candidate_regenerates(algorithm, monkeypatch):
    """shapes pads every network call to 4 rows; the first candidate alone runs one row unpadded (about 1.5
    candidates' compute, not 4), its recipe says so, and regeneration replays it so: bit for bit, the first one
    and (paths) every descendant of it included. The search is the one without first_alone: the same candidates
    and recipes (but for the mark), the same images bit for bit for every candidate that never passes through
    the first one, and scores equal to the last bits (the verifier sees other batches)."""
    from tsearch.regenerate import regenerate_tensor

    seen, sent, rows_of_network = Seen(), [], []
    plan = shapes_plan(algorithm, seen)
    x0 = plan.model.generator.x0
    monkeypatch.setattr(plan.model.generator, "x0",
                        lambda chunk, *a, **k: rows_of_network.append(chunk.shape[0]) or x0(chunk, *a, **k))
    runner = engine.LocalRunner(plan, None)
    alone = [e.candidate for e in engine.run(plan, batch_runner=lambda batch: sent.append(batch) or runner(batch),
                                             first_alone=True) if isinstance(e, CandidateScored)]
    assert len(sent[0].ops) == 1 and rows_of_network[0] == 1   # one sample, one row: no padding
    assert {len(batch.ops) for batch in sent[1:]} - {0} and set(rows_of_network[3:]) == {4}   # then padded calls of 4
    first = alone[0]
    assert first.id == 0 and all(op["unpadded"] for op in first.recipe if op["op"] == "integrate")
    descendants = [c for c in alone[1:] if marked(c)]
    assert bool(descendants) == (algorithm == "paths")   # only paths continues from the first candidate's state
    assert all(c.recipe[:len(first.recipe)] == first.recipe for c in descendants)
    assert len(seen.images) == len(alone) > 4
    for candidate, image in zip(alone, seen.images):
        again = regenerate_tensor(plan.model, CAPTION, candidate.recipe, plan.config.solver)
        assert torch.equal(again, image), f"candidate {candidate.id} does not regenerate bit for bit"
    monkeypatch.undo()
    seen_whole = Seen()
    whole = [e.candidate for e in engine.run(shapes_plan(algorithm, seen_whole)) if isinstance(e, CandidateScored)]
    assert [c.id for c in whole] == [c.id for c in alone]   # same order of scoring, too
    for candidate, image, other, other_image in zip(alone, seen.images, whole, seen_whole.images):
        assert plain(candidate) == other.recipe and candidate.nfe_spent == other.nfe_spent
        if not marked(candidate):
            assert torch.equal(image, other_image), f"candidate {candidate.id}"
        # the verifier scores a batch of other rows (shapes-clip is not batch invariant): its last bits may differ
        assert candidate.score == pytest.approx(other.score, rel=1e-5, abs=1e-6)


def test_the_commit_of_an_unpadded_first_draft_is_padded_and_regenerates_bit_for_bit():
    """Draft-then-commit re-renders a draft's noise in a fresh integration: unmarked, padded, exact."""
    from tsearch.models import shapes
    from tsearch.regenerate import regenerate_tensor

    ok, reason = shapes.available()
    if not ok:
        pytest.skip(reason)
    seen = Seen()
    plan = prepare(SearchConfig(model="shapes", condition=CAPTION, verifiers=("shapes-clip",), evaluators=(seen,),
                                budget=3 * 4 + 3 * 8, steps=1, final_steps=2, final_top=3, batch_size=8, seed=1,
                                options={"per_round": 3}))
    made = [e.candidate for e in engine.run(plan, first_alone=True) if isinstance(e, CandidateScored)]
    commits = made[3:]
    assert marked(made[0]) and 0 in {c.parent for c in commits} and not any(marked(c) for c in commits)
    for candidate, image in zip(made, seen.images):
        assert torch.equal(regenerate_tensor(plan.model, CAPTION, candidate.recipe, plan.config.solver), image)


def test_a_recipe_marked_unpadded_replays_with_one_unpadded_row():
    """What regeneration reads: the mark in the row, written only where set, replayed unpadded."""
    from tsearch.recipes import recipe_text, regenerate_state
    from tsearch.search.base import Gaussian, Integrate, op_from_dict, op_to_dict

    plan = shapes_plan("random")
    model, cond = plan.model, plan.model.encode(CAPTION)
    ops = (Gaussian(5), Integrate(1.0, 0.0, 2, unpadded=True))
    rows = [op_to_dict(op) for op in ops]
    assert rows[1]["unpadded"] is True and "unpadded" not in op_to_dict(Integrate(1.0, 0.0, 2))
    assert tuple(op_from_dict(row) for row in rows) == ops and "2 steps, unpadded" in recipe_text(rows)
    with pytest.raises(ValueError, match="unpadded"):
        op_from_dict({"op": "integrate", "t_from": 1.0, "t_to": 0.0, "steps": 2, "unpadded": "yes"})
    from tsearch.models.invariant import unpadded
    from tsearch.recipes import Counter, start_states
    from tsearch.sampling import SOLVERS

    x = start_states(model, [ops])
    with unpadded():
        by_hand = SOLVERS[model.default_solver](Counter().x0_fn(model, cond), x, model.sigmas(2, 1.0, 0.0), None,
                                                view=model.parameterization)
    assert torch.equal(regenerate_state(model, cond, ops, model.default_solver), by_hand)
    padded = regenerate_state(model, cond, (Gaussian(5), Integrate(1.0, 0.0, 2)), model.default_solver)
    assert padded.shape == by_hand.shape   # the same sample by a padded call: other last bits, close values
    assert torch.allclose(padded, by_hand, atol=1e-3)


class Watching(api.Loader):
    """Lends each model with its denoiser wrapped: the rows of every batch the engine asks of it, in order."""

    def __init__(self):
        self.rows = []

    def load_model(self, name, device, options):
        model = super().load_model(name, device, options)
        forward = model.forward_x0
        model.forward_x0 = lambda x, cond, sigma: self.rows.append(x.shape[0]) or forward(x, cond, sigma)
        return model


def test_the_api_stream_asks_the_model_for_one_sample_first_and_finds_the_same_search():
    watching = Watching()
    streamed = list(api.stream(config(), loader=watching))
    assert watching.rows[0] == 1 and max(watching.rows) > 1   # the first batch asked of the model: one sample
    whole = list(engine.run(prepare(config()), first_alone=False))
    assert rows(streamed) == rows(whole) and len(rows(whole)) == 24   # same candidates, scores, recipes, NFEs


def test_the_stream_and_the_cli_send_the_first_candidate_alone_and_search_keeps_whole_batches(monkeypatch):
    seen = []
    real = engine.run
    monkeypatch.setattr(engine, "run",
                        lambda plan, *a, **k: seen.append(k.get("first_alone", False)) or real(plan, *a, **k))
    list(api.stream(config()))
    from tsearch.cli import main

    assert main(["run", "--model", "gmm", "--class", "1", "--verifier", "gmm-density", "--budget", "16",
                 "--algorithm", "random", "--steps", "4"]) == 0
    api.search(config())
    assert seen == [True, True, False]   # watched: the stream, the CLI's progress; the end only: search()


@pytest.mark.parametrize("solver", ["euler", "dpmpp-2m"])
def test_holding_the_autocast_open_over_an_interval_changes_no_bit(solver, monkeypatch):
    """`interval()` (shapes, digits) casts the weights once an interval, not once a call: the same bits, padded
    or unpadded, so runs written before regenerate as they did."""
    from tsearch.recipes import Counter, apply_ops, flow_ops, start_states
    from tsearch.search.base import Gaussian, Integrate

    model = shapes_plan("random").model
    cond = model.encode(CAPTION)
    for alone in (True, False):
        ops = [(Gaussian(seed), Integrate(1.0, 0.4, 2, unpadded=alone)) for seed in range(1 if alone else 3)]
        x = start_states(model, ops)
        held = apply_ops(model, cond, x, [flow_ops(o) for o in ops], solver, Counter())[0]
        with monkeypatch.context() as patch:
            patch.delattr(type(model), "interval")
            per_call = apply_ops(model, cond, x, [flow_ops(o) for o in ops], solver, Counter())[0]
        assert torch.equal(held, per_call)
