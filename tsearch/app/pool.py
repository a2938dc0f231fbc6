"""Loaded models and their verifiers, one instance of each, shared by every search of the app.

Models hold no per-search state (each search counts its own NFEs and passes its solver), so
concurrent searches share one instance: two FLUX searches hold one copy of the weights. A model is
loaded once, under a per-name lock, the first time a search or the page asks for it.
"""

from __future__ import annotations

import threading
from collections import defaultdict

from tsearch.api import Loader
from tsearch.models import load_model
from tsearch.verifiers import VERIFIERS, load_verifier


class Slot(Loader):
    """One loaded model with the verifiers built for it; the engine's Loader for the app's searches."""

    def __init__(self, name: str, model, device: str):
        self.name, self.model, self.device = name, model, device
        self._verifiers: dict[str, object] = {}
        self._lock = threading.Lock()

    def load_model(self, name: str, device: str, options: dict):
        if name != self.name or options:
            raise ValueError(f"the app serves {self.name!r} with its default options; got {name!r} {options or ''}")
        return self.model

    def load_verifier(self, name: str, model=None, device: str | None = None):
        if name not in VERIFIERS:  # the app only builds registered verifiers, never "module:function"
            raise ValueError(f"unknown verifier {name!r}; choose one of: {', '.join(sorted(VERIFIERS))}")
        with self._lock:
            if name not in self._verifiers:
                self._verifiers[name] = load_verifier(name, model=self.model, device=self.device)
            return self._verifiers[name]

    verifier = load_verifier


class ModelPool:
    def __init__(self, device: str = "cpu"):
        self.device = device
        self._slots: dict[str, Slot] = {}
        self._loading: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._lock = threading.Lock()

    def get(self, name: str) -> Slot:
        """The shared instance of model `name`, loaded on first use (ValueError or Unavailable if it cannot be)."""
        with self._lock:
            if name in self._slots:
                return self._slots[name]
            loading = self._loading[name]
        with loading:   # one load per model, however many searches ask at once
            with self._lock:
                if name in self._slots:
                    return self._slots[name]
            slot = Slot(name, load_model(name, device=self.device), self.device)
            with self._lock:
                self._slots[name] = slot
            return slot

    def loaded(self, name: str) -> bool:
        with self._lock:
            return name in self._slots

    def warm(self, name: str, verifiers=()) -> None:
        """Load a model and the verifiers it will be searched with, so the first Run starts at once."""
        slot = self.get(name)
        for verifier in verifiers:
            slot.load_verifier(verifier)

    def describe(self, name: str) -> dict:
        """Conditioning, classes, default steps and example conditions of a model (loads it once if needed)."""
        model = self.get(name).model
        return {"conditioning": model.conditioning, "classes": list(model.classes or []),
                "default_steps": int(model.default_steps), "nfe_per_eval": int(model.nfe_per_eval),
                "examples": list(model.example_conditions())}
