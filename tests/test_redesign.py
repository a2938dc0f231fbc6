"""The redesign's contracts: one SearchConfig, one Candidate record, best from the algorithm, models
without per-search state, and the ensemble's best over the whole pool."""

from __future__ import annotations

import json
import math
import threading

import numpy as np
import pytest
import torch

import tsearch
from tsearch import recipes
from tsearch.api import config_from
from tsearch.candidate import Candidate, Scores
from tsearch.config import SearchConfig
from tsearch.events import RoundDone
from tsearch.models.gmm import GaussianMixture
from tsearch.schedule import RectifiedFlow, VarianceExploding
from tsearch.runs import load_run
from tsearch.search import ALGORITHMS, Algorithm, Costs, make_algorithm
from tsearch.search.base import BestOf, Gaussian, Integrate
from tsearch.verifiers.ensemble import MeanRank

BASE = dict(model="gmm", cls=2, verifiers=["gmm-density"], steps=4)


# --- SearchConfig ------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,needle", [
    (dict(bach_size=8), "'bach_size' (did you mean 'batch_size'?)"),
    (dict(algorithm="zero-order", n=2.5), "option n of 'zero-order' must be a whole number"),
    (dict(steps=2.7), "steps must be a whole number"),
    (dict(budget=100.9), "budget must be a whole number"),
    (dict(budget=float("nan")), "budget must be a whole number"),
    (dict(budget=float("inf")), "budget must be a whole number"),
    (dict(budget=None), "budget must be a whole number"),
    (dict(cls=1.7), "condition (class) must be a whole number"),
    (dict(cls=True), "condition (class) must be a whole number"),
    (dict(verifiers="gmm-density"), "verifiers is a list of names, got the single string 'gmm-density'"),
    (dict(seed=-1), "seed must be in [0, 9223372036854775807]"),
    (dict(seed=2**63), "seed must be in [0, 9223372036854775807]"),
    (dict(seed=float(2**62)), "seed must be given as an integer"),
    (dict(algorithm="zero-order", on_stall="pause"), "on_stall of 'zero-order' must be one of keep, restart"),
    (dict(algorithm="random", lam=0.9), "option(s) lam do not apply to algorithm 'random'"),
    (dict(dtype="int8"), "dtype: choose one of"),
    (dict(device="tpu9"), "device 'tpu9'"),
    (dict(prompt="a", cls=1), "not both"),
])
def test_one_validation_names_the_field(kwargs, needle):
    with pytest.raises(ValueError) as error:
        tsearch.search(**{**BASE, "algorithm": "random", "budget": 40, **kwargs})
    assert needle in str(error.value)


def test_integral_floats_are_taken_and_the_config_is_frozen():
    config = config_from(**BASE, algorithm="zero-order", budget=40.0, n=3.0, seed=np.int64(7))
    assert (config.budget, config.options.n, config.seed) == (40, 3, 7)
    assert type(config.budget) is int and type(config.options.n) is int
    with pytest.raises(AttributeError):
        config.budget = 10


def test_run_json_stores_the_config_and_the_run_starts_again_from_it(tmp_path):
    first = tsearch.search(**BASE, algorithm="zero-order", budget=120, seed=3, n=3, out=str(tmp_path / "a"))
    stored = json.loads((tmp_path / "a" / "run.json").read_text())["config"]
    assert stored["options"] == {"n": 3} and stored["steps"] == 4 and stored["solver"] == "euler"
    config = SearchConfig.from_run(tmp_path / "a")
    assert config.algorithm == "zero-order" and config.options.n == 3 and config.condition == 2
    again = tsearch.search(config, out=str(tmp_path / "b"))
    assert [c.recipe for c in again.history] == [c.recipe for c in first.history]
    assert (again.best_id, again.best_score) == (first.best_id, first.best_score)
    with pytest.raises(ValueError, match="unknown config field"):
        SearchConfig.from_dict({**stored, "budgett": 3})


# --- Candidate ---------------------------------------------------------------------------------

