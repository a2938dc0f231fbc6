"""Discrete variance-preserving diffusion seen as variance-exploding (Karras et al. 2022, sec. 2, Table 1).

SD 1.5, SDXL, PixArt-Sigma and DiT were trained on x_t = sqrt(a_t) x0 + sqrt(1 - a_t) e over 1000
timesteps (a_t = alpha_bar). Dividing by sqrt(a_t) gives the variance-exploding form x0 + sigma e
with sigma_t = sqrt((1 - a_t) / a_t), so tsearch's one ODE, its solvers, neighbours and
re-noising apply unchanged. A network call at VE level sigma sees x / sqrt(1 + sigma^2) (= the VP
state) at the continuous timestep whose log-sigma interpolates the training table (k-diffusion's
`DiscreteSchedule.sigma_to_t`, as diffusers' `EulerDiscreteScheduler._sigma_to_t`).
"""

from __future__ import annotations

import math

import torch

PREDICTIONS = ("epsilon", "v_prediction", "sample")


class VPAsVE:
    """Timesteps, input scaling and clean estimates of a discrete VP model at VE noise levels."""

    def __init__(self, alphas_cumprod: torch.Tensor, prediction_type: str = "epsilon"):
        if prediction_type not in PREDICTIONS:
            raise ValueError(f"unsupported prediction_type {prediction_type!r}; tsearch handles {PREDICTIONS}")
        a = alphas_cumprod.detach().to("cpu", torch.float64)
        self.sigmas = ((1.0 - a) / a).sqrt()  # ascending with the training timestep
        self.log_sigmas = self.sigmas.log()
        self.prediction_type = prediction_type

    @property
    def sigma_min(self) -> float:
        return float(self.sigmas[0])

    @property
    def sigma_max(self) -> float:
        return float(self.sigmas[-1])

    def timestep(self, sigma: float) -> float:
        """The continuous training timestep of VE level `sigma` (linear in log sigma between table entries)."""
        log_sigma = math.log(max(sigma, 1e-10))
        low = int(torch.searchsorted(self.log_sigmas, torch.tensor(log_sigma, dtype=torch.float64), right=True)) - 1
        low = min(max(low, 0), len(self.log_sigmas) - 2)
        lo, hi = float(self.log_sigmas[low]), float(self.log_sigmas[low + 1])
        w = min(max((lo - log_sigma) / (lo - hi), 0.0), 1.0)
        return (1.0 - w) * low + w * (low + 1)

    @staticmethod
    def scale_input(x: torch.Tensor, sigma: float) -> torch.Tensor:
        """VE state -> the VP state the network was trained on: x / sqrt(1 + sigma^2)."""
        return x / math.sqrt(1.0 + sigma * sigma)

    def clean_estimate(self, output: torch.Tensor, x: torch.Tensor, sigma: float) -> torch.Tensor:
        """Network output at VE state x -> x0 (float32). eps: x - sigma eps; v: Salimans & Ho 2022, eq. 10."""
        output, x = output.float(), x.float()
        if self.prediction_type == "epsilon":
            return x - sigma * output
        if self.prediction_type == "v_prediction":
            return x / (1.0 + sigma * sigma) - output * sigma / math.sqrt(1.0 + sigma * sigma)
        return output
