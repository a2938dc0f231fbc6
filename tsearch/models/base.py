"""The Model contract (DESIGN.md) and the parts every adapter shares.

An adapter implements `encode`, `forward_x0` and `decode`, and sets `parameterization`,
`noise_shape`, `nfe_per_eval`; this base class gives the schedule, the solvers, re-noising and
exact NFE counting. Normalised time t runs from 1 (noise) to 0 (data); `sigma_at` maps it to the
model's own noise level: t itself (optionally shifted) for rectified flow, a Karras rho-schedule
between sigma_min and sigma_max for variance-exploding models.
"""

from __future__ import annotations

from typing import Any

import torch

from tsearch import noise as noise_lib
from tsearch.sampling import SOLVERS


class Model:
    name: str = "model"
    conditioning: str = "text"          # "text": a prompt; "class": an integer label
    classes: list[str] | None = None    # class names for class-conditional models
    parameterization: str = "rf"        # "rf": x = (1-s) x0 + s e;  "ve": x = x0 + s e
    noise_shape: tuple[int, ...] = ()   # one sample's state, without the batch dimension
    nfe_per_eval: int = 1               # 2 when classifier-free guidance runs two passes
    shift: float = 1.0                  # rectified flow: timestep shift (SD3 eq. 23); 1 = none
    sigma_min: float = 0.002            # variance-exploding only
    sigma_max: float = 80.0             # variance-exploding only
    rho: float = 7.0                    # variance-exploding only (Karras et al. 2022, eq. 5)
    default_steps: int = 20
    default_solver: str = "euler"
    device: torch.device = torch.device("cpu")

    def __init__(self) -> None:
        self.nfe = 0  # denoiser forward passes over single samples, counted in predict_x0

    # --- what an adapter implements -------------------------------------------------------
    def encode(self, condition: str | int) -> Any:
        """Prompt or class label -> conditioning, computed once per search. ValueError if invalid."""
        raise NotImplementedError

    def forward_x0(self, x: torch.Tensor, cond: Any, sigma: float) -> torch.Tensor:
        """One evaluation of the denoiser (both CFG passes): the clean estimate of a batch."""
        raise NotImplementedError

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """States at t = 0 -> images, float32 in [0, 1], shape [b, 3, H, W]."""
        raise NotImplementedError

    # --- shared ---------------------------------------------------------------------------
    def predict_x0(self, x: torch.Tensor, cond: Any, sigma: float) -> torch.Tensor:
        self.nfe += x.shape[0] * self.nfe_per_eval
        return self.forward_x0(x, cond, float(sigma))

    def sigma_at(self, t: float) -> float:
        t = float(t)
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"normalised time must lie in [0, 1], got {t}")
        if self.parameterization == "rf":
            return self.shift * t / (1.0 + (self.shift - 1.0) * t)
        if t == 0.0:
            return 0.0
        lo, hi = self.sigma_min ** (1 / self.rho), self.sigma_max ** (1 / self.rho)
        return (lo + t * (hi - lo)) ** self.rho

    def sigmas(self, steps: int, t_from: float = 1.0, t_to: float = 0.0) -> torch.Tensor:
        """The schedule: steps + 1 noise levels from t_from down to t_to (0 ends at sigma = 0)."""
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        if not t_from > t_to:
            raise ValueError(f"a schedule runs downwards: t_from ({t_from}) must exceed t_to ({t_to})")
        ts = torch.linspace(t_from, t_to, steps + 1, dtype=torch.float64)
        return torch.tensor([self.sigma_at(float(t)) for t in ts], dtype=torch.float64)

    @property
    def prior_scale(self) -> float:
        """The state at t = 1 is standard noise times this."""
        return 1.0 if self.parameterization == "rf" else self.sigma_at(1.0)

    def denoise(self, x: torch.Tensor, cond: Any, sigmas: torch.Tensor, solver: str | None = None,
                callback=None) -> torch.Tensor:
        """Integrate the probability-flow ODE along `sigmas` for a batch (deterministic).

        `callback(i, sigma, x0)` observes the clean estimate the solver computes at each node.
        """
        solver = solver or self.default_solver
        if solver not in SOLVERS:
            raise ValueError(f"unknown solver {solver!r}; choose one of {sorted(SOLVERS)}")
        return SOLVERS[solver](lambda x_, s: self.predict_x0(x_, cond, s), x, sigmas, callback)

    def renoise(self, x: torch.Tensor, sigma_from: float, sigma_to: float, noise: torch.Tensor) -> torch.Tensor:
        """The forward process from a lower noise level to a higher one (DESIGN.md formulas)."""
        if self.parameterization == "rf":
            return noise_lib.renoise_rf(x, sigma_from, sigma_to, noise)
        return noise_lib.renoise_ve(x, sigma_from, sigma_to, noise)

    def describe_condition(self, condition: str | int) -> str:
        if self.conditioning == "class" and self.classes is not None:
            return f"class {condition} ({self.classes[int(condition)]})"
        return str(condition)
