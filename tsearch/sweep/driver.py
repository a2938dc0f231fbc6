"""Run a sweep: skip the cells that have a result line, hand the rest to a backend, append each line.

Only this driver writes results.jsonl (a backend's workers write only their own run folders), and
a tqdm bar on stderr counts cells done, their ETA and the failures.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

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

    def to_dict(self) -> dict:
        return {"cells": self.cells, "skipped": self.skipped, "ran": self.ran, "failed": self.failed, "out": self.out}


def run_sweep(sweep: Sweep, out: str | Path, backend: str = "local", *, retry_failed: bool = False,
              progress: bool = True, **options) -> Outcome:
    """Run the cells of `sweep` that `out` has no result for; `options` go to the backend
    (threads; and for ray: address, workers, on_result)."""
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
        outcome = Outcome(len(sweep.cells), skipped, 0, 0, str(out))
        bar = tqdm(total=len(sweep.cells), initial=skipped, desc=sweep.name, unit="cell", file=sys.stderr,
                   disable=not progress, dynamic_ncols=True)

        def record(row: dict) -> None:
            results.append(row)
            outcome.ran += 1
            outcome.failed += bool(row.get("error"))
            bar.set_postfix(failed=outcome.failed, refresh=False)
            bar.update(1)

        try:
            if todo:
                run(todo, results.root, record, **options)
        finally:
            bar.close()
    return outcome
