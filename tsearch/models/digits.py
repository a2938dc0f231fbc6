"""The bundled class-conditional digits model: the miniature of SiT on ImageNet (PAPER.md).

A small diffusers UNet2DModel trained here with rectified flow on scikit-learn's digits
(`tsearch.worlds.digits`), 16x16 grey. As for SiT in the paper, the default guidance is 1.0 (no
classifier-free guidance: one pass per evaluation); any other scale runs the conditional and the
null-class pass together and counts two NFEs per sample (Ho & Salimans 2022, eq. 6 in velocity
form: v = v_null + w (v_class - v_null)).
"""

from __future__ import annotations

from pathlib import Path

import torch

from tsearch.models.base import DTYPE_NAMES, Model, resolve_dtype
from tsearch.models.invariant import fixed_batches
from tsearch.registry import Unavailable
from tsearch.worlds.digits import generator as gen
from tsearch.worlds.digits.data import NUM_CLASSES, SIZE, parse_digit, to_rgb

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "assets" / "digits" / "generator"
TRAIN_COMMAND = "python -m tsearch.worlds.digits.train_generator --device cpu --out assets/digits/generator"
_FILES = ("config.json", "diffusion_pytorch_model.safetensors", gen.META_FILE)


class DigitsModel(Model):
    name = "digits"
    conditioning = "class"
    classes = [str(digit) for digit in range(NUM_CLASSES)]
    noise_shape = (1, SIZE, SIZE)
    default_steps = 20
    default_solver = "euler"
    micro_batch = 16  # samples per network call, always (models.invariant): batch-invariant results
    default_dtype = "auto"  # bf16 where the CPU/GPU runs it natively (oneDNN AVX512-BF16/AMX, CUDA), else fp32

    def __init__(self, unet, guidance: float = 1.0, device: torch.device = torch.device("cpu"),
                 dtype: str | None = None) -> None:
        super().__init__()
        self.unet = unet
        self.guidance = float(guidance)
        self.nfe_per_eval = 1 if self.guidance == 1.0 else 2
        self.device = torch.device(device)
        self.dtype = DTYPE_NAMES[resolve_dtype(dtype, self.device, self.default_dtype)]  # autocast; weights stay fp32

    def encode(self, condition: str | int) -> torch.Tensor:
        """A digit 0-9 (int or a string such as "7") -> its class label as a 0-d tensor."""
        return torch.tensor(parse_digit(condition), dtype=torch.long)

    @torch.no_grad()
    def forward_x0(self, x: torch.Tensor, cond: torch.Tensor, sigma: float) -> torch.Tensor:
        """x0 = x_t - t v (rectified flow, sigma = t), with guidance when its scale is not 1."""
        state = x.to(self.device, torch.float32)
        with self.autocast():
            x0 = fixed_batches(lambda chunk, labels: self._x0(chunk, labels, float(sigma)), state, cond,
                               size=self.micro_batch)
        return x0.to(x)  # back on the caller's device and dtype: fp32 states whatever the network computed in

    def interval(self):
        """The context a solver interval runs in (`tsearch.recipes.apply_ops`): the autocast held open across its
        network calls, so the fp32 weights are cast once an interval instead of once a call. The same bits (the
        same casts, cached); a fixed cost off every call, which a lone sample's call feels most."""
        return self.autocast()

    def _x0(self, state: torch.Tensor, cond: torch.Tensor, sigma: float) -> torch.Tensor:
        b = state.shape[0]
        labels = cond.to(self.device).expand(b)
        t = torch.full((b,), sigma, device=self.device)
        if self.nfe_per_eval == 1:
            v = gen.velocity(self.unet, state, t, labels).float()   # under autocast: guidance mixed in fp32
        else:
            null = torch.full_like(labels, gen.NULL_CLASS)
            v_class, v_null = gen.velocity(
                self.unet, torch.cat([state, state]), torch.cat([t, t]), torch.cat([labels, null])
            ).float().chunk(2)
            v = v_null + self.guidance * (v_class - v_null)
        return state - sigma * v

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """[b, 1, 16, 16] in [-1, 1] -> [b, 3, 16, 16] grey images in [0, 1]."""
        return to_rgb(gen.from_pixels(x.float()))


def _missing(path: Path) -> list[str]:
    return [name for name in _FILES if not (path / name).is_file()]


def build(device: str = "cpu", path: str | Path | None = None, guidance: float | None = None,
          dtype: str | None = None, **options) -> DigitsModel:
    """The digits model from a folder written by train_generator (default: assets/digits/generator)."""
    if options:
        raise ValueError(f"the digits model takes the options path, guidance and dtype; unknown: {sorted(options)}")
    resolve_dtype(dtype, device)  # a bad dtype fails before the weights load
    guidance = 1.0 if guidance is None else float(guidance)
    if not guidance >= 0.0:
        raise ValueError(f"guidance must be a scale >= 0 (1.0 = no classifier-free guidance), got {guidance}")
    path = Path(path) if path is not None else DEFAULT_PATH
    missing = _missing(path)
    if missing:
        raise Unavailable(f"digits generator weights missing in {path} ({', '.join(missing)}); train them with: {TRAIN_COMMAND}")
    unet, _meta = gen.load(path, device)
    return DigitsModel(unet, guidance=guidance, device=torch.device(device), dtype=dtype)


def available() -> tuple[bool, str]:
    missing = _missing(DEFAULT_PATH)
    if missing:
        return False, f"weights missing in {DEFAULT_PATH}; train them with: {TRAIN_COMMAND}"
    return True, "ok"


build.available = available
