"""The engine's records: the plan of a search, and a batch as it crosses a runner and comes back.

A batch of candidates is written `Batch` on its way to a runner (plain values: recipe ops and CPU
states), `Scored` on its way back (states, images, scores, NFEs counted around the denoiser) and
`Accounted` once the run has counted it (each candidate's cost and time). `Denoised` is the half-way
state inside a runner, between the denoising and the scoring. Only `Plan` holds live objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from tsearch.config import SearchConfig
from tsearch.models.calibrate import Calibration
from tsearch.recipes import Counter
from tsearch.search.base import Algorithm, Costs, Op


@dataclass(frozen=True)
class Plan:
    """Everything a search needs, validated (built by `tsearch.api.prepare`)."""
    config: SearchConfig            # validated, with steps and solver resolved from the model
    model: Any                      # a Model
    verifiers: tuple
    evaluators: tuple
    algorithm: Algorithm
    costs: Costs
    out: str | None = None          # the run folder to write, if any

    @property
    def budget(self) -> int:
        return self.config.budget

    @property
    def steps(self) -> int:
        return self.config.steps

    @property
    def condition(self):
        return self.config.condition

    @property
    def model_name(self) -> str:
        return self.config.model_name

    @property
    def algorithm_name(self) -> str:
        return self.config.algorithm

    @property
    def final_reserve(self) -> int:
        """NFEs kept back for the commits: final_top renders of final_steps steps."""
        return self.config.final_top * self.costs.full(self.config.final_steps) if self.config.final_steps else 0


@dataclass(frozen=True)
class Batch:
    """One batch of candidates as plain values: what a batch runner receives (picklable)."""
    ops: tuple[tuple[Op, ...], ...]   # each candidate's ops for this batch (noise ops when it starts from noise)
    starts: torch.Tensor | None       # [b, ...] the states it continues from (search over paths), or None
    t_end: float                      # where the states end; above 0 they are scored on a one-step estimate
    solver: str
    nfe: int                          # what the plan says the batch costs (the runner's count must agree)
    capture_t: float | None = None    # keep the clean estimate at this time for reference verifiers
    chunk: int | None = None          # denoise in chunks of this many rows; None: all at once, or calibrate
    calibrate_up_to: int | None = None  # with chunk None: measure the fastest chunk up to this size first


@dataclass(frozen=True)
class Scored:
    """A batch denoised, decoded and scored: what a batch runner returns (picklable)."""
    states: torch.Tensor          # end states (kept for search over paths)
    images: torch.Tensor          # what the verifiers saw, [b, 3, H, W] in [0, 1]
    raw: torch.Tensor             # [b, V] each verifier's score
    held_out: torch.Tensor        # [b, E] each evaluator's score
    nfe: int                      # denoiser evaluations the batch really cost, counted around the denoiser
    seconds: float                # wall-clock of the batch (without calibration)
    verifier_seconds: float       # of which in the verifiers
    calibration: Calibration | None = None   # set on the batch that calibrated


@dataclass
class Denoised:
    """A batch's states after its ops, per denoiser chunk, before decoding and scoring."""
    states: list[torch.Tensor]            # end states, one tensor per chunk
    early: list[torch.Tensor | None]      # clean estimates at capture_t, per chunk
    counter: Counter                      # the batch's NFEs so far
    started: float                        # perf_counter() when its denoising began (after calibration)
    calibration: Calibration | None = None


@dataclass
class Accounted:
    """A `Scored` batch counted into the run, with each candidate's cost and time."""
    states: torch.Tensor
    images: torch.Tensor
    raw: torch.Tensor
    held_out: torch.Tensor
    costs: list[int]              # NFEs of each candidate
    seconds: float                # wall-clock per candidate
    verifier_seconds: float       # verifier time per candidate
