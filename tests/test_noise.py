
import pytest
import torch

from tsearch import noise


@pytest.mark.parametrize("shape", [(3, 8, 8), (4, 16, 16), (16, 4, 4), (1000,)])
@pytest.mark.parametrize("lam", [0.05, 0.5, 0.95, 0.999])
def test_neighbour_has_exact_cosine_and_pivot_norm(shape, lam):
    pivot = noise.gaussian(shape, 1)
    y = noise.neighbour(pivot, lam, seed=2)
    cos = torch.nn.functional.cosine_similarity(pivot.reshape(1, -1).double(), y.reshape(1, -1).double()).item()
    assert cos == pytest.approx(lam, abs=1e-5)
    assert y.norm().item() == pytest.approx(pivot.norm().item(), rel=1e-5)
    assert y.shape == pivot.shape and y.dtype == pivot.dtype


def test_neighbours_differ_by_seed_and_repeat_by_seed():
    pivot = noise.gaussian((3, 8, 8), 0)
    assert torch.equal(noise.neighbour(pivot, 0.9, 5), noise.neighbour(pivot, 0.9, 5))
    assert not torch.equal(noise.neighbour(pivot, 0.9, 5), noise.neighbour(pivot, 0.9, 6))


@pytest.mark.parametrize("lam", [0.0, 1.0, -0.2, 1.5])
def test_neighbour_rejects_lambda_outside_open_interval(lam):
    with pytest.raises(ValueError, match="lambda"):
        noise.neighbour(noise.gaussian((4,), 0), lam, 0)


def test_gaussian_is_reproducible_and_standard():
    a, b = noise.gaussian((200_000,), 3), noise.gaussian((200_000,), 3)
    assert torch.equal(a, b)
    assert abs(a.mean().item()) < 0.01 and abs(a.std().item() - 1) < 0.01


def test_renoise_rf_gives_the_forward_marginal():
    # x0 fixed at 0.5: x_s = (1-s) x0 + s e; re-noised to t must be N((1-t) x0, t^2).
    n, x0, s, t = 400_000, 0.5, 0.3, 0.8
    e1, e2 = noise.gaussian((n,), 1), noise.gaussian((n,), 2)
    x_s = (1 - s) * x0 + s * e1
    x_t = noise.renoise_rf(x_s, s, t, e2)
    assert x_t.mean().item() == pytest.approx((1 - t) * x0, abs=5e-3)
    assert x_t.std().item() == pytest.approx(t, abs=5e-3)


def test_renoise_ve_gives_the_forward_marginal():
    n, x0, s, t = 400_000, 0.5, 0.4, 3.0
    x_s = x0 + s * noise.gaussian((n,), 1)
    x_t = noise.renoise_ve(x_s, s, t, noise.gaussian((n,), 2))
    assert x_t.mean().item() == pytest.approx(x0, abs=2e-2)
    assert x_t.std().item() == pytest.approx(t, rel=5e-3)


def test_renoise_rejects_downward_levels():
    with pytest.raises(ValueError):
        noise.renoise_rf(torch.zeros(3), 0.8, 0.3, torch.zeros(3))
    with pytest.raises(ValueError):
        noise.renoise_ve(torch.zeros(3), 2.0, 1.0, torch.zeros(3))
