"""A verifier from a plain Python callable `f(images, condition) -> scores` (API) or "module:function" (CLI)."""

from __future__ import annotations

import importlib

import torch


class CallableVerifier:
    def __init__(self, function, name: str | None = None):
        if not callable(function):
            raise ValueError(f"a custom verifier must be callable as f(images, condition) -> scores, got {function!r}")
        self.function = function
        self.name = name or getattr(function, "__name__", "custom")

    def score(self, images: torch.Tensor, condition) -> torch.Tensor:
        return torch.as_tensor(self.function(images, condition), dtype=torch.float32).reshape(-1).cpu()


def from_import_path(path: str) -> CallableVerifier:
    """"package.module:function" -> a verifier calling that function."""
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
