"""`Candidate`: the one record of a scored candidate (DESIGN.md, "One config, one record").

The engine yields it (on `CandidateScored`), the run store writes it (`to_row`, one strict-JSON line
of candidates.jsonl), the app draws it, and loaders read it back (`from_row`). Nothing else builds
rows of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Iterator

from tsearch.jsonio import finite
from tsearch.search.base import Op, op_from_dict


class Scores(Mapping):
    """Each verifier's (or evaluator's) score by name, in the search's order; None where it was NaN.

    Read by name (`scores["shapes-clip"]`) or by position (`scores[0]`, the first verifier's).
    """

    __slots__ = ("_names", "_values")

    def __init__(self, names=(), values=()):
        names, values = tuple(names), tuple(finite(v) for v in values)
        if len(names) != len(values):
            raise ValueError(f"{len(values)} scores for {len(names)} names {names}")
        self._names, self._values = names, values

    @classmethod
    def from_dict(cls, data: Mapping | None) -> "Scores":
        data = dict(data or {})
        return cls(data.keys(), data.values())

    def __getitem__(self, key):
        if isinstance(key, int) and not isinstance(key, bool):
            return self._values[key]
        try:
            return self._values[self._names.index(key)]
        except ValueError:
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __eq__(self, other) -> bool:
        return isinstance(other, Mapping) and dict(self) == dict(other)

    def __hash__(self) -> int:
        return hash((self._names, self._values))

    def __repr__(self) -> str:
        return f"Scores({dict(self)})"

    @property
    def values_tuple(self) -> tuple[float | None, ...]:
        return self._values


@dataclass(frozen=True)
class Candidate:
    id: int
    parent: int | None
    round: int
    score: float | None             # what the algorithm was told (ensemble: mean percentile then); None if NaN
    scores: Scores                  # each verifier's raw score
    evals: Scores                   # held-out evaluators' scores (never told to the algorithm)
    nfe: int                        # this candidate's own NFEs
    nfe_spent: int                  # NFEs the search had spent once it was scored
    t_end: float                    # 0 for a finished sample, > 0 for a scored clean estimate (paths)
    recipe: tuple[dict, ...]        # the ops that regenerate its state from nothing, as written to disk
    seconds: float = 0.0            # wall-clock share of its batch (denoise + decode + verify)
    verifier_seconds: float = 0.0   # verifier share of its batch
    image_path: str | None = None   # its PNG in the run folder, when the run is written
    draft: bool = False             # a few-step render the run does not deliver (its full render or commit does)
    flops: int | None = None        # FLOPs the search had spent once it was scored (tsearch.flops); None: not counted

    @property
    def deliverable(self) -> bool:
        """A sample the run can deliver: finished, and not a few-step draft."""
        return self.finished and not self.draft

    @property
    def ops(self) -> tuple[Op, ...]:
        return tuple(op_from_dict(op) for op in self.recipe)

    @property
    def finished(self) -> bool:
        """A real sample at t = 0 (not the clean estimate of a noisy state)."""
        return self.t_end == 0.0

    def __getitem__(self, key: str) -> Any:
        """Read a field as the row's key (`c["score"]` is `c.score`), as rows were read before this record."""
        if key not in _FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def to_row(self) -> dict:
        """The candidates.jsonl line: strict JSON, scores as {name: value}, no image path (it follows from id)."""
        return {"id": self.id, "parent": self.parent, "round": self.round, "nfe": self.nfe,
                "nfe_spent": self.nfe_spent, "t_end": self.t_end, "score": finite(self.score),
                "scores": dict(self.scores), "evals": dict(self.evals), "recipe": [dict(op) for op in self.recipe],
                "seconds": self.seconds, "verifier_seconds": self.verifier_seconds,
                **({"flops": self.flops} if self.flops is not None else {}),   # only when set: rows from before
                **({"draft": True} if self.draft else {})}                     # FLOPs and drafts read the same

    @classmethod
    def from_row(cls, row: Mapping, image_path: str | None = None) -> "Candidate":
        """A candidates.jsonl line back as a Candidate; ValueError naming what is malformed."""
        if not isinstance(row, Mapping):
            raise ValueError(f"a candidate row is a JSON object, got {type(row).__name__}")
        try:
            recipe = row.get("recipe") or []
            if not isinstance(recipe, list) or not all(isinstance(op, Mapping) for op in recipe):
                raise ValueError("recipe must be a list of ops")
            for op in recipe:
                op_from_dict(op)
            for name in ("scores", "evals"):
                if row.get(name) is not None and not isinstance(row[name], Mapping):
                    raise ValueError(f"{name} must be an object of name: score")
            parent = row.get("parent")
            return cls(id=_int(row, "id"), parent=None if parent is None else int(parent), round=_int(row, "round", 0),
                       score=finite(row.get("score")), scores=Scores.from_dict(row.get("scores")),
                       evals=Scores.from_dict(row.get("evals")), nfe=_int(row, "nfe", 0),
                       nfe_spent=_int(row, "nfe_spent"), t_end=float(row.get("t_end", 0.0)),
                       recipe=tuple(dict(op) for op in recipe), seconds=float(row.get("seconds") or 0.0),
                       verifier_seconds=float(row.get("verifier_seconds") or 0.0), image_path=image_path,
                       draft=_flag(row, "draft"), flops=None if row.get("flops") is None else _int(row, "flops"))
        except (TypeError, ValueError, KeyError) as error:
            ident = row.get("id", "?") if isinstance(row, Mapping) else "?"
            raise ValueError(f"candidate {ident}: {error}") from None


_FIELDS = {f.name for f in fields(Candidate)}


def _flag(row: Mapping, key: str) -> bool:
    value = row.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false, got {value!r}")
    return value


def _int(row: Mapping, key: str, default: int | None = None) -> int:
    value = row.get(key, default)
    if value is None or isinstance(value, bool) or not float(value).is_integer():
        raise ValueError(f"{key} must be a whole number, got {value!r}")
    return int(value)
