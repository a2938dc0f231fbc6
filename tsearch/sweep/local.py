"""The local backend: every cell in this process, each model and verifier loaded once.

`run_cell` is the one way a cell runs, here and on a Ray actor: clear its run folder, plan its config
(validated once, when the spec was read; here only its device is checked against this machine) through a
`CachingLoader`, run the search's events to the end, and return its result line.
A failing cell becomes a line with its `error`; the sweep goes on.
"""

from __future__ import annotations

import shutil
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Iterable

from tsearch import api
from tsearch.config_checks import check_device_here
from tsearch.events import CandidateScored, SearchDone
from tsearch.sweep.results import RUNS
from tsearch.sweep.spec import Cell


class CachingLoader(api.Loader):
    """Loads each model (and each verifier of it) once; keeps the `max_models` most recently used.

    Safe to share between searches: models and verifiers hold no per-search state (STYLE.md 15)."""

    def __init__(self, max_models: int = 1):
        self.max_models = max_models
        self.models: OrderedDict = OrderedDict()
        self.verifiers: dict = {}

    def load_model(self, name, device, options):
        key = (name, device, tuple(sorted((k, repr(v)) for k, v in options.items())))
        if key in self.models:
            self.models.move_to_end(key)
            return self.models[key]
        while len(self.models) >= self.max_models:
            _, old = self.models.popitem(last=False)
            self.verifiers = {k: v for k, v in self.verifiers.items() if k[1] != id(old)}
        model = self.models[key] = super().load_model(name, device, options)
        return model

    def load_verifier(self, name, model, device):
        key = (name, id(model), device)
        if key not in self.verifiers:
            self.verifiers[key] = super().load_verifier(name, model, device)
        return self.verifiers[key]


def run_cell(cell: Cell, root: str | Path, loader: api.Loader) -> dict:
    """Run one cell into DIR/runs/<key> (cleared first) and return its results.jsonl line."""
    relative = f"{RUNS}/{cell.key}"
    folder = Path(root) / relative
    if folder.exists():
        shutil.rmtree(folder)   # left by a run that never got its result line
    row = {"key": cell.key, "config": cell.config.to_dict(), "metadata": dict(cell.metadata),
           "run_dir": relative, "summary": None, "error": None}
    started = time.perf_counter()
    best = {}
    try:
        check_device_here(cell.config.device)   # the spec was read with here=False: its driver may lack the GPUs
        plan = api.plan_for(cell.config, out=str(folder), loader=loader)
        done = None
        for event in api.search_events(plan):
            if isinstance(event, CandidateScored):
                best[event.candidate.id] = event.candidate   # the summary names the best by id
            elif isinstance(event, SearchDone):
                done = event.summary
    except Exception as error:   # recorded; the sweep goes on
        row["error"] = str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"
        row["seconds"] = time.perf_counter() - started
        if not folder.exists():
            row["run_dir"] = None
        return row
    chosen = best.get(done.best_id)
    summary = done.to_row()
    del summary["run_dir"]   # the row's own run_dir, relative to the sweep's folder, says where
    row["summary"] = {
        **summary,
        "scores": dict(chosen.scores) if chosen else {},   # each verifier's raw score of the best
        "evals": dict(chosen.evals) if chosen else {},     # each held-out evaluator's score of the best
        "steps": plan.config.steps, "solver": plan.config.solver}   # as the model resolved them
    row["seconds"] = time.perf_counter() - started
    return row


def run_local(cells: Iterable[Cell], root: str | Path, record: Callable[[dict], None], threads: int | None = None,
              **_) -> None:
    """Run the cells in order here (they come grouped by model), handing each line to `record`."""
    import torch

    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        loader = CachingLoader()
        for cell in cells:
            record(run_cell(cell, root, loader))
    finally:
        torch.set_num_threads(previous)
