"""What the engine reports while it runs: small frozen dataclasses that never change state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SearchStarted:
    run_dir: str | None
    model: str
    condition: str | int
    algorithm: str
    verifiers: tuple[str, ...]      # names, in the order of CandidateScored.scores
    evaluators: tuple[str, ...]     # held-out scorers, in the order of CandidateScored.evals
    budget: int                     # NFEs
    steps: int                      # denoising steps per candidate
    candidate_cost: int             # NFEs of one full candidate


@dataclass(frozen=True)
class CandidateScored:
    id: int
    parent: int | None
    round: int
    score: float                    # what the algorithm was told (ensemble: mean rank)
    scores: tuple[float | None, ...]  # each verifier's raw score (None for NaN)
    evals: tuple[float | None, ...]   # held-out evaluators' scores (never told to the algorithm)
    nfe: int                        # this candidate's own NFEs
    nfe_spent: int                  # NFEs spent by the search once this candidate was scored
    t_end: float                    # 0 for a finished sample, > 0 for a scored clean estimate (paths)
    recipe: tuple[dict, ...]        # ops that regenerate its state from nothing
    image: Any                      # PIL.Image of what was scored
    image_path: str | None
    seconds: float                  # wall-clock share of its batch (denoise + decode + verify)
    verifier_seconds: float         # verifier share of its batch


@dataclass(frozen=True)
class RoundDone:
    round: int
    nfe_spent: int
    candidates: int                 # scored so far
    best_id: int | None
    best_score: float | None
    best_image: Any                 # PIL.Image of the algorithm's best so far (None before one exists)
    seconds: float


@dataclass(frozen=True)
class Summary:
    model: str
    algorithm: str
    condition: str | int
    budget: int
    nfe_spent: int                  # search + final render, measured by counting forward passes
    final_nfe: int                  # of which the final render
    candidates: int
    best_id: int | None
    best_score: float | None
    best_evals: tuple[float | None, ...]
    seconds: float
    verifier_seconds: float
    stopped: bool                   # ended early by Stop (closing the generator)
    run_dir: str | None


@dataclass(frozen=True)
class FinalRendered:
    id: int                          # the candidate whose noise was re-rendered
    steps: int
    nfe: int
    image: Any
    image_path: str | None
    scores: tuple[float | None, ...]


@dataclass(frozen=True)
class SearchDone:
    summary: Summary
    best_image: Any                  # PIL.Image (the final render when one was made)
