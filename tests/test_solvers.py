"""DPM-Solver++(2M) beside Euler and Heun: order of convergence on the exact gmm denoiser, its first-order
steps, NFE counts, history restarts per interval, and exact regeneration of every candidate it made."""

import numpy as np
import pytest
import torch

import tsearch
from tsearch import noise, recipes
from tsearch.config import SearchConfig
from tsearch.models.gmm import GaussianMixture
from tsearch.regenerate import regenerate_candidate
from tsearch.runs import load_run
from tsearch.sampling import SOLVERS, sample_dpmpp_2m, sample_euler, solver_nfes
from tsearch.search import Costs
from tsearch.search.base import Gaussian, Integrate, Proposal, Renoise

pytestmark = pytest.mark.usefixtures("one_thread")


def _start(model, n=12):
    return torch.stack([noise.gaussian(model.noise_shape, i) for i in range(n)]).double() * model.prior_scale


def _errors(model, solver, steps, reference, x, t_from=1.0, t_to=0.0):
    x0_fn = lambda x_, s: model.forward_x0(x_, 0, s)  # noqa: E731  (float64 states: no rounding floor)
    return [(SOLVERS[solver](x0_fn, x, model.sigmas(n, t_from, t_to), view=model.parameterization) - reference)
            .pow(2).mean().sqrt().item() for n in steps]


def _reference(model, x, t_from=1.0, t_to=0.0, steps=2048):
    x0_fn = lambda x_, s: model.forward_x0(x_, 0, s)  # noqa: E731
    return SOLVERS["heun"](x0_fn, x, model.sigmas(steps, t_from, t_to))


@pytest.mark.parametrize("view", ["rf", "ve"])
def test_dpmpp_2m_converges_at_second_order_and_euler_at_first(view):
    """Halving the step: the error shrinks ~4x for 2M, ~2x for Euler (against a 2048-step Heun reference).

    Rectified flow is checked on [0.9, 0.1]: a grid uniform in t is geometric in lambda = log((1-s)/s)
    near s = 0 and s = 1, where 2M's error shrinks more slowly on the whole trajectory (measured:
    x2.4, x3.0, x3.2 per halving from 128 to 1024 steps); that slower ratio is checked too."""
    model = GaussianMixture(parameterization=view)
    x = _start(model)
    if view == "rf":
        xs = _reference(model, x, 1.0, 0.9, 512)
        reference = _reference(model, xs, 0.9, 0.1)
        two_m, euler = _errors(model, "dpmpp-2m", (16, 32, 64), reference, xs, 0.9, 0.1), \
            _errors(model, "euler", (16, 32, 64), reference, xs, 0.9, 0.1)
    else:
        reference = _reference(model, x)
        two_m, euler = _errors(model, "dpmpp-2m", (64, 128, 256), reference, x), \
            _errors(model, "euler", (64, 128, 256), reference, x)
    for coarse, fine in zip(two_m, two_m[1:]):
        assert 3.5 < coarse / fine < 5.0, two_m
    for coarse, fine in zip(euler, euler[1:]):
        assert 1.7 < coarse / fine < 2.3, euler
    assert two_m[-1] < euler[-1] / 10


def test_dpmpp_2m_on_the_whole_rectified_flow_trajectory_still_beats_euler_by_far():
    model = GaussianMixture(parameterization="rf")
    x = _start(model)
    reference = _reference(model, x)
    two_m, euler = _errors(model, "dpmpp-2m", (256, 512), reference, x), _errors(model, "euler", (256, 512), reference, x)
    assert two_m[0] / two_m[1] > 2.7 and euler[0] / euler[1] < 2.1
    assert two_m[1] < euler[1] / 8


@pytest.mark.parametrize("view", ["rf", "ve"])
def test_its_first_order_steps_are_euler_steps(view):
    """No history (one step, or two steps whose last goes to 0): the DPM-Solver++(1) update, equal to Euler."""
    model = GaussianMixture(parameterization=view)
    x = _start(model, 4)
    x0_fn = lambda x_, s: model.forward_x0(x_, 0, s)  # noqa: E731
    for sigmas in (model.sigmas(1, 1.0, 0.5), model.sigmas(2), model.sigmas(1)):
        assert torch.allclose(sample_dpmpp_2m(x0_fn, x, sigmas, view=view), sample_euler(x0_fn, x, sigmas), atol=1e-12)
    # with history, it is not Euler
    sigmas = model.sigmas(5, 1.0, 0.2)
    assert not torch.allclose(sample_dpmpp_2m(x0_fn, x, sigmas, view=view), sample_euler(x0_fn, x, sigmas), atol=1e-6)


