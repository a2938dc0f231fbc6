"""Run a sweep: skip the cells that have a result line, hand the rest to a backend, append each line.

Only this driver writes results.jsonl (a backend's workers write only their own run folders), and
a tqdm bar on stderr counts cells done, their ETA and the failures.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from tsearch.sweep.fingerprint import code_fingerprint, other_code, stale_note
from tsearch.sweep.results import Results
from tsearch.sweep.spec import Sweep

BACKENDS = ("local", "ray")


@dataclass
class Outcome:
    cells: int          # in the spec
    skipped: int        # already had a result line
    ran: int            # finished in this call
    failed: int         # of which with an error
    out: str
    errors: list = field(default_factory=list)   # (key, error) of the cells that failed in this call
    other_code: int = 0  # of the skipped, computed by other code than this (tsearch.sweep.fingerprint)

    def to_dict(self) -> dict:
        return {"cells": self.cells, "skipped": self.skipped, "ran": self.ran, "failed": self.failed, "out": self.out,
                "other_code": self.other_code}


def run_sweep(sweep: Sweep, out: str | Path, backend: str = "local", *, retry_failed: bool = False,
              progress: bool = True, keep_going: bool = False, **options) -> Outcome:
    """Run the cells of `sweep` that `out` has no result for; `options` go to the backend
    (threads; and for ray: address, workers, on_result).

    Every cell to run is checked first (tsearch.sweep.check): when some cannot run, ValueError before any
    runs; with `keep_going`, those get a failed result line (their error, nothing run) and the rest run."""
    if backend not in BACKENDS:
        raise ValueError(f"backend: choose one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "ray":
        from tsearch.sweep.ray_backend import run_ray as run   # imports ray; the local backend never does
    else:
        from tsearch.config import _device
        from tsearch.sweep.local import run_local as run

        for device in sorted({cell.config.device for cell in sweep.cells}):
            _device(device)   # the local backend runs here: a missing GPU is one clear error, not N failed cells
    from tqdm import tqdm

    with Results(out) as results:
        if retry_failed:
            results.drop_failed()
        done = results.done()
        todo = [cell for cell in sweep.cells if cell.key not in done]
        skipped = len(sweep.cells) - len(todo)
        from tsearch.sweep.check import refusal, unrunnable

        problems = unrunnable(todo)
        if problems and not keep_going:
            raise refusal(todo, problems)   # a cell that cannot run stops the sweep before any runs
        outcome = Outcome(len(sweep.cells), skipped, 0, 0, str(out),
                          other_code=other_code(done, [cell.key for cell in sweep.cells]))
        if outcome.other_code:
            print(stale_note(outcome.other_code, skipped), file=sys.stderr)
        bar = tqdm(total=len(sweep.cells), initial=skipped, desc=sweep.name, unit="cell", file=sys.stderr,
                   disable=not progress, dynamic_ncols=True)

        def record(row: dict) -> None:
            results.append({**row, "code": code_fingerprint()})
            outcome.ran += 1
            if row.get("error"):
                outcome.failed += 1
                outcome.errors.append((row.get("key"), str(row["error"])))
            bar.set_postfix(failed=outcome.failed, refresh=False)
            bar.update(1)

        try:
            for cell in todo:
                if cell.key in problems:
                    record(_unrun(cell, problems[cell.key]))
            todo = [cell for cell in todo if cell.key not in problems]
            if todo:
                run(todo, results.root, record, **options)
        finally:
            bar.close()
    return outcome


def _unrun(cell, error: str) -> dict:
    """The result line of a cell the check found cannot run: its error, nothing run."""
    return {"key": cell.key, "config": cell.config.to_dict(), "metadata": dict(cell.metadata), "run_dir": None,
            "summary": None, "error": error, "seconds": 0.0}
