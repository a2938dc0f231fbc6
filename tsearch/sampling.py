"""ODE solvers over a sigma schedule (k-diffusion style: the schedule is a tensor, a slice is a
partial trajectory).

Both parameterisations share one probability-flow ODE in their own sigma: for variance-exploding
x = x0 + s e, and for rectified flow x = (1-s) x0 + s e, the derivative is dx/ds = (x - x0_hat)/s.
`x0_fn(x, sigma)` is one forward pass of the denoiser (the caller counts NFEs).
"""

from __future__ import annotations

from typing import Callable, Optional

import torch

X0Fn = Callable[[torch.Tensor, float], torch.Tensor]
Callback = Optional[Callable[[int, float, torch.Tensor], None]]  # (node index, sigma, clean estimate); observes only


def _derivative(x: torch.Tensor, x0: torch.Tensor, sigma: float) -> torch.Tensor:
    return (x - x0) / sigma


def sample_euler(x0_fn: X0Fn, x: torch.Tensor, sigmas: torch.Tensor, callback: Callback = None) -> torch.Tensor:
    """Euler's method (Karras et al. 2022, Alg. 1 without churn): one NFE per step."""
    for i in range(len(sigmas) - 1):
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        x0 = x0_fn(x, s)
        if callback is not None:
            callback(i, s, x0)
        d = _derivative(x, x0, s)
        x = x + (s_next - s) * d
    return x


def sample_heun(x0_fn: X0Fn, x: torch.Tensor, sigmas: torch.Tensor, callback: Callback = None) -> torch.Tensor:
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


SOLVERS: dict[str, Callable[..., torch.Tensor]] = {
    "euler": sample_euler,
    "heun": sample_heun,
}


def solver_nfes(solver: str, steps: int, ends_at_zero: bool) -> int:
    """Denoiser evaluations per sample for `steps` steps of `solver` (before CFG's factor)."""
    if solver == "euler":
        return steps
    if solver == "heun":
        return 2 * steps - (1 if ends_at_zero else 0)
    raise ValueError(f"unknown solver {solver!r}; choose one of {sorted(SOLVERS)}")