def test_one_nfe_per_step_counted_by_the_model_the_counter_and_costs():
    model = GaussianMixture()
    x = noise.gaussian((3, *model.noise_shape), 0)
    counter = recipes.Counter()
    recipes.denoise(model, 0, x, model.sigmas(7), "dpmpp-2m", counter)
    assert counter.nfe == 3 * 7 == 3 * solver_nfes("dpmpp-2m", 7, True)
    counter = recipes.Counter()
    recipes.regenerate_state(model, 0, (Gaussian(1), Integrate(1.0, 0.4, 5), Renoise(0.4, 0.7, 2), Integrate(0.7, 0.0, 3)),
                             "dpmpp-2m", counter)
    proposal = Proposal(0, None, 0, (Gaussian(1), Integrate(1.0, 0.4, 5), Renoise(0.4, 0.7, 2), Integrate(0.7, 0.0, 3)))
    assert counter.nfe == 8 == Costs("dpmpp-2m", 1).of(proposal)
    assert Costs("dpmpp-2m", 2).full(10) == 20 and Costs("dpmpp-2m", 1).of(Proposal(1, None, 0, (Gaussian(1), Integrate(1.0, 0.5, 4)))) == 5


def test_each_interval_starts_a_fresh_history():
    """Two slices of one schedule are not one pass for a multistep solver (the second starts first-order),
    but they equal running the slices one after the other, which is what a recipe's ops do."""
    model = GaussianMixture(parameterization="ve")
    x = _start(model, 4).float()
    sigmas = model.sigmas(10)
    whole = recipes.denoise(model, 0, x, sigmas, "dpmpp-2m")
    halves = recipes.denoise(model, 0, recipes.denoise(model, 0, x, sigmas[:6], "dpmpp-2m"), sigmas[5:], "dpmpp-2m")
    assert not torch.allclose(whole, halves, atol=1e-6)
    ops = (Gaussian(3), Integrate(1.0, 0.5, 5), Integrate(0.5, 0.0, 5))
    by_recipe = recipes.regenerate_state(model, 0, ops, "dpmpp-2m")
    x = noise.gaussian(model.noise_shape, 3)[None] * model.prior_scale
    by_hand = recipes.denoise(model, 0, recipes.denoise(model, 0, x, model.sigmas(5, 1.0, 0.5), "dpmpp-2m"),
                              model.sigmas(5, 0.5, 0.0), "dpmpp-2m")
    assert torch.equal(by_recipe, by_hand)


@pytest.mark.parametrize("view", ["rf", "ve"])
@pytest.mark.parametrize("algorithm,budget,options", [("zero-order", 120, {"n": 3}),
                                                      ("paths", 400, {"n": 2, "m": 2, "L": 3})])
def test_every_candidate_of_a_dpmpp_2m_search_regenerates_exactly(tmp_path, view, algorithm, budget, options):
    model = GaussianMixture(parameterization=view)
    out = tmp_path / "run"
    result = tsearch.search(model=model, cls=2, verifiers=["gmm-density"], algorithm=algorithm, budget=budget,
                            steps=6, solver="dpmpp-2m", seed=2, batch_size=3, out=str(out), **options)
    assert 0 < result.summary.nfe_spent <= budget
    run = load_run(out)
    assert run.config["solver"] == "dpmpp-2m"
    if algorithm == "paths":
        assert any(op["op"] == "renoise" for c in run.candidates for op in c.recipe)
    for candidate in run.candidates:
        again = regenerate_candidate(str(out), candidate.id, model=model)
        assert np.array_equal(np.asarray(again), np.asarray(run.image(candidate.id))), candidate.id


def test_the_config_takes_the_new_solver_and_refuses_unknown_ones():
    assert SearchConfig(model="gmm", condition=1, verifiers=("gmm-density",), solver="dpmpp-2m").validate().solver \
        == "dpmpp-2m"
    with pytest.raises(ValueError, match="dpmpp-2m"):
        SearchConfig(model="gmm", condition=1, verifiers=("gmm-density",), solver="dpmpp2m").validate()
    with pytest.raises(ValueError, match="view"):
        sample_dpmpp_2m(lambda x, s: x, torch.zeros(1, 2), torch.tensor([1.0, 0.5, 0.0]), view="vp")


def test_the_solvers_bench_counts_nfes_and_its_one_and_two_step_2m_is_euler(capsys):
    from tsearch.bench import solvers
    from tsearch.models import shapes as shapes_module

    if not shapes_module.available()[0]:
        pytest.skip(shapes_module.available()[1])
    rows = solvers.main(["--world", "shapes", "--captions", "6", "--steps", "1", "2", "--threads", "1"])
    assert [(r["solver"], r["steps"]) for r in rows] == [(s, n) for n in (1, 2) for s in SOLVERS]
    assert {(r["solver"], r["steps"]): r["nfe_per_sample"] for r in rows if r["steps"] == 2} == \
        {("euler", 2): 4, ("heun", 2): 6, ("dpmpp-2m", 2): 4}   # guidance 3: two NFEs per evaluation
    for n in (1, 2):   # no history yet: the same images as Euler, so the same verdicts
        by = {r["solver"]: r for r in rows if r["steps"] == n}
        assert by["dpmpp-2m"]["per_category"] == by["euler"]["per_category"]
    assert "| dpmpp-2m |" in capsys.readouterr().out
