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


def crossover(a: torch.Tensor, b: torch.Tensor, cos: float) -> torch.Tensor:
    """An orthogonal mix of noise a toward noise b at cosine `cos` to a, with a's norm (evolution's crossover).

    y = |a| (cos u + sqrt(1 - cos^2) w), u = a/|a|, w = (b - (b.u) u) / |b - (b.u) u|. For independent
    a, b ~ N(0, I), w is a uniform direction orthogonal to u, independent of |a|, so y ~ N(0, I) exactly
    (the argument that keeps `neighbour` Gaussian); for nearly orthogonal a, b of equal norm it is
    cos a + sin b, and cos = 1/sqrt(2) is (a + b)/sqrt(2).
    """
    if not 0.0 < cos < 1.0:
        raise ValueError(f"crossover cosine must lie in (0, 1), got {cos}")
    flat = a.reshape(-1).to(torch.float64)
    norm = flat.norm()
    u = flat / norm
    w = b.reshape(-1).to(torch.float64)
    w = w - (w @ u) * u
    if float(w.norm()) <= 1e-9 * float(norm):
        raise ValueError("crossover of a noise with itself (or a multiple of it): pick two different parents")
    w = w / w.norm()
    y = norm * (cos * u + math.sqrt(1.0 - cos * cos) * w)
    return y.to(a.dtype).reshape(a.shape)


def _coarse_cells(shape: tuple[int, ...], grid: int, groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The coarse basis's cells over [channels, H, W]: each element's cell index, and each cell's size.

    Cells are channel groups x row bands x column bands (near-equal splits), numbered group-major.
    """
    if len(shape) < 2:
        raise ValueError(f"coarse noise needs a noise with two spatial axes, got shape {shape}")
    channels = math.prod(shape[:-2]) if len(shape) > 2 else 1
    h, w = shape[-2], shape[-1]
    if grid < 1 or grid > min(h, w):
        raise ValueError(f"a coarse grid of {grid} cells per side does not fit a {h}x{w} noise; use 1..{min(h, w)}")
    if groups < 1 or groups > channels:
        raise ValueError(f"{groups} channel groups of coarse coefficients for a noise with {channels} channel(s); "
                         f"use 1..{channels}")

    def band(n, k):   # the band of each of n positions when n is split into k near-equal runs
        edges = torch.tensor([round(i * n / k) for i in range(1, k)], dtype=torch.long)
        return torch.bucketize(torch.arange(n), edges, right=True)

    cells = (band(channels, groups)[:, None, None] * grid + band(h, grid)[None, :, None]) * grid \
        + band(w, grid)[None, None, :]
    cells = cells.reshape(-1)
    return cells, torch.bincount(cells, minlength=groups * grid * grid).to(torch.float64)


def coarse_coefficients(x: torch.Tensor, grid: int, groups: int = 1) -> torch.Tensor:
    """x's coordinates on the orthonormal cell-average basis: sum over each cell / sqrt(cell size), float64."""
    cells, sizes = _coarse_cells(tuple(x.shape), grid, groups)
    return torch.bincount(cells, weights=x.reshape(-1).to(torch.float64), minlength=len(sizes)) / sizes.sqrt()


def coarse_noise(shape: tuple[int, ...], coefficients, grid: int, seed: int) -> torch.Tensor:
    """Noise whose coarse band is `coefficients` and whose fine band is that of N(0, I) noise of `seed` (cem).

    The basis is the indicator of each cell (channel group x row band x column band) over sqrt(its size):
    orthonormal, so x = z - B B^T z + B c with z ~ N(0, I) and c ~ N(0, I_K) independent is exactly N(0, I).
    len(coefficients) = groups * grid * grid fixes the channel groups; the algorithm never needs the shape's
    channel count when groups = 1 (each cell spans every channel).
    """
    values = torch.as_tensor([float(v) for v in coefficients], dtype=torch.float64)
    if len(values) == 0 or len(values) % (grid * grid):
        raise ValueError(f"{len(values)} coarse coefficients do not fill whole {grid}x{grid} grids")
    cells, sizes = _coarse_cells(tuple(shape), grid, len(values) // (grid * grid))
    z = gaussian(tuple(shape), seed).reshape(-1).to(torch.float64)
    own = torch.bincount(cells, weights=z, minlength=len(sizes)) / sizes.sqrt()   # B^T z
    x = z + ((values - own) / sizes.sqrt())[cells]                               # z + B (c - B^T z)
    return x.to(torch.float32).reshape(shape)
