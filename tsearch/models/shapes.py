"""The bundled `shapes` model: text-to-image over 32x32 shape scenes (a miniature of FLUX on GenEval).

A rectified-flow UNet trained here (`tsearch.worlds.shapes.generator`); the state is the image
itself in [-1, 1], so decoding is a rescale. Classifier-free guidance (Ho & Salimans 2022) runs
its two passes as one batch, which counts as two NFEs per sample (DESIGN.md, "Engine"). A
guidance-distilled student (`tsearch.worlds.shapes.distill`, like FLUX.1-dev) takes the scale as an
input instead: one pass, one NFE per sample at any guidance.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from tsearch.models.base import DTYPE_NAMES, Model, resolve_dtype
from tsearch.models.invariant import fixed_batches
from tsearch.registry import Unavailable

ASSETS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "assets", "shapes")
DEFAULT_PATH = os.path.join(ASSETS, "generator")      # the two-pass CFG teacher
DISTILLED_PATH = os.path.join(ASSETS, "distilled")    # its guidance-distilled student (one pass per step)
SMALL_PATH = os.path.join(ASSETS, "small")            # a quarter of the teacher's FLOPs per NFE (docs/compute.md)
TRAIN_HINT = ("train them with `python -m tsearch.worlds.shapes.train_generator --out assets/shapes/generator` "
              "(about 6 minutes on a GPU with --device cuda --minutes 6)")


@dataclass(frozen=True)
class TextCond:
    """A caption's token states and pooled vector, and the null caption's, each with batch 1."""
    caption: str
    states: torch.Tensor
    pooled: torch.Tensor
    null_states: torch.Tensor
    null_pooled: torch.Tensor


DEFAULT_STEPS = 10


class ShapesModel(Model):
    name = "shapes"
    conditioning = "text"
    noise_shape = (3, 32, 32)
    micro_batch = 4  # samples per network call, always (models.invariant): batch-invariant results
    default_solver = "dpmpp-2m"
    default_dtype = "auto"  # bf16 where the CPU/GPU runs it natively, else fp32 (docs/benchmarks/bf16.md)

    def __init__(self, generator, device: str = "cpu", guidance: float | None = None, dtype: str | None = None):
        super().__init__()
        self.generator = generator.to(device).eval()
        self.device = torch.device(device)
        self.dtype = DTYPE_NAMES[resolve_dtype(dtype, self.device, self.default_dtype)]  # autocast; weights stay fp32
        meta = generator.meta
        self.guidance = float(meta.get("default_guidance", 1.0) if guidance is None else guidance)
        if self.guidance < 0:
            raise ValueError(f"guidance must be >= 0 (1 = no classifier-free guidance), got {self.guidance}")
        low, high = meta.get("guidance_range", (0.0, float("inf")))
        if not low <= self.guidance <= high:
            raise ValueError(f"guidance: this guidance-distilled shapes model was trained for {low:g} to {high:g}, got "
                             f"{self.guidance:g}; use model shapes-teacher (two-pass guidance) for other scales")
        # the knee of quality per NFE (docs/benchmarks/solvers.md): DPM-Solver++(2M) at 10 steps matched Euler at 20
        # (66.7% against 66.1% oracle accuracy without search, 180 captions) for half the NFEs
        self.default_steps = DEFAULT_STEPS
        self.nfe_per_eval = 1 if self.guidance == 1.0 or generator.distilled else 2

    def example_conditions(self) -> list[str]:
        """One caption from each of the grammar's categories (GenEval's six, in miniature)."""
        import numpy as np

        from tsearch.worlds.shapes import grammar

        rng = np.random.default_rng(0)
        return [grammar.random_caption(rng, category) for category in grammar.CATEGORIES]

    def encode(self, condition: str) -> TextCond:
        from tsearch.worlds.shapes import grammar

        if not isinstance(condition, str):
            raise ValueError(f"the shapes model takes a caption such as 'a red circle', got {condition!r}")
        grammar.parse(condition)  # ValueError with the grammar's own message
        caption = grammar.normalize(condition)
        states, pooled, null_states, null_pooled = self.generator.condition(caption)
        return TextCond(caption, states, pooled, null_states, null_pooled)

    @torch.no_grad()
    def forward_x0(self, x: torch.Tensor, cond: TextCond, sigma: float) -> torch.Tensor:
        with self.autocast():
            x0 = fixed_batches(lambda chunk, *parts: self.generator.x0(chunk, sigma, parts, self.guidance),
                               x.to(self.device, torch.float32), cond.states, cond.pooled, cond.null_states,
                               cond.null_pooled, size=self.micro_batch)  # a caption per sample, or one for all
        return x0.to(x.dtype)  # fp32 states for the solver, whatever the network computed in

    def interval(self):
        """The context a solver interval runs in (`tsearch.recipes.apply_ops`): the autocast held open across its
        network calls, so the fp32 weights are cast once an interval instead of once a call. The same bits (the
        same casts, cached); a fixed cost off every call, which a lone sample's call feels most."""
        return self.autocast()

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return ((x.float() + 1.0) / 2.0).clamp(0.0, 1.0)


def build(device: str = "cpu", path: str | None = None, guidance: float | None = None, dtype: str | None = None,
          **kw) -> ShapesModel:
    """The bundled shapes generator from `path` (default assets/shapes/generator); dtype as in a config."""
    if kw:
        raise ValueError(f"unknown options for the shapes model: {', '.join(sorted(kw))}; it takes path, guidance "
                         f"and dtype")
    resolve_dtype(dtype, device)  # a bad dtype fails before the weights load
    folder = path or DEFAULT_PATH
    ok, reason = _check(folder)
    if not ok:
        raise Unavailable(reason)
    from tsearch.worlds.shapes.generator import Generator

    return ShapesModel(Generator.load(folder, device=device), device=device, guidance=guidance, dtype=dtype)


def _check(folder: str) -> tuple[bool, str]:
    needed = ["model_index.json", os.path.join("unet", "config.json"), os.path.join("text_encoder", "config.json")]
    missing = [name for name in needed if not os.path.exists(os.path.join(folder, name))]
    if missing:
        return False, f"shapes generator weights not found in {folder} (missing {', '.join(missing)}): {TRAIN_HINT}"
    return True, "ok"


def available() -> tuple[bool, str]:
    """Cheap check used by the registry listing: are the default weights there?"""
    return _check(DEFAULT_PATH)


build.available = available


def build_teacher(device: str = "cpu", guidance: float | None = None, dtype: str | None = None) -> ShapesModel:
    """The two-pass classifier-free-guided generator (assets/shapes/generator), the distilled one's teacher."""
    return build(device, DEFAULT_PATH, guidance, dtype)


def build_distilled(device: str = "cpu", guidance: float | None = None, dtype: str | None = None) -> ShapesModel:
    """The guidance-distilled student (assets/shapes/distilled): guidance as an input, one pass per step."""
    return build(device, DISTILLED_PATH, guidance, dtype)


def build_small(device: str = "cpu", guidance: float | None = None, dtype: str | None = None) -> ShapesModel:
    """The small shapes generator (assets/shapes/small): the teacher's recipe and guidance at a quarter of its FLOPs
    per NFE (`python -m tsearch.worlds.shapes.train_generator --size small`; docs/compute.md)."""
    return build(device, SMALL_PATH, guidance, dtype)


build_teacher.available = available
build_distilled.available = lambda: _check(DISTILLED_PATH)
build_small.available = lambda: _check(SMALL_PATH)
