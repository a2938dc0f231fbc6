"""The engine on the analytic `gmm` model, where the truth is known."""

import json
import math

import numpy as np
import pytest
import torch

import tsearch
from tsearch import engine, recipes
from tsearch.events import CandidateScored, RoundDone, SearchDone, SearchStarted
from tsearch.models.gmm import GaussianMixture
from tsearch.regenerate import regenerate_candidate, regenerate_tensor
from tsearch.runs import load_run
from tsearch.search.base import op_from_dict

BASE = dict(model="gmm", cls=2, verifiers=["gmm-density"], steps=8)


class CountingGmm(GaussianMixture):
    """gmm with a text condition and two-pass CFG, counting encode calls (for accounting tests)."""
    conditioning = "text"

    def __init__(self):
        super().__init__()
        self.nfe_per_eval, self.encodes, self.nfe = 2, 0, 0

    def predict_x0(self, x, cond, sigma):   # the model's own count of the search's evaluations
        self.nfe += x.shape[0] * self.nfe_per_eval
        return super().predict_x0(x, cond, sigma)

    def encode(self, condition):
        self.encodes += 1
        if not condition.strip():
            raise ValueError("empty prompt")
        return condition

    def forward_x0(self, x, cond, sigma):
        both = super().forward_x0(torch.cat([x, x]), cond, sigma)  # the two CFG passes as one batch
        return both[: x.shape[0]]


def events(**kwargs):
    return list(tsearch.stream(**{**BASE, **kwargs}))


@pytest.mark.parametrize("algorithm,budget", [("random", 400), ("zero-order", 400), ("paths", 3000)])
def test_best_so_far_never_decreases_and_budget_holds(algorithm, budget):
    evs = events(algorithm=algorithm, budget=budget, seed=1)
    bests = [e.best_score for e in evs if isinstance(e, RoundDone) and e.best_score is not None]
    assert bests and all(b2 >= b1 for b1, b2 in zip(bests, bests[1:]))
    done = evs[-1]
    assert isinstance(done, SearchDone) and done.summary.nfe_spent <= budget
    scored = [e for e in evs if isinstance(e, CandidateScored)]
    assert done.summary.nfe_spent == sum(e.nfe for e in scored) == scored[-1].nfe_spent
    assert isinstance(evs[0], SearchStarted)


def test_more_budget_finds_higher_scores_on_average():
    small = [tsearch.search(**BASE, algorithm="random", budget=8 * 2, seed=s).best_score for s in range(12)]
    large = [tsearch.search(**BASE, algorithm="random", budget=8 * 24, seed=s).best_score for s in range(12)]
    assert np.mean(large) > np.mean(small)
    assert np.mean([s > 0 for s in large]) > np.mean([s > 0 for s in small])  # found the rewarded component


@pytest.mark.parametrize("algorithm", ["random", "zero-order", "paths"])
def test_batched_and_one_at_a_time_agree(algorithm):
    budget = 3000 if algorithm == "paths" else 240
    a = tsearch.search(**BASE, algorithm=algorithm, budget=budget, batch_size=64)
    b = tsearch.search(**BASE, algorithm=algorithm, budget=budget, batch_size=1)
    assert [h["id"] for h in a.history] == [h["id"] for h in b.history]
    assert np.allclose([h["score"] for h in a.history], [h["score"] for h in b.history], rtol=1e-5, atol=1e-4)
    assert a.best_id == b.best_id


def test_condition_is_encoded_once_and_cfg_counts_two_nfes(tmp_path):
    model = CountingGmm()
    result = tsearch.search(model=model, prompt="component two", verifiers=[lambda im, c: [0.0] * len(im)],
                            algorithm="random", budget=2 * 8 * 10, steps=8, batch_size=3)
    assert len(result.history) == 10 and result.summary.nfe_spent == 160 == model.nfe
    assert model.encodes == 2  # once validating in prepare, once for the search: never per candidate


def test_stop_mid_search_keeps_everything_scored(tmp_path):
    stream = tsearch.stream(**BASE, algorithm="random", budget=8 * 64, out=str(tmp_path / "run"), batch_size=4)
    seen = []
    for event in stream:
        if isinstance(event, CandidateScored):
            seen.append(event)
            if len(seen) == 10:
                break
    stream.close()
    run = load_run(tmp_path / "run")
    # closing mid-batch keeps the whole scored batch (3 batches of 4), and the summary agrees with the rows
    assert [row["id"] for row in run.candidates][:10] == [e.id for e in seen]
    assert len(run.candidates) == 12 and run.summary["stopped"] is True and run.summary["candidates"] == 12
    assert run.summary["nfe_spent"] == sum(row["nfe"] for row in run.candidates) == 12 * 8
    assert all((tmp_path / "run" / "images" / f"{row.id:06d}.png").exists() for row in run.candidates)


def test_run_written_as_it_goes_loads_even_with_a_torn_last_line(tmp_path):
    out = tmp_path / "run"
    tsearch.search(**BASE, algorithm="zero-order", budget=200, out=str(out))
    with open(out / "candidates.jsonl", "a") as handle:
        handle.write('{"id": 99, "par')  # a kill mid-write
    run = load_run(out)
    assert len(run.candidates) == 25 and run.summary["nfe_spent"] == 200
    assert (out / "best.png").exists()
    assert json.loads((out / "run.json").read_text())["config"]["algorithm"] == "zero-order"


def test_an_existing_run_is_never_overwritten(tmp_path):
    tsearch.search(**BASE, algorithm="random", budget=16, out=str(tmp_path / "r"))
    with pytest.raises(ValueError, match="already holds a run"):
        tsearch.search(**BASE, algorithm="random", budget=16, out=str(tmp_path / "r"))


