"""The digits world's data: scikit-learn's bundled 8x8 handwritten digits, upsampled, with a fixed split.

scikit-learn ships the 1,797 digits of the UCI optical-recognition set inside the package, so the
world needs no download. Images are upsampled from 8x8 to `SIZE` x `SIZE` (16: the source holds
8x8 of information, and 16x16 keeps training and search about five times cheaper on a CPU than
32x32) and scaled to [0, 1], one grey channel. The held-out split (20%, stratified, seed 0) is the
reference for the oracle metrics (IS/FID analogues) and for the classifiers' accuracy; nothing
trains on it.
"""

from __future__ import annotations

import functools
import math
import operator

import torch
import torch.nn.functional as F

SIZE = 16          # side of the images every part of the world works at
NUM_CLASSES = 10   # the digits 0-9
TEST_FRACTION = 0.2
SPLIT_SEED = 0


@functools.lru_cache(maxsize=None)
def _split(size: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0  # pixel values are 0..16
    labels = torch.tensor(digits.target, dtype=torch.long)
    if size != 8:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    index = torch.arange(len(labels)).numpy()
    train_index, test_index = train_test_split(
        index, test_size=TEST_FRACTION, stratify=labels.numpy(), random_state=SPLIT_SEED
    )
    train_index, test_index = torch.tensor(sorted(train_index)), torch.tensor(sorted(test_index))
    return {
        "train": (images[train_index], labels[train_index]),
        "test": (images[test_index], labels[test_index]),
    }


def load_split(split: str, size: int = SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """(images [n, 1, size, size] float32 in [0, 1], labels [n] int64) of the "train" or "test" split.

    The split is fixed: 1,437 training and 360 held-out digits, stratified by class.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if size < 8:
        raise ValueError(f"size must be at least 8 (the source resolution), got {size}")
    images, labels = _split(int(size))[split]
    return images.clone(), labels.clone()


def parse_digit(condition) -> int:
    """A class label 0-9 given as an int (or integer-like) or a string such as "7"; ValueError otherwise."""
    label = None
    if isinstance(condition, str) and condition.strip().isdigit():
        label = int(condition.strip())
    elif not isinstance(condition, (str, bool, float)):
        try:
            label = operator.index(condition)
        except TypeError:
            label = None
    if label is None or not 0 <= label < NUM_CLASSES:
        raise ValueError(
            f"digits are conditioned on a digit class; valid values are 0-9 "
            f"(an int or a string such as '7'), got {condition!r}"
        )
    return label


def to_gray(images: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """Images [b, 3 or 1, H, W] in [0, 1] -> [b, 1, size, size]: the input every digits network takes."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape [b, 3, H, W] or [b, 1, H, W], got {tuple(images.shape)}")
    gray = images.float().mean(dim=1, keepdim=True)
    if gray.shape[-2:] != (size, size):
        gray = F.interpolate(gray, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return gray


def to_rgb(gray: torch.Tensor) -> torch.Tensor:
    """[b, 1, H, W] -> [b, 3, H, W] (what `Model.decode` and the verifiers exchange)."""
    return gray.expand(-1, 3, -1, -1).contiguous()


def augment(
    images: torch.Tensor,
    generator: torch.Generator,
    rotate_deg: float = 10.0,
    scale: float = 0.1,
    shift: float = 0.1,
) -> torch.Tensor:
    """A random small affine warp per image (rotation, zoom, shift as a fraction of the side).

    Light on purpose: the held-out digits are centred and size-normalised like the training ones.
    Random numbers come from `generator` on the CPU, so a run is reproducible on any device.
    """
    b = images.shape[0]
    u = torch.rand(b, 4, generator=generator) * 2 - 1
    angle = u[:, 0] * math.radians(rotate_deg)
    zoom = 1 + u[:, 1] * scale
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, u[:, 2] * 2 * shift], 1), torch.stack([sin, cos, u[:, 3] * 2 * shift], 1)], 1
    ).to(images)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


if __name__ == "__main__":
    for name in ("train", "test"):
        x, y = load_split(name)
        print(name, tuple(x.shape), f"range [{x.min():.2f}, {x.max():.2f}]", "per class", torch.bincount(y).tolist())
