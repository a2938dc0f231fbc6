"""`gmm`: an analytic model whose data distribution is a Gaussian mixture in a 3x8x8 image space.

The exact denoiser is known in closed form, so tests can check solvers and search against the
truth. With component k ~ pi, x0 ~ N(mu_k, v I):
- rectified flow, x_t = (1-t) x0 + t e:  x_t | k ~ N((1-t) mu_k, ((1-t)^2 v + t^2) I),
  E[x0 | x_t, k] = mu_k + (1-t) v / ((1-t)^2 v + t^2) (x_t - (1-t) mu_k);
- variance-exploding, x_s = x0 + s e:    x_s | k ~ N(mu_k, (v + s^2) I),
  E[x0 | x_s, k] = mu_k + v / (v + s^2) (x_s - mu_k);
and E[x0 | x] = sum_k p(k | x) E[x0 | x, k]. The model is unconditional; the condition (a component
index) is what the `gmm-density` verifier rewards, so search has a known optimum to find.
"""

from __future__ import annotations

import math

import torch

from tsearch.models.base import Model
from tsearch.schedule import RectifiedFlow, VarianceExploding

COLOURS = ["red", "green", "blue", "yellow", "cyan", "magenta", "white", "grey"]


class GaussianMixture(Model):
    name = "gmm"
    conditioning = "class"
    default_steps = 10

    def __init__(self, components: int = 4, variance: float = 0.01, parameterization: str = "rf",
                 seed: int = 0, device: str = "cpu"):
        super().__init__()
        if parameterization not in ("rf", "ve"):
            raise ValueError(f"parameterization must be 'rf' or 've', got {parameterization!r}")
        if not 1 <= components <= len(COLOURS):
            raise ValueError(f"components must lie in 1..{len(COLOURS)}, got {components}")
        self.schedule = RectifiedFlow() if parameterization == "rf" else VarianceExploding()
        self.noise_shape = (3, 8, 8)
        self.device = torch.device(device)
        self.variance = variance
        self.classes = COLOURS[:components]
        generator = torch.Generator().manual_seed(seed)
        # Each component is a coloured 8x8 pattern with values in [-0.8, 0.8], easy to tell apart by eye.
        self.means = (torch.rand((components, 3 * 8 * 8), generator=generator, dtype=torch.float64) * 1.6 - 0.8)
        self.weights = torch.full((components,), 1.0 / components, dtype=torch.float64)
        self.means, self.weights = self.means.to(self.device), self.weights.to(self.device)

    def encode(self, condition):
        index = _component(condition, len(self.classes))
        return index  # the mixture is unconditional: only the verifier uses the component

    def _posterior(self, x: torch.Tensor, sigma: float):
        """Per-component means/variances of x given k, and the clean-estimate gain."""
        v = self.variance
        if isinstance(self.schedule, RectifiedFlow):
            scale, var = 1.0 - sigma, (1.0 - sigma) ** 2 * v + sigma**2
            gain = (1.0 - sigma) * v / var
        else:
            scale, var = 1.0, v + sigma**2
            gain = v / var
        return scale, var, gain

    def forward_x0(self, x: torch.Tensor, cond, sigma: float) -> torch.Tensor:
        flat = x.reshape(x.shape[0], -1).to(torch.float64)
        scale, var, gain = self._posterior(flat, sigma)
        centred = flat[:, None, :] - scale * self.means[None]           # [b, K, D]
        log_p = -0.5 * centred.pow(2).sum(-1) / var + self.weights.log()[None]
        posterior = torch.softmax(log_p, dim=1)                          # p(k | x)
        x0_k = self.means[None] + gain * centred                         # E[x0 | x, k]
        x0 = (posterior[:, :, None] * x0_k).sum(1)
        return x0.to(x.dtype).reshape(x.shape)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return ((x.float() + 1.0) / 2.0).clamp(0.0, 1.0)

    def log_density(self, images: torch.Tensor, component: int) -> torch.Tensor:
        """log N(x; mu_k, v I) of decoded images mapped back to the model's space."""
        x = (images.to(self.device, torch.float64) * 2.0 - 1.0).reshape(images.shape[0], -1)
        d = x.shape[1]
        sq = (x - self.means[component]).pow(2).sum(-1)
        return (-0.5 * sq / self.variance - 0.5 * d * math.log(2 * math.pi * self.variance)).float().cpu()

    def sample_data(self, n: int, seed: int = 0) -> torch.Tensor:
        """Exact samples of the mixture (for tests of the solvers)."""
        generator = torch.Generator().manual_seed(seed)
        k = torch.multinomial(self.weights.cpu(), n, replacement=True, generator=generator)
        eps = torch.randn((n, self.means.shape[1]), generator=generator, dtype=torch.float64)
        return (self.means.cpu()[k] + math.sqrt(self.variance) * eps).reshape(n, *self.noise_shape)


def _component(condition, count: int) -> int:
    try:
        index = int(condition)
    except (TypeError, ValueError):
        raise ValueError(f"cls: gmm takes a component index 0..{count - 1} as its condition, got {condition!r}") from None
    if not 0 <= index < count:
        raise ValueError(f"cls: the gmm component must lie in 0..{count - 1}, got {index}")
    return index


def build(device: str = "cpu", **options) -> GaussianMixture:
    return GaussianMixture(device=device, **options)
