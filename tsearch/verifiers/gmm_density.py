"""`gmm-density`: log-density of the chosen mixture component (the condition) under `gmm`.

Its optimum is known exactly (the component's mean), so tests can check that search moves toward it.
"""

from __future__ import annotations

import torch


class GmmDensity:
    name = "gmm-density"

    def __init__(self, model):
        if getattr(model, "name", None) != "gmm":
            raise ValueError("gmm-density scores samples of the gmm model only; pick --model gmm or another verifier")
        self.model = model

    def check(self, condition) -> None:
        self.model.encode(condition)

    def score(self, images: torch.Tensor, condition) -> torch.Tensor:
        return self.model.log_density(images, self.model.encode(condition))


def build(model=None, device: str = "cpu") -> GmmDensity:
    return GmmDensity(model)
