"""Noise with recipes: seeded Gaussians, zero-order neighbours on the sphere, forward re-noising.

Every start state in tsearch is described by a *recipe* (a tuple of small ops, see
`tsearch.search.base`), so any candidate can be regenerated bit for bit. Noise is always drawn on
the CPU in float32 from a `torch.Generator` seeded with the op's seed, then moved to the device.
"""

from __future__ import annotations

import math

import torch


def gaussian(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """A standard normal tensor of `shape`, identical for the same seed on every machine."""
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randn(shape, generator=generator, dtype=torch.float32)


def neighbour(pivot: torch.Tensor, cos: float, seed: int) -> torch.Tensor:
    """A point at cosine `cos` to `pivot` with the pivot's norm (zero-order search, Ma et al. 2025).

    y = |n| (lam u + sqrt(1 - lam^2) w), u = n/|n|, w a random unit vector orthogonal to u, so the
    neighbour stays on the sphere of the pivot's radius, in the Gaussian typical set.
    """
    if not 0.0 < cos < 1.0:
        raise ValueError(f"lambda (cosine to the pivot) must lie in (0, 1), got {cos}")
    flat = pivot.reshape(-1).to(torch.float64)
    norm = flat.norm()
    u = flat / norm
    w = gaussian(tuple(pivot.shape), seed).reshape(-1).to(torch.float64)
    w = w - (w @ u) * u
    w = w / w.norm()
    y = norm * (cos * u + math.sqrt(1.0 - cos * cos) * w)
    return y.to(pivot.dtype).reshape(pivot.shape)


def renoise_rf(x: torch.Tensor, s: float, t: float, noise: torch.Tensor) -> torch.Tensor:
    """Forward process of rectified flow, x_s = (1-s) x0 + s e, from level s up to t >= s.

    x_t = (1-t)/(1-s) x_s + sqrt(t^2 - ((1-t) s/(1-s))^2) e'   (DESIGN.md, contracts)
    """
    if not 0.0 <= s <= t <= 1.0 or s >= 1.0:
        raise ValueError(f"re-noising needs 0 <= from ({s}) <= to ({t}) <= 1 and from < 1")
    scale = (1.0 - t) / (1.0 - s)
    std = math.sqrt(max(t * t - (scale * s) ** 2, 0.0))
    return scale * x + std * noise.to(x)


def renoise_ve(x: torch.Tensor, s: float, t: float, noise: torch.Tensor) -> torch.Tensor:
    """Forward process of the variance-exploding form, x_s = x0 + s e: x_t = x_s + sqrt(t^2 - s^2) e'."""
    if not 0.0 <= s <= t:
        raise ValueError(f"re-noising needs 0 <= from ({s}) <= to ({t})")
    return x + math.sqrt(t * t - s * s) * noise.to(x)
