"""The Model contract (DESIGN.md) and the parts every adapter shares.

An adapter implements `encode`, `forward_x0` and `decode`, and sets `noise_shape`, `nfe_per_eval`
and its `schedule` (rectified flow or variance exploding, see `models.schedule`). A model holds no
per-search state: the solver is an argument, and each search counts its own NFEs around the
denoiser call (`tsearch.recipes.Counter`), so one loaded instance serves concurrent searches.
`nfe` is only a lifetime statistic of the instance, over every caller.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import torch

from tsearch.models import schedule as schedules
from tsearch.sampling import SOLVERS


class Model:
    name: str = "model"
    conditioning: str = "text"          # "text": a prompt; "class": an integer label
    classes: list[str] | None = None    # class names for class-conditional models
    schedule = schedules.RectifiedFlow()  # or schedules.VarianceExploding(sigma_min, sigma_max)
    noise_shape: tuple[int, ...] = ()   # one sample's state, without the batch dimension
    nfe_per_eval: int = 1               # 2 when classifier-free guidance runs two passes
    default_steps: int = 20
    default_solver: str = "euler"
    device: torch.device = torch.device("cpu")
    encode_lock = contextlib.nullcontext()   # adapters whose encoders are not thread-safe set a Lock

    def __init__(self) -> None:
        self.nfe = 0  # lifetime statistic: denoiser passes over single samples by every caller
        self._nfe_lock = threading.Lock()

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

    def example_conditions(self) -> list:
        """Prompts (or classes) a user interface may offer as examples; none by default."""
        return []

    # --- shared ---------------------------------------------------------------------------
    def predict_x0(self, x: torch.Tensor, cond: Any, sigma: float) -> torch.Tensor:
        with self._nfe_lock:
            self.nfe += x.shape[0] * self.nfe_per_eval
        return self.forward_x0(x, cond, float(sigma))

    def sigma_at(self, t: float) -> float:
        return self.schedule.sigma_at(t)

    def sigmas(self, steps: int, t_from: float = 1.0, t_to: float = 0.0) -> torch.Tensor:
        """The schedule: steps + 1 noise levels from t_from down to t_to (0 ends at sigma = 0)."""
        return schedules.sigmas(self.schedule, steps, t_from, t_to)

    @property
    def prior_scale(self) -> float:
        """The state at t = 1 is standard noise times this."""
        return self.schedule.prior_scale

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
        return self.schedule.renoise(x, sigma_from, sigma_to, noise)

    # The schedule's constants, read through the model (for listings and tests); set them on `schedule`.
    @property
    def parameterization(self) -> str:
        """"rf" (rectified flow) or "ve" (variance exploding)."""
        return self.schedule.kind

    @property
    def shift(self) -> float:
        return getattr(self.schedule, "shift", 1.0)

    @property
    def sigma_min(self) -> float:
        return getattr(self.schedule, "sigma_min", 0.0)

    @property
    def sigma_max(self) -> float:
        return getattr(self.schedule, "sigma_max", 1.0)

    def describe_condition(self, condition: str | int) -> str:
        if self.conditioning == "class" and self.classes is not None:
            return f"class {condition} ({self.classes[int(condition)]})"
        return str(condition)
