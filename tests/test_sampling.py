import pytest
import torch

from tsearch import noise
from tsearch.models.gmm import GaussianMixture
from tsearch.recipes import Counter, denoise
from tsearch.sampling import solver_nfes


def _integrate(model, n, steps, solver, seed=0, counter=None):
    x = torch.stack([noise.gaussian(model.noise_shape, seed * 10_000 + i) for i in range(n)]) * model.prior_scale
    return denoise(model, model.encode(0), x, model.sigmas(steps), solver, counter)


@pytest.mark.parametrize("parameterization", ["rf", "ve"])
def test_integrated_samples_match_the_mixture_moments(parameterization):
    model = GaussianMixture(parameterization=parameterization)
    samples = _integrate(model, 2000, 40, "heun").reshape(2000, -1).double()
    data = model.sample_data(20000, seed=1).reshape(20000, -1)
    assert (samples.mean(0) - data.mean(0)).abs().max() < 0.05
    assert (samples.std(0) - data.std(0)).abs().max() < 0.05
    # every sample lands on one component (the mixture is well separated)
    dist = torch.cdist(samples, model.means.cpu())
    assert (dist.min(1).values < 3 * (model.variance * samples.shape[1]) ** 0.5).float().mean() > 0.99


@pytest.mark.parametrize("parameterization", ["rf", "ve"])
def test_heun_beats_euler_at_equal_steps(parameterization):
    model = GaussianMixture(parameterization=parameterization)
    reference = _integrate(model, 64, 400, "heun")
    for steps in (8, 16):
        euler = (_integrate(model, 64, steps, "euler") - reference).pow(2).mean()
        heun = (_integrate(model, 64, steps, "heun") - reference).pow(2).mean()
        assert heun < euler


def test_solvers_count_exact_nfes():
    model = GaussianMixture()
    for solver, steps in [("euler", 7), ("heun", 7)]:
        counter = Counter()
        _integrate(model, 5, steps, solver, counter=counter)
        assert counter.nfe == 5 * solver_nfes(solver, steps, True)
    counter = Counter()
    x = noise.gaussian((3, *model.noise_shape), 0)
    denoise(model, 0, x, model.sigmas(4, 1.0, 0.5), "heun", counter)
    assert counter.nfe == 3 * solver_nfes("heun", 4, False) == 3 * 8


@pytest.mark.parametrize("parameterization", ["rf", "ve"])
def test_two_slices_equal_one_pass(parameterization):
    model = GaussianMixture(parameterization=parameterization)
    sigmas = model.sigmas(10)
    x = noise.gaussian((4, *model.noise_shape), 0) * model.prior_scale
    whole = denoise(model, 0, x, sigmas)
    halves = denoise(model, 0, denoise(model, 0, x, sigmas[:6]), sigmas[5:])
    assert torch.allclose(whole, halves, atol=1e-6)


def test_schedules_descend_to_zero():
    for p in ("rf", "ve"):
        model = GaussianMixture(parameterization=p)
        s = model.sigmas(10)
        assert len(s) == 11 and s[-1] == 0 and bool((s[:-1] > s[1:]).all())
    with pytest.raises(ValueError):
        GaussianMixture().sigmas(0)
