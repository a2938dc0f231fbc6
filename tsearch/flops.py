"""FLOPs as a cost axis (issue 28): what one NFE, one decode and one verifier call cost, counted once.

An NFE of FLUX and an NFE of the bundled shapes UNet differ by orders of magnitude, so models of different
sizes compare only in FLOPs or seconds (Ma et al. 2025 compare model sizes at equal GFLOPs). The figures
here are counted, not estimated: torch's FLOP counter (`torch.utils.flop_counter.FlopCounterMode`: matrix
products, convolutions and attention, a multiply-add counted as 2 FLOPs) around one real forward of the
denoiser over a batch of `micro_batch` samples (1 for a model without one), divided by the rows and by the
passes per evaluation (`nfe_per_eval`: two with two-pass guidance, where one NFE is one pass). Elementwise
work (norms, activations) is not counted, as in the papers' figures. The count is kept per model object,
noise shape (the resolution), passes and rows, so it is made once per process.

Per candidate the engine adds one decode and one call of each verifier (on one image of the model's decoded
shape, counted the same way); `Candidate.flops` is the run's cumulative total when it was scored:
NFEs spent x FLOPs per NFE + candidates scored x (decode + verifiers). A verifier whose cost cannot be
counted here (a remote grader, a function of the user's) leaves the total unknown (None), never a guess.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from dataclasses import dataclass, field

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count


def _cpu_attention(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """F.scaled_dot_product_attention on the CPU (its kernel is not in torch's table): as flash attention."""
    return sdpa_flop_count(query_shape, key_shape, value_shape)


_EXTRA = {}
if hasattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu"):
    _EXTRA[torch.ops.aten._scaled_dot_product_flash_attention_for_cpu] = _cpu_attention

_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()   # model or verifier -> {key: figure}
_LOCK = threading.Lock()


def count(fn) -> int:
    """The FLOPs torch's counter sees while `fn()` runs (no gradient is kept)."""
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=_EXTRA) as counter:
        fn()
    return int(counter.get_total_flops())


def _cached(owner, key, compute):
    with _LOCK:
        table = _CACHE.setdefault(owner, {})
        if key in table:
            return table[key]
    value = compute()
    with _LOCK:
        _CACHE[owner][key] = value
    return value


def _probe(model, rows: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn((rows, *model.noise_shape), generator=generator) * float(model.prior_scale)
    return x.to(model.device)


def rows_of(model) -> int:
    """The batch a count runs over: the model's fixed micro-batch (what each of its calls computes), else 1."""
    return max(1, int(getattr(model, "micro_batch", None) or 1))


def per_nfe(model, cond) -> int:
    """FLOPs of one NFE (one denoiser pass over one sample) at the resolution `model` runs, counted on a real
    forward of `rows_of(model)` samples conditioned on `cond` (an encoded condition), cached."""
    rows, passes = rows_of(model), max(1, int(getattr(model, "nfe_per_eval", 1)))
    key = ("nfe", tuple(model.noise_shape), passes, rows, str(getattr(model, "dtype", "")))

    def compute() -> int:
        x = _probe(model, rows)
        total = count(lambda: model.forward_x0(x, cond, float(model.sigma_at(0.5))))
        return round(total / (rows * passes))

    return _cached(model, key, compute)


def per_decode(model) -> int:
    """FLOPs of decoding one sample's state into its image (0 for the bundled worlds, a VAE for pipelines)."""
    rows = rows_of(model)
    key = ("decode", tuple(model.noise_shape), rows)
    return _cached(model, key, lambda: round(count(lambda: model.decode(_probe(model, rows))) / rows))


def countable(verifier) -> bool:
    """Is a verifier's cost counted here: one of tsearch's own, run in this process (not a remote grader)."""
    module = type(verifier).__module__ or ""
    return module.startswith("tsearch.verifiers.") and getattr(verifier, "flops_counted", True)


def per_call(verifier, model, condition) -> int | None:
    """FLOPs of one verifier call on one image of `model`'s decoded shape; None when not `countable`."""
    if not countable(verifier):
        return None
    from tsearch.verifiers.deadline import _call

    rows = 1
    images = model.decode(_probe(model, rows)).float()
    key = ("call", tuple(images.shape[1:]), repr(condition))
    reference = images if getattr(verifier, "reference_t", None) is not None else None
    return _cached(verifier, key, lambda: count(lambda: _call(verifier, images, condition, reference)))


@dataclass(frozen=True)
class Cost:
    """What a search's compute costs in FLOPs: per NFE, per decode, per call of each verifier (None: not counted)."""
    per_nfe: int | None
    per_decode: int | None = None
    per_call: dict = field(default_factory=dict)   # verifier name -> FLOPs of one call on one image, or None
    rows: int = 1                                  # the batch the denoiser was counted on
    error: str | None = None                       # why nothing could be counted, when so

    @property
    def per_candidate(self) -> int | None:
        """Beyond its NFEs, what scoring one candidate costs: its decode and one call of each verifier."""
        parts = [self.per_decode, *self.per_call.values()]
        return None if any(p is None for p in parts) else sum(parts)

    def spent(self, nfe: int, scored: int) -> int | None:
        """Cumulative FLOPs once `nfe` NFEs were spent and `scored` candidates decoded and verified."""
        if self.per_nfe is None or self.per_candidate is None:
            return None
        return nfe * self.per_nfe + scored * self.per_candidate

    def to_dict(self) -> dict:
        return {"per_nfe": self.per_nfe, "per_decode": self.per_decode, "per_verifier_call": dict(self.per_call),
                "counted_rows": self.rows, "counter": "torch.utils.flop_counter.FlopCounterMode",
                **({"error": self.error} if self.error else {})}


def of_search(model, cond, verifiers, condition) -> Cost:
    """A search's `Cost`, counted (or read from the cache). A model that cannot run outside its search (a
    ZeroGPU model between leases) gives a Cost of Nones that says why, rather than failing the search. `cond`
    None: `condition` is encoded here."""
    try:
        if cond is None:
            with getattr(model, "encode_lock", contextlib.nullcontext()):
                cond = model.encode(condition)
        per_model = getattr(model, "flops_per_nfe", None)
        nfe = per_model(cond) if callable(per_model) else per_nfe(model, cond)
        return Cost(nfe, per_decode(model), {v.name: per_call(v, model, condition) for v in verifiers}, rows_of(model))
    except Exception as error:  # noqa: BLE001 - a cost annotation never ends a search; the reason is recorded
        return Cost(None, None, {v.name: None for v in verifiers}, rows_of(model), f"{type(error).__name__}: {error}")