def test_a_candidate_round_trips_its_row_and_writes_strict_json():
    c = Candidate(3, 1, 2, -math.inf, Scores(("a", "b"), (0.5, float("nan"))), Scores(("e",), (math.inf,)),
                  8, 40, 0.0, ({"op": "gaussian", "seed": 5}, {"op": "integrate", "t_from": 1.0, "t_to": 0.0, "steps": 8}))
    row = c.to_row()
    text = json.dumps(row, allow_nan=False)   # raises on NaN or Infinity
    back = Candidate.from_row(json.loads(text))
    assert back.score is None and back.scores["a"] == 0.5 and back.scores["b"] is None and back.evals["e"] is None
    assert back.scores[0] == 0.5 and back.ops == c.ops and back.id == 3 and back["nfe_spent"] == 40
    with pytest.raises(ValueError, match="candidate 4: recipe"):
        Candidate.from_row({"id": 4, "nfe_spent": 8, "recipe": "gaussian"})


def test_nan_and_infinite_scores_never_reach_a_file(tmp_path):
    def wild(images, condition):   # a callable verifier gets a list of PIL images
        values = torch.full((len(images),), float("nan"))
        values[::3] = float("inf")
        return values

    result = tsearch.search(**{**BASE, "verifiers": [wild]}, algorithm="random", budget=4 * 12, out=str(tmp_path / "r"))
    for name in ("run.json", "candidates.jsonl", "rounds.jsonl"):
        for line in (tmp_path / "r" / name).read_text().splitlines():
            assert "NaN" not in line and "Infinity" not in line
    assert result.history[0].scores[0] is None and math.isinf(result.history[0].score)
    assert result.best_score is None and result.best_id == 0   # +inf ranks first, and is no number on disk


# --- best on the events -----------------------------------------------------------------------

@pytest.mark.parametrize("algorithm,budget", [("random", 200), ("zero-order", 200), ("paths", 3000), ("steps", 200)])
def test_best_travels_on_the_events_and_the_loaded_run_agrees(tmp_path, algorithm, budget):
    from tsearch.app import charts
    from tsearch.app.state import LiveRun

    live = LiveRun()
    events = list(tsearch.stream(**BASE, algorithm=algorithm, budget=budget, out=str(tmp_path / "r")))
    for event in events:
        live.add(event)
    rounds = [e for e in events if isinstance(e, RoundDone)]
    summary = events[-1].summary
    assert (rounds[-1].best_id, rounds[-1].best_score) == (summary.best_id, summary.best_score)
    loaded = LiveRun.from_run(load_run(tmp_path / "r"))
    assert (loaded.best_id, loaded.best_score) == (live.best_id, live.best_score) == (summary.best_id, summary.best_score)
    assert charts.best_curve(loaded) == charts.best_curve(live)


def test_the_algorithms_keep_the_contract_and_tell_checks_its_proposals():
    costs = Costs("euler", 1)
    for name in ALGORITHMS:
        algorithm = make_algorithm(name, 3000, costs, 4, 0)
        assert isinstance(algorithm, Algorithm)
        first = algorithm.ask()
        with pytest.raises(ValueError, match="last ask"):
            algorithm.tell(first[:-1] or first * 2, [0.0] * len(first))
        algorithm.tell(first, [float(i) for i in range(len(first))])
        with pytest.raises(ValueError, match="before ask"):
            algorithm.tell(first, [0.0] * len(first))


# --- models without per-search state ---------------------------------------------------------------

def test_one_model_instance_serves_concurrent_searches_with_their_own_solver_and_count():
    model = GaussianMixture()
    alone = {solver: tsearch.search(model=model, cls=1, verifiers=["gmm-density"], algorithm="random", budget=160,
                                    steps=4, solver=solver, seed=1) for solver in ("euler", "heun")}
    together, errors = {}, []

    def one(solver):
        try:
            together[solver] = tsearch.search(model=model, cls=1, verifiers=["gmm-density"], algorithm="random",
                                              budget=160, steps=4, solver=solver, seed=1, batch_size=1)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=one, args=(s,)) for s in ("euler", "heun")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for solver in ("euler", "heun"):
        assert together[solver].summary.nfe_spent == alone[solver].summary.nfe_spent <= 160
        assert [c.score for c in together[solver].history] == pytest.approx([c.score for c in alone[solver].history])
    assert model.default_solver == "euler" and not hasattr(model, "solver")
    assert together["heun"].summary.candidates < together["euler"].summary.candidates   # heun costs 7 NFEs, euler 4


