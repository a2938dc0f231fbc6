"""Loaded models and their verifiers, one instance of each, shared by every search of the app.

Models hold no per-search state (each search counts its own NFEs and passes its solver), so
concurrent searches share one instance: two FLUX searches hold one copy of the weights. A model is
loaded once, under a per-name lock, the first time a search or the page asks for it. A search with
model options (height, guidance, ...) gets a variant slot: a diffusers adapter over the same
pipeline (`with_options`, no reload), or a bundled model built again with them; variants share the
base slot's verifiers. A model handed to the app already loaded (`add`) is served like the others.
`POOL` is the app's one pool, shared by the page, the MCP tool and a ZeroGPU worker (`gpu.register_pool`);
`CONCURRENCY` searches run on it at once.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict, defaultdict

from tsearch import envvars
from tsearch.api import Loader
from tsearch.app import gpu
from tsearch.models import load_model
from tsearch.verifiers import VERIFIERS, load_verifier


MAX_VARIANTS = 8   # option variants kept per pool, the oldest dropped first (adapters are small; weights are shared)
# Searches running at once on the pool, all tabs and agents together (the page's queue and the MCP tool's own bound):
# one per core, at most 4 (8 at once on 2 cores ran 2-6x slower overall than 2 at a time); $TSEARCH_APP_CONCURRENCY
# overrides.
CONCURRENCY = envvars.whole("TSEARCH_APP_CONCURRENCY", max(1, min(4, os.cpu_count() or 1)), 1, 1024)


class Slot(Loader):
    """One loaded model with the verifiers built for it; the engine's Loader for the app's searches."""

    def __init__(self, name: str, model, device: str, options: dict | None = None, base: "Slot | None" = None):
        self.name, self.model, self.device = name, model, device
        self.options = dict(options or {})
        self._verifiers: dict[str, object] = base._verifiers if base is not None else {}
        self._lock = base._lock if base is not None else threading.Lock()

    def load_model(self, name: str, device: str, options: dict):
        if name != self.name or dict(options) != self.options:
            raise ValueError(f"this slot serves {self.name!r} with options {self.options}; got {name!r} {dict(options)}")
        return self.model

    def load_verifier(self, name: str, model=None, device: str | None = None):
        if name not in VERIFIERS:  # the app only builds registered verifiers, never "module:function"
            raise ValueError(f"unknown verifier {name!r}; choose one of: {', '.join(sorted(VERIFIERS))}")
        with self._lock:
            if name not in self._verifiers:
                self._verifiers[name] = load_verifier(name, model=self.model, device=self.device)
            return self._verifiers[name]


class ModelPool:
    def __init__(self, device: str = "cpu"):
        self.device = device
        self._slots: dict[str, Slot] = {}
        self._variants: OrderedDict[tuple, Slot] = OrderedDict()
        self._provided: dict[str, str] = {}   # name -> description, models handed over already loaded
        self._loading: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._lock = threading.Lock()

    def add(self, name: str, model, description: str) -> Slot:
        """Serve an already loaded model under `name` (build_demo(model=pipe)); it is never reloaded or copied."""
        slot = Slot(name, model, str(model.device))
        with self._lock:
            self._slots[name] = slot
            self._provided[name] = description
            for key in [k for k in self._variants if k[0] == name]:
                del self._variants[key]
        return slot

    def provided(self) -> dict[str, str]:
        """The models handed to the app already loaded: name -> description."""
        with self._lock:
            return dict(self._provided)

    def get(self, name: str, options: dict | None = None) -> Slot:
        """The shared instance of model `name` (with `options`), loaded on first use (ValueError or Unavailable)."""
        base = self._base(name)
        if not options:
            return base
        key = (name, json.dumps(options, sort_keys=True))
        with self._lock:
            if key in self._variants:
                self._variants.move_to_end(key)
                return self._variants[key]
            loading = self._loading[name]
        with loading:
            with self._lock:
                if key in self._variants:
                    return self._variants[key]
            with_options = getattr(base.model, "with_options", None)
            if callable(with_options):
                model = with_options(**options)
            elif name in self._provided:
                raise ValueError(f"model {name!r} was handed to the app loaded and takes no options here")
            else:
                model = load_model(name, device=self.device, **options)
            slot = Slot(name, model, base.device, options, base=base)
            with self._lock:
                self._variants[key] = slot
                while len(self._variants) > MAX_VARIANTS:
                    self._variants.popitem(last=False)
            return slot

    def _base(self, name: str) -> Slot:
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


POOL = gpu.register_pool("app", ModelPool(gpu.device()))   # where a ZeroGPU worker finds the models (app/gpu.py)
