"""The Model contract (DESIGN.md) and the parts every adapter shares.

An adapter implements `encode`, `forward_x0` and `decode`, and sets `noise_shape`, `nfe_per_eval`
and its `schedule` (rectified flow or variance exploding, see `tsearch.schedule`). A model holds no
per-search state: the solver is an argument, and each search counts its own NFEs around the
denoiser call (`tsearch.recipes.Counter`), so one loaded instance serves concurrent searches.
Integrating a batch along a schedule is `tsearch.recipes.denoise(model, cond, x, sigmas, solver)`.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from tsearch import schedule as schedules


DTYPE_NAMES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def native_bf16(device: str | torch.device = "cpu") -> bool:
    """Does `device` run bfloat16 natively: a CUDA GPU that supports it, or a CPU with AVX512-BF16 or AMX?

    On a CPU without them oneDNN has no bf16 convolution and torch falls back to a slow reference kernel
    (measured on this project's AVX2 build machine: the shapes UNet 37x slower in bf16 than in fp32)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)  # what oneDNN itself will use
    if check is not None:
        try:
            return bool(check())
        except RuntimeError:
            pass
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_dtype(dtype: str | None, device: str | torch.device = "cpu", default: str = "float32") -> str:
    """A config's dtype -> "float32", "bfloat16" or "float16": None is `default`, "auto" is bfloat16 where
    the device runs it natively (`native_bf16`) and float32 elsewhere; fp32/bf16/fp16 are aliases."""
    name = default if dtype is None else ALIASES.get(dtype, dtype)
    if name == "auto":
        return "bfloat16" if native_bf16(device) else "float32"
    if name not in DTYPE_NAMES:
        raise ValueError(f"dtype: choose one of {', '.join([*DTYPE_NAMES, 'auto', *ALIASES])}, got {dtype!r}")
    return name


def dtype_name(dtype: torch.dtype) -> str:
    """torch.bfloat16 -> "bfloat16" (the name a config and run.json use)."""
    return str(dtype).removeprefix("torch.")


def resolved_dtype(model, asked: str | None) -> str | None:
    """The dtype a loaded model computes in, as run.json records it (never "auto"), so that regenerating a
    candidate loads the same precision; `asked` when the model does not say (an object of the caller's)."""
    dtype = getattr(model, "dtype", None)
    return dtype_name(dtype) if isinstance(dtype, torch.dtype) else asked


class Model:
    name: str = "model"
    conditioning: str = "text"          # "text": a prompt; "class": an integer label
    classes: list[str] | None = None    # class names for class-conditional models
    schedule = schedules.RectifiedFlow()  # or schedules.VarianceExploding(sigma_min, sigma_max)
    noise_shape: tuple[int, ...] = ()   # one sample's state, without the batch dimension
    nfe_per_eval: int = 1               # 2 when classifier-free guidance runs two passes
    default_steps: int = 20
    default_solver: str = "euler"
    device: torch.device = torch.device("cpu")
    dtype: torch.dtype = torch.float32  # the denoiser's compute dtype (bundled: autocast over fp32 weights)
    encode_lock = contextlib.nullcontext()   # adapters whose encoders are not thread-safe set a Lock

    # --- what an adapter implements -------------------------------------------------------
    def encode(self, condition: str | int) -> Any:
        """Prompt or class label -> conditioning, computed once per search. ValueError if invalid."""
        raise NotImplementedError

    def forward_x0(self, x: torch.Tensor, cond: Any, sigma: float) -> torch.Tensor:
        """One evaluation of the denoiser (both CFG passes): the clean estimate of a batch."""
        raise NotImplementedError

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """States at t = 0 -> images, float32 in [0, 1], shape [b, 3, H, W]."""
        raise NotImplementedError

    def example_conditions(self) -> list:
        """Prompts (or classes) a user interface may offer as examples; none by default."""
        return []

    # --- shared ---------------------------------------------------------------------------
    def autocast(self):
        """The bundled models' reduced precision: autocast around the network, weights and states in fp32."""
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def flops_per_nfe(self, cond: Any) -> int:
        """FLOPs of one NFE at the resolution this model runs, counted once on a real forward with torch's FLOP
        counter and cached (`tsearch.flops.per_nfe`); an adapter that knows better may override it."""
        from tsearch import flops

        return flops.per_nfe(self, cond)

    def predict_x0(self, x: torch.Tensor, cond: Any, sigma: float) -> torch.Tensor:
        """One evaluation at noise level `sigma` (a search counts it: `tsearch.recipes.Counter`)."""
        return self.forward_x0(x, cond, float(sigma))

    def sigma_at(self, t: float) -> float:
        return self.schedule.sigma_at(t)

    def sigmas(self, steps: int, t_from: float = 1.0, t_to: float = 0.0) -> torch.Tensor:
        """The schedule: steps + 1 noise levels from t_from down to t_to (0 ends at sigma = 0)."""
        return schedules.sigmas(self.schedule, steps, t_from, t_to)

    @property
    def prior_scale(self) -> float:
        """The state at t = 1 is standard noise times this."""
        return self.schedule.prior_scale

    def renoise(self, x: torch.Tensor, sigma_from: float, sigma_to: float, noise: torch.Tensor) -> torch.Tensor:
        """The forward process from a lower noise level to a higher one (DESIGN.md formulas)."""
        return self.schedule.renoise(x, sigma_from, sigma_to, noise)

    # The schedule's constants, read through the model (for listings and tests); set them on `schedule`.
    @property
    def parameterization(self) -> str:
        """"rf" (rectified flow) or "ve" (variance exploding)."""
        return self.schedule.kind

    @property
    def shift(self) -> float:
        return getattr(self.schedule, "shift", 1.0)

    @property
    def sigma_min(self) -> float:
        return getattr(self.schedule, "sigma_min", 0.0)

    @property
    def sigma_max(self) -> float:
        return getattr(self.schedule, "sigma_max", 1.0)
