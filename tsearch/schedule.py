"""The two views of diffusion tsearch works in, as small schedule objects (DESIGN.md, Contracts).

Normalised time t runs from 1 (noise) to 0 (data). A schedule maps t to the model's own noise level
sigma, says how large the state at t = 1 is, and runs the forward process between two levels:
- rectified flow, x_s = (1 - s) x0 + s e, with SD3's timestep shift (Esser et al. 2024, eq. 23);
- variance exploding, x_s = x0 + s e, with the Karras rho-schedule (Karras et al. 2022, eq. 5).
A schedule holds constants only, so one serves every search of a model at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tsearch import noise as noise_lib


def _check_t(t: float) -> float:
    t = float(t)
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"normalised time must lie in [0, 1], got {t}")
    return t


@dataclass(frozen=True)
class RectifiedFlow:
    shift: float = 1.0      # timestep shift (SD3 eq. 23); 1 = none
    kind = "rf"

    def sigma_at(self, t: float) -> float:
        t = _check_t(t)
        return self.shift * t / (1.0 + (self.shift - 1.0) * t)

    @property
    def prior_scale(self) -> float:
        """The state at t = 1 is standard noise times this."""
        return 1.0

    def renoise(self, x: torch.Tensor, sigma_from: float, sigma_to: float, noise: torch.Tensor) -> torch.Tensor:
        return noise_lib.renoise_rf(x, sigma_from, sigma_to, noise)


@dataclass(frozen=True)
class VarianceExploding:
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0
    kind = "ve"

    def sigma_at(self, t: float) -> float:
        t = _check_t(t)
        if t == 0.0:
            return 0.0
        lo, hi = self.sigma_min ** (1 / self.rho), self.sigma_max ** (1 / self.rho)
        return (lo + t * (hi - lo)) ** self.rho

    @property
    def prior_scale(self) -> float:
        return self.sigma_at(1.0)

    def renoise(self, x: torch.Tensor, sigma_from: float, sigma_to: float, noise: torch.Tensor) -> torch.Tensor:
        return noise_lib.renoise_ve(x, sigma_from, sigma_to, noise)


def sigmas(schedule, steps: int, t_from: float = 1.0, t_to: float = 0.0) -> torch.Tensor:
    """steps + 1 noise levels from t_from down to t_to, evenly spaced in t (0 ends at sigma = 0)."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if not t_from > t_to:
        raise ValueError(f"a schedule runs downwards: t_from ({t_from}) must exceed t_to ({t_to})")
    ts = torch.linspace(t_from, t_to, steps + 1, dtype=torch.float64)
    return torch.tensor([schedule.sigma_at(float(t)) for t in ts], dtype=torch.float64)
