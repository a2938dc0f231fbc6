"""Shared pieces of the scaling benchmarks: best-of-k over prefixes, the steps baseline, table printing."""

from __future__ import annotations

import numpy as np
import torch

from tsearch import noise


def best_of_prefix(scores: np.ndarray, k: int) -> int:
    """Index of the best of the first k candidates: best-of-k random search on the same noises."""
    head = np.nan_to_num(np.asarray(scores[:k], dtype=float), nan=-np.inf)
    return int(np.argmax(head))


@torch.no_grad()
def more_steps(model, condition, seed: int, steps: int) -> torch.Tensor:
    """The baseline: one noise denoised with `steps` steps; returns the decoded image [1, 3, H, W]."""
    cond = model.encode(condition)
    x = noise.gaussian(model.noise_shape, seed)[None].to(model.device) * model.prior_scale
    return model.decode(model.denoise(x, cond, model.sigmas(steps))).float()


def table(title: str, columns: list[str], rows: list[tuple[str, list]], fmt: str = "{:6.1f}") -> str:
    width = max(len(name) for name, _ in rows) + 2
    lines = [title, " " * width + "".join(f"{c:>8s}" for c in columns)]
    for name, values in rows:
        cells = "".join(f"{'-':>8s}" if v is None else f"{fmt.format(v):>8s}" for v in values)
        lines.append(f"{name:<{width}s}{cells}")
    return "\n".join(lines)
