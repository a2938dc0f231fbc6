"""A verifier from a plain Python function `f(images, condition) -> scores` (API) or "module:function" (CLI).

The function gets what a reward model's own code takes: a list of RGB `PIL.Image`s (one per
candidate, 8 bits per channel) and the search's prompt or class, and returns one number per image,
higher is better. An object with a `.score` method is a verifier of its own and gets the float
tensor batch [b, 3, H, W] in [0, 1] instead (see verifiers/base.py).
"""

from __future__ import annotations

import importlib
import numbers

import numpy as np
import torch

from tsearch.verifiers.deadline import VerifierError


def to_pil(images: torch.Tensor) -> list:
    """A float batch [b, 3, H, W] in [0, 1] (or [b, 1, H, W]) -> b RGB PIL images, rounded to 8 bits."""
    from PIL import Image

    pixels = images.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu()
    if pixels.shape[1] == 1:
        pixels = pixels.expand(-1, 3, -1, -1)
    return [Image.fromarray(np.ascontiguousarray(p.permute(1, 2, 0).numpy()), "RGB") for p in pixels]


class CallableVerifier:
    flops_counted = False   # the user's function: its cost is not ours to count, nor to run once more (tsearch.flops)

    def __init__(self, function, name: str | None = None):
        if not callable(function):
            raise ValueError(f"a custom verifier must be callable as f(images, condition) -> scores, got {function!r}")
        self.function = function
        self.name = name or getattr(function, "__name__", "custom")

    def score(self, images: torch.Tensor, condition) -> torch.Tensor:
        pictures = to_pil(images)
        return self._scores(self.function(pictures, condition), len(pictures))

    def _scores(self, result, count: int) -> torch.Tensor:
        """The function's answer as a float tensor [count]; VerifierError naming the verifier otherwise."""
        what = (f"verifier {self.name!r} returned {{}}; f(images, condition) gets a list of {count} PIL images "
                f"and returns one number per image")
        if result is None or isinstance(result, (str, bytes, dict)):
            raise VerifierError(what.format(repr(result)[:60]))
        if count == 1 and (isinstance(result, (numbers.Real, np.number)) and not isinstance(result, (bool, np.bool_))
                           or isinstance(result, torch.Tensor) and result.ndim == 0):
            result = [result]   # one number for one image (reward models' score(prompt, [image]) squeezes so)
        if isinstance(result, (torch.Tensor, np.ndarray)):
            try:
                scores = torch.as_tensor(result)
            except TypeError:
                raise VerifierError(what.format(f"an array of {result.dtype}")) from None
            if scores.ndim > 1 or scores.dtype == torch.bool or scores.dtype.is_complex:
                raise VerifierError(what.format(f"a {scores.dtype} array of shape {tuple(scores.shape)}"))
            scores = scores.reshape(-1).to(torch.float64)
        else:
            try:
                values = list(result)
            except TypeError:
                raise VerifierError(what.format(f"{type(result).__name__} {repr(result)[:60]}")) from None
            for value in values:
                number = isinstance(value, torch.Tensor) and value.numel() == 1 and value.dtype != torch.bool
                number = number or (isinstance(value, (numbers.Real, np.number)) and not isinstance(value, (bool, np.bool_)))
                if not number:
                    raise VerifierError(what.format(f"a {type(result).__name__} holding {repr(value)[:40]}, "
                                                    f"not a number"))
            scores = torch.tensor([float(v) for v in values], dtype=torch.float64)
        if scores.shape[0] != count:
            raise VerifierError(f"verifier {self.name!r} returned {scores.shape[0]} scores for {count} images; "
                                "a verifier must return one score per image")
        return scores.cpu()


def from_import_path(path: str) -> CallableVerifier:
    """"package.module:function" -> a verifier calling that function with PIL images."""
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"custom verifier {path!r}: cannot import module {module_name!r} ({error})") from None
    if not hasattr(module, attribute):
        raise ValueError(f"custom verifier {path!r}: module {module_name!r} has no attribute {attribute!r}")
    function = getattr(module, attribute)
    if not callable(function):
        raise ValueError(f"custom verifier {path!r}: {attribute} is a {type(function).__name__}, not a function "
                         f"f(images, condition) -> scores")
    return CallableVerifier(function, name=path)
