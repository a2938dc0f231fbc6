"""What the engine reports while it runs: small frozen dataclasses that never change state."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tsearch.candidate import Candidate


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
    """A candidate was denoised and scored; it is already written to the run when this is yielded."""
    candidate: Candidate
    image: Any                      # PIL.Image of what was scored

    def __getattr__(self, name: str):
        # the candidate's fields read through the event: event.id, event.score, event.nfe_spent, ...
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.candidate, name)


@dataclass(frozen=True)
class RoundDone:
    """A round was told to the algorithm; `best_*` is the algorithm's own best (DESIGN.md: derive it once)."""
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
    error: str | None = None        # why the search ended early on an error (everything before it is kept)

    @property
    def warning(self) -> str | None:
        """Why a search that ran should not be trusted: its verifier never gave a finite score (None: nothing)."""
        return no_finite_score(self.candidates, self.best_score)


def no_finite_score(candidates: int, best_score) -> str | None:
    """The warning for candidates scored without one finite score (all NaN or infinite), else None."""
    if candidates and (best_score is None or not math.isfinite(best_score)):
        return (f"no finite score: the verifier gave none of the {candidates} candidate(s) a finite score (all NaN "
                f"or infinite), so the best is arbitrary; check the verifier")
    return None


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
