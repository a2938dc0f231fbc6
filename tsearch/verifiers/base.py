"""The Verifier contract: images and their condition in, one score per image out, higher is better.

`score(images, condition)` takes float32 images in [0, 1] of shape [b, 3, H, W] (on any device;
a verifier moves them to its own) and the search's condition (a prompt string or a class label),
and returns a float tensor of shape [b] on the CPU. Verifiers that need the condition encoded
should cache that encoding per condition, since a search calls them once per round. A verifier may
also offer `check(condition)`, which raises ValueError when it cannot score that condition: it is
called before a search starts, so the mistake costs nothing.
"""

from __future__ import annotations

from typing import Protocol

import torch


class Verifier(Protocol):
    name: str

    def score(self, images: torch.Tensor, condition: str | int) -> torch.Tensor: ...