def test_the_app_shares_one_instance_per_model():
    from tsearch.app.pool import ModelPool

    pool = ModelPool()
    assert pool.get("gmm") is pool.get("gmm") and pool.get("gmm").model is pool.get("gmm").model


def test_schedules_are_small_objects_with_the_design_formulas():
    rf, ve = RectifiedFlow(shift=3.0), VarianceExploding(0.002, 80.0, 7.0)
    for t in (0.0, 0.25, 0.5, 1.0):
        assert rf.sigma_at(t) == pytest.approx(3.0 * t / (1 + 2.0 * t))
    assert ve.sigma_at(1.0) == pytest.approx(80.0) and ve.sigma_at(0.0) == 0.0 and ve.prior_scale == pytest.approx(80.0)
    x, e = torch.zeros(10_000), torch.randn(10_000, generator=torch.Generator().manual_seed(0))
    assert float(ve.renoise(x, 0.3, 0.5, e).std()) == pytest.approx(0.4, rel=0.03)   # sqrt(0.5^2 - 0.3^2)
    assert GaussianMixture(parameterization="ve").schedule == VarianceExploding()


def test_recipes_count_nfes_per_run_not_per_model():
    model = GaussianMixture()
    counter = recipes.Counter()
    recipes.regenerate_state(model, 1, (Gaussian(3), Integrate(1.0, 0.0, 5)), "heun", counter)
    assert counter.nfe == 9   # the model keeps no count: a shared instance serves many searches


# --- the ensemble's best ------------------------------------------------------------------------

def _first_flip(seed_range=range(200)):
    """A planted pool where "best by the rank it was told" differs from the top mean rank over the pool."""
    for seed in seed_range:
        rng = np.random.default_rng(seed)
        batches = [rng.normal(size=(4, 2)) for _ in range(5)]
        old_pool, old_best = MeanRank(2), None
        for b, raw in enumerate(batches):
            told = old_pool.update(torch.from_numpy(raw))   # each batch ranked once, against the pool then
            for j, value in enumerate(told.tolist()):
                if old_best is None or value > old_best[1]:
                    old_best = (4 * b + j, value)
        pool = np.concatenate(batches)
        final = MeanRank(2)
        final.add(torch.from_numpy(pool))
        truth = int(np.argmax(final.percentile(pool)))
        if truth != old_best[0]:
            return batches, old_best[0], truth
    raise AssertionError("no planted case found")


def test_the_ensembles_best_is_the_top_mean_rank_over_the_whole_pool():
    batches, told_best, truth = _first_flip()
    pool, best = MeanRank(2), BestOf()
    for b, raw in enumerate(batches):
        for j, rank in enumerate(pool.add(torch.from_numpy(raw))):
            best.add(4 * b + j, rank)
    assert best.best[0] == truth != told_best


@pytest.mark.parametrize("seed", range(6))
def test_two_verifier_searches_end_with_the_top_mean_rank(seed):
    def brightness(images, condition):
        return [np.asarray(image, dtype=np.float64).mean() for image in images]

    result = tsearch.search(**{**BASE, "verifiers": ["gmm-density", brightness]}, algorithm="random",
                            budget=4 * 160, seed=seed, per_round=16)
    raw = np.array([[c.scores[0], c.scores[1]] for c in result.history])
    final = MeanRank(2)
    final.add(torch.from_numpy(raw))
    ranks = final.percentile(raw)
    assert result.best_id == int(np.argmax(ranks)) and result.best_score == pytest.approx(float(ranks.max()))


def test_every_shapes_candidate_regenerates_bit_for_bit_from_its_batch(tmp_path, one_thread):
    """The reliability issue's case: candidates denoised in batches of 8, each regenerated alone."""
    from tsearch.models import load_model
    from tsearch.regenerate import regenerate_candidate

    model = load_model("shapes")
    out = tmp_path / "run"
    tsearch.search(model=model, prompt="two circles", verifiers=["shapes-clip"], algorithm="zero-order",
                   budget=2 * 3 * 12, steps=3, batch_size=8, seed=1, out=str(out), n=5)
    run = load_run(out)
    assert len(run.candidates) == 12 and run.torch_threads == 1
    for candidate in run.candidates:
        image = regenerate_candidate(out, candidate.id, model=model)
        assert np.array_equal(np.array(image), np.array(run.image(candidate.id))), candidate.id


