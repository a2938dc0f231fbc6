"""Verifier `digits-classifier`: the logit of the target digit under a small CNN.

The digits world's analogue of the paper's classifier verifiers on ImageNet (PAPER.md,
"Verifiers": the logit of the class from a CLIP zero-shot classifier or a DINOv2 linear head).
The CNN (`tsearch.worlds.digits.nets.ClassifierCNN`) is trained on the training split only by
`python -m tsearch.worlds.digits.train_classifier`; the oracle metrics use another network.
"""

from __future__ import annotations

from pathlib import Path

import torch

from tsearch.registry import Unavailable
from tsearch.worlds.digits import nets
from tsearch.worlds.digits.data import parse_digit

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "assets" / "digits" / "classifier"
TRAIN_COMMAND = "python -m tsearch.worlds.digits.train_classifier --device cpu --out assets/digits/classifier"


class DigitsClassifier:
    name = "digits-classifier"

    def __init__(self, net: torch.nn.Module, device: torch.device, info: dict | None = None) -> None:
        self.net, self.device, self.info = net, device, info or {}

    @torch.no_grad()
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """All ten logits [b, 10] on the CPU."""
        return self.net(images.to(self.device, torch.float32)).float().cpu()

    def check(self, condition) -> None:
        """ValueError before a search starts unless the condition is a digit 0-9."""
        parse_digit(condition)

    def score(self, images: torch.Tensor, condition: str | int) -> torch.Tensor:
        """The target class's logit per image ([b] on the CPU); condition is the digit 0-9."""
        label = parse_digit(condition)
        return self.logits(images)[:, label]


def build(model=None, device: str = "cpu", path: str | Path | None = None) -> DigitsClassifier:
    """The shipped classifier (assets/digits/classifier) or one from `path`; the model is not needed."""
    path = Path(path) if path is not None else DEFAULT_PATH
    missing = nets.files_missing(path)
    if missing:
        raise Unavailable(f"digits classifier weights missing in {path} ({', '.join(missing)}); train them with: {TRAIN_COMMAND}")
    net, info = nets.load(path, device)
    return DigitsClassifier(net, torch.device(device), info)


def available() -> tuple[bool, str]:
    missing = nets.files_missing(DEFAULT_PATH)
    if missing:
        return False, f"weights missing in {DEFAULT_PATH}; train them with: {TRAIN_COMMAND}"
    return True, "ok"


build.available = available
