"""Loaded models and their verifiers, lent to one search at a time.

A Model counts its own NFEs and the engine checks that count per batch, so two searches must never
share one instance. Each search borrows an idle instance of its model (loading a new one only when
all are busy) and gives it back when it ends, so weights load once per concurrent search, not per run.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterator

from tsearch.models import load_model
from tsearch.verifiers import VERIFIERS, load_verifier


class Slot:
    """One model instance with the verifiers built for it."""

    def __init__(self, name: str, model, device: str):
        self.name, self.model, self.device = name, model, device
        self._verifiers: dict[str, object] = {}

    def verifier(self, name: str):
        if name not in VERIFIERS:  # the app only builds registered verifiers, never "module:function"
            raise ValueError(f"unknown verifier {name!r}; choose one of: {', '.join(sorted(VERIFIERS))}")
        if name not in self._verifiers:
            self._verifiers[name] = load_verifier(name, model=self.model, device=self.device)
        return self._verifiers[name]


class ModelPool:
    def __init__(self, device: str = "cpu"):
        self.device = device
        self._idle: dict[str, list[Slot]] = defaultdict(list)
        self._lock = threading.Lock()

    def acquire(self, name: str) -> Slot:
        """An instance of model `name` for this caller alone (give it back with `release`).

        ValueError or Unavailable when it cannot be loaded here."""
        with self._lock:
            slot = self._idle[name].pop() if self._idle[name] else None
        return slot or Slot(name, load_model(name, device=self.device), self.device)

    def release(self, slot: Slot) -> None:
        with self._lock:
            self._idle[slot.name].append(slot)

    @contextmanager
    def borrow(self, name: str) -> Iterator[Slot]:
        slot = self.acquire(name)
        try:
            yield slot
        finally:
            self.release(slot)

    def loaded(self, name: str) -> bool:
        with self._lock:
            return bool(self._idle[name])

    def warm(self, name: str, verifiers=()) -> None:
        """Load a model and the verifiers it will be searched with, so the first Run starts at once."""
        with self.borrow(name) as slot:
            for verifier in verifiers:
                slot.verifier(verifier)

    def describe(self, name: str) -> dict:
        """Conditioning, classes and default steps of a model (loads it once if needed)."""
        with self.borrow(name) as slot:
            model = slot.model
            return {"conditioning": model.conditioning, "classes": list(model.classes or []),
                    "default_steps": int(model.default_steps), "nfe_per_eval": int(model.nfe_per_eval)}