@pytest.mark.parametrize("algorithm,budget", [("zero-order", 200), ("paths", 3000)])
def test_a_recipe_regenerates_its_candidate_exactly(tmp_path, algorithm, budget):
    out = tmp_path / "run"
    tsearch.search(**BASE, algorithm=algorithm, budget=budget, out=str(out), batch_size=7)
    run = load_run(out)
    model = GaussianMixture()
    for row in run.candidates[-5:]:
        image = regenerate_candidate(out, row["id"], model=model)
        assert np.array_equal(np.array(image), np.array(run.image(row["id"])))
        tensor = regenerate_tensor(model, 2, row["recipe"])
        assert model.log_density(tensor[None], 2).item() == pytest.approx(row["scores"]["gmm-density"], rel=1e-6)


def test_final_render_is_counted_in_the_budget(tmp_path):
    result = tsearch.search(**BASE, algorithm="random", budget=8 * 10 + 40, final_steps=40, out=str(tmp_path / "r"))
    assert result.summary.final_nfe == 40 and result.summary.nfe_spent <= 120
    assert (tmp_path / "r" / "final.png").exists()


def test_ensemble_by_mean_rank_and_nan_ranks_last():
    def nan_for_dark(images, condition):   # a callable verifier gets a list of PIL images
        scores = torch.tensor([np.asarray(image, dtype=np.float64).mean() for image in images])
        scores[scores < scores.median()] = float("nan")
        return scores

    result = tsearch.search(**{**BASE, "verifiers": ["gmm-density", nan_for_dark]}, algorithm="random", budget=8 * 32)
    scores = [h["score"] for h in result.history]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert any(h["scores"][1] is None for h in result.history)
    single = tsearch.search(**{**BASE, "verifiers": [nan_for_dark]}, algorithm="random", budget=8 * 32)
    nan_rows = [h for h in single.history if h["scores"][0] is None]
    assert nan_rows and all(h["score"] == -math.inf for h in nan_rows)
    assert single.best_score > -math.inf


def test_verifier_returning_the_wrong_number_of_scores():
    with pytest.raises(ValueError, match="returned 1 scores for 16 images"):
        tsearch.search(**{**BASE, "verifiers": [lambda im, c: [0.0]]}, algorithm="random", budget=8 * 16,
                       batch_size=16)   # 16 was the default batch size before the front doors shared one (8)


def test_timing_recorded_per_candidate():
    result = tsearch.stream(**BASE, algorithm="random", budget=80)
    scored = [e for e in result if isinstance(e, CandidateScored)]
    assert all(e.seconds > 0 and 0 <= e.verifier_seconds <= e.seconds for e in scored)


@pytest.mark.parametrize("kwargs,match", [
    (dict(model="no-such-model"), "unknown model 'no-such-model'; choose one of: .*gmm"),
    (dict(verifiers=["no-such-verifier"]), "unknown verifier 'no-such-verifier'"),
    (dict(verifiers=[]), "at least one verifier"),
    (dict(algorithm="annealing"), "unknown algorithm 'annealing'"),
    (dict(budget=7), "below one candidate's cost of 8 NFEs"),
    (dict(algorithm="zero-order", lam=1.2), "lam"),
    (dict(cls=9), "component must lie in 0..3"),
    (dict(cls=None), "class-conditional"),
    (dict(steps=0), "steps must be at least 1"),
    (dict(solver="rk4"), "unknown solver"),
    (dict(verifiers=["nomodule_xyz:f"]), "cannot import module"),
])
def test_bad_input_gives_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tsearch.search(**{**BASE, "algorithm": "random", "budget": 80, **kwargs})


def test_empty_prompt_is_rejected():
    with pytest.raises(ValueError, match="non-empty prompt"):
        tsearch.search(model=CountingGmm(), prompt="  ", verifiers=["gmm-density"], algorithm="random", budget=100)


class EarlyEstimateProbe:
    """A verifier like the paper's self-supervised one: compares each sample with its clean estimate at t = 0.4."""
    name, reference_t = "probe", 0.4

    def __init__(self):
        self.references = []

    def score(self, images, condition, reference=None):
        self.references.append((images.clone(), reference.clone()))
        return -(images - reference).abs().mean((1, 2, 3))


def test_verifiers_with_reference_t_receive_the_early_clean_estimate():
    probe = EarlyEstimateProbe()
    model = GaussianMixture()
    result = tsearch.search(model=model, cls=2, verifiers=[probe], algorithm="random", budget=10 * 4, steps=10, batch_size=4)
    assert result.summary.nfe_spent == 40  # capturing the estimate costs no NFE
    images, reference = probe.references[0]
    assert reference.shape == images.shape and not torch.equal(reference, images)
    # recompute the estimate at the schedule node t = 0.4 (node 6 of 10) for the first candidate
    recipe = result.history[0]["recipe"]
    x = engine.start_noise([op_from_dict(recipe[0])], model.noise_shape)[None]
    sigmas = model.sigmas(10)
    x6 = recipes.denoise(model, 2, x, sigmas[:7])
    expected = model.decode(model.predict_x0(x6, 2, float(sigmas[6])))
    assert torch.allclose(reference[:1], expected, atol=1e-6)


def test_reference_verifiers_refuse_candidates_that_never_pass_t04():
    with pytest.raises(ValueError, match="never pass that time"):
        tsearch.search(model="gmm", cls=2, verifiers=[EarlyEstimateProbe()], algorithm="paths", budget=3000, steps=8,
                       n=2, m=2, L=2, sigma=0.3, delta_f=0.05, delta_b=0.1)