def test_a_hanging_verifier_ends_the_search_at_its_deadline_and_keeps_what_was_found(tmp_path):
    import time

    from tsearch.verifiers.deadline import VerifierError

    calls = {"n": 0}

    def hangs_on_the_third_batch(images, condition):
        calls["n"] += 1
        if calls["n"] == 3:
            time.sleep(30)
        return [0.0] * len(images)

    started = time.perf_counter()
    with pytest.raises(VerifierError, match="did not answer within 0.5 s"):
        tsearch.search(**{**BASE, "verifiers": [hangs_on_the_third_batch]}, algorithm="random", budget=4 * 40,
                       batch_size=4, out=str(tmp_path / "r"), verifier_timeout=0.5)
    assert time.perf_counter() - started < 10
    run = load_run(tmp_path / "r")
    assert len(run.candidates) == 8 and "did not answer" in run.summary["error"]
    assert run.summary["nfe_spent"] == 3 * 4 * 4   # the third batch was denoised, then its verifier hung


def test_a_run_made_on_a_gpu_regenerates_on_a_cpu_when_asked(tmp_path):
    from tsearch.regenerate import regenerate_candidate

    out = tmp_path / "r"
    tsearch.search(**BASE, algorithm="random", budget=16, out=str(out))
    meta = json.loads((out / "run.json").read_text())
    meta["config"]["device"] = "cuda:7"          # as written on a GPU machine
    (out / "run.json").write_text(json.dumps(meta))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU is visible"):
            regenerate_candidate(out, 1)
    image = regenerate_candidate(out, 1, device="cpu")
    assert np.array_equal(np.array(image), np.array(load_run(out).image(1)))


def test_bundled_models_take_float32_and_auto_and_refuse_other_dtypes():
    assert tsearch.search(**BASE, algorithm="random", budget=8, dtype="auto").summary.candidates == 2
    with pytest.raises(ValueError, match="runs in float32 only"):
        tsearch.search(**BASE, algorithm="random", budget=8, dtype="bfloat16")


@pytest.mark.parametrize("stop_after", [1, 2, 3])
def test_stop_between_batches_keeps_the_batches_and_never_tells_a_cut_round(tmp_path, stop_after):
    seen = []
    events = tsearch.stream(**BASE, algorithm="random", budget=4 * 12, batch_size=4, per_round=12,
                            out=str(tmp_path / "r"), should_stop=lambda: len(seen) >= 4 * stop_after)
    for event in events:
        if type(event).__name__ == "CandidateScored":
            seen.append(event)
    done = event
    run = load_run(tmp_path / "r")
    assert len(run.candidates) == len(seen) == 4 * stop_after
    assert done.summary.stopped == (stop_after < 3) and done.summary.nfe_spent == 16 * stop_after
    # one round of 12, told to the algorithm only when whole; a cut one still counts for the best (issue 25)
    top = max(seen, key=lambda e: (e.candidate.score, -e.candidate.id)).candidate
    assert (done.summary.best_id, done.summary.best_score) == (top.id, top.score)
    assert len(run.rounds) == 1 and run.rounds[0]["best_id"] == top.id


@pytest.mark.parametrize("kwargs,needle", [
    (dict(model=3), "model: give a registered name"),
    (dict(model=["gmm"]), "model: give a registered name"),
    (dict(verifiers={"gmm-density": 1}), "verifiers is a list of names"),
    (dict(out=3), "out must be a folder path"),
    (dict(should_stop="x"), "should_stop must be a function"),
    (dict(verifier_timeout=-1), "verifier_timeout must be seconds"),
    (dict(verifier_timeout="x"), "verifier_timeout must be seconds"),
    (dict(budget=10**30), "budget must be in [1, 1000000000]"),
])
def test_what_the_bad_input_tally_found_is_refused_by_name(kwargs, needle):
    with pytest.raises(ValueError) as error:
        tsearch.search(**{**BASE, "algorithm": "random", "budget": 40, **kwargs})
    assert needle in str(error.value)
    with pytest.raises(ValueError, match=r"the first argument \(config\) is a SearchConfig"):
        tsearch.search("gmm")
