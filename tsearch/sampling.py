"""ODE solvers over a sigma schedule (k-diffusion style: the schedule is a tensor, a slice is a
partial trajectory).

Both parameterisations share one probability-flow ODE in their own sigma: for variance-exploding
x = x0 + s e, and for rectified flow x = (1-s) x0 + s e, the derivative is dx/ds = (x - x0_hat)/s.
`x0_fn(x, sigma)` is one forward pass of the denoiser (the caller counts NFEs). `view` ("rf" or
"ve") names the parameterisation; Euler and Heun do not need it (the ODE in sigma is the same), the
multistep solver does (its log-SNR lambda differs between the views).
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import torch

X0Fn = Callable[[torch.Tensor, float], torch.Tensor]
Callback = Optional[Callable[[int, float, torch.Tensor], None]]  # (node index, sigma, clean estimate); observes only
VIEWS = ("rf", "ve")


def _derivative(x: torch.Tensor, x0: torch.Tensor, sigma: float) -> torch.Tensor:
    return (x - x0) / sigma


def sample_euler(x0_fn: X0Fn, x: torch.Tensor, sigmas: torch.Tensor, callback: Callback = None,
                 view: str = "ve") -> torch.Tensor:
    """Euler's method (Karras et al. 2022, Alg. 1 without churn): one NFE per step."""
    for i in range(len(sigmas) - 1):
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        x0 = x0_fn(x, s)
        if callback is not None:
            callback(i, s, x0)
        d = _derivative(x, x0, s)
        x = x + (s_next - s) * d
    return x


def sample_heun(x0_fn: X0Fn, x: torch.Tensor, sigmas: torch.Tensor, callback: Callback = None,
                view: str = "ve") -> torch.Tensor:
    """Heun's 2nd-order method (Karras et al. 2022, Alg. 1): two NFEs per step, one on a last step to 0."""
    for i in range(len(sigmas) - 1):
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        x0 = x0_fn(x, s)
        if callback is not None:
            callback(i, s, x0)
        d = _derivative(x, x0, s)
        x_euler = x + (s_next - s) * d
        if s_next == 0.0:
            x = x_euler
            continue
        d_next = _derivative(x_euler, x0_fn(x_euler, s_next), s_next)
        x = x + (s_next - s) * (d + d_next) / 2
    return x


def _alpha(view: str, sigma: float) -> float:
    """The data's scale in x = alpha x0 + sigma e: 1 - sigma for rectified flow, 1 for variance exploding."""
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    return 1.0 - sigma if view == "rf" else 1.0


def _lambda(view: str, sigma: float) -> float:
    """Half log-SNR, lambda = log(alpha / sigma): -inf at pure noise of rectified flow (alpha = 0)."""
    alpha = _alpha(view, sigma)
    return -math.inf if alpha <= 0.0 else math.log(alpha / sigma)


def sample_dpmpp_2m(x0_fn: X0Fn, x: torch.Tensor, sigmas: torch.Tensor, callback: Callback = None,
                    view: str = "ve") -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022, arXiv 2211.01095, Alg. 2): data-prediction multistep, one NFE per step.

    With x = alpha x0 + sigma e and h = lambda_next - lambda, one step is
        x_next = (sigma_next / sigma) x + alpha_next (1 - e^-h) D,
        alpha_next (1 - e^-h) = alpha_next - alpha sigma_next / sigma,
        D = (1 + 1/(2r)) x0 - 1/(2r) x0_prev,   r = h_prev / h.
    lambda = log(alpha / sigma) is -log(sigma) for variance exploding (alpha = 1) and log((1 - s) / s) for
    rectified flow (alpha = 1 - s). The first-order update is the Euler step of dx/ds = (x - x0) / s in both.
    The first step of every call (no history: a segment start or after a re-noise) and a last step to
    sigma = 0 are first order (D = x0). Rectified flow's pure noise has lambda = -inf, so the step after
    it has r = inf and is first order too.
    """
    x0_prev, h_prev = None, None
    for i in range(len(sigmas) - 1):
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        x0 = x0_fn(x, s)
        if callback is not None:
            callback(i, s, x0)
        if s_next == 0.0:
            x = x0   # the first-order step to sigma = 0 lands on the clean estimate
            continue
        h = _lambda(view, s_next) - _lambda(view, s)
        d = x0
        if x0_prev is not None:
            r = h_prev / h                   # inf when the previous step started from lambda = -inf
            d = x0 + (x0 - x0_prev) / (2.0 * r) if math.isfinite(r) else x0
        x = (s_next / s) * x + (_alpha(view, s_next) - _alpha(view, s) * s_next / s) * d
        x0_prev, h_prev = x0, h
    return x


SOLVERS: dict[str, Callable[..., torch.Tensor]] = {
    "euler": sample_euler,
    "heun": sample_heun,
    "dpmpp-2m": sample_dpmpp_2m,
}


def solver_nfes(solver: str, steps: int, ends_at_zero: bool) -> int:
    """Denoiser evaluations per sample for `steps` steps of `solver` (before CFG's factor)."""
    if solver in ("euler", "dpmpp-2m"):
        return steps
    if solver == "heun":
        return 2 * steps - (1 if ends_at_zero else 0)
    raise ValueError(f"unknown solver {solver!r}; choose one of {sorted(SOLVERS)}")
