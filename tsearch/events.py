"""What the engine reports while it runs: small frozen dataclasses that never change state."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

from tsearch.candidate import Candidate
from tsearch.jsonio import finite


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
    """How a search ended: written to run.json, printed by the CLI, a sweep's result row (`to_row`/`from_row`)."""
    model: str
    algorithm: str
    condition: str | int
    budget: int
    nfe_spent: int                  # search + final render, measured by counting forward passes
    final_nfe: int                  # of which the final render (the commits of draft-then-commit)
    candidates: int
    best_id: int | None
    best_score: float | None
    best_evals: tuple[float | None, ...]
    seconds: float
    verifier_seconds: float
    stopped: bool                   # ended early by Stop (closing the generator)
    run_dir: str | None
    error: str | None = None        # why the search ended early on an error (everything before it is kept)
    draft_nfe: int = 0              # of nfe_spent, the search's own candidates (the drafts)
    commits: tuple[int, ...] = ()   # ids of the committed candidates (final_steps renders of the best drafts)
    flops_spent: int | None = None  # FLOPs of the NFEs, decodes and verifier calls (tsearch.flops); None: not counted

    @property
    def warning(self) -> str | None:
        """Why a search that ran should not be trusted: its verifier never gave a finite score (None: nothing)."""
        return no_finite_score(self.candidates, self.best_score)

    def to_row(self) -> dict:
        """The summary as strict JSON (a non-finite score is null), as run.json and results.jsonl store it."""
        row = dataclasses.asdict(self)
        row["best_score"] = finite(self.best_score)
        row["best_evals"] = [finite(v) for v in self.best_evals]
        return row

    @classmethod
    def from_row(cls, row: Mapping) -> "Summary":
        """A stored summary back as its dataclass; ValueError naming a damaged field (a missing one is empty)."""
        if not isinstance(row, Mapping):
            raise ValueError(f"run.json is damaged: its summary is {row!r}, not an object")
        values = {f.name: stored_value(f"summary {f.name}", row.get(f.name), _SUMMARY_KINDS[f.name])
                  for f in dataclasses.fields(cls)}
        return cls(**values)


_SUMMARY_KINDS = {"model": str, "algorithm": str, "condition": "condition", "budget": int, "nfe_spent": int,
                  "final_nfe": int, "candidates": int, "best_id": "id", "best_score": "score", "best_evals": "scores",
                  "seconds": float, "verifier_seconds": float, "stopped": bool, "run_dir": "text", "error": "text",
                  "draft_nfe": int, "commits": "ids", "flops_spent": "id"}
_EMPTY = {str: "", int: 0, float: 0.0, bool: False, "scores": (), "ids": ()}


def damaged(what: str, value) -> ValueError:
    return ValueError(f"run.json or rounds.jsonl is damaged: {what} is {value!r}")


def stored_value(what: str, value, kind):
    """One stored value of the given kind (see _SUMMARY_KINDS); None is empty; ValueError naming it otherwise."""
    if value is None:
        return _EMPTY.get(kind)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind in (int, "id"):
        if not number or value != value or not float(value).is_integer():
            raise damaged(what, value)
        return int(value)
    if kind in (float, "score"):
        if not number:
            raise damaged(what, value)
        return float(value)
    if kind == "scores":
        if not isinstance(value, (list, tuple)):
            raise damaged(what, value)
        return tuple(stored_value(what, v, "score") for v in value)
    if kind == "ids":
        if not isinstance(value, (list, tuple)):
            raise damaged(what, value)
        return tuple(stored_value(what, v, "id") for v in value)
    if kind == "condition":
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise damaged(what, value)
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise damaged(what, value)
        return value
    if not isinstance(value, str):
        raise damaged(what, value)
    return value


def no_finite_score(candidates: int, best_score) -> str | None:
    """The warning for candidates scored without one finite score (all NaN or infinite), else None."""
    if candidates and (best_score is None or not math.isfinite(best_score)):
        return (f"no finite score: the verifier gave none of the {candidates} candidate(s) a finite score (all NaN "
                f"or infinite), so the best is arbitrary; check the verifier")
    return None


@dataclass(frozen=True)
class FinalRendered:
    """The best drafts were committed (re-rendered with `steps` and scored); this is the winning commit."""
    id: int                          # the draft whose noise was re-rendered (the winning commit's parent)
    steps: int
    nfe: int                         # of all the commits
    image: Any
    image_path: str | None
    scores: tuple[float | None, ...]   # each verifier's score of the winning commit
    evals: tuple[float | None, ...] = ()   # each evaluator's
    commit_id: int | None = None     # the winning commit's own candidate id (the run's best)


@dataclass(frozen=True)
class SearchDone:
    summary: Summary
    best_image: Any                  # PIL.Image (the final render when one was made)
