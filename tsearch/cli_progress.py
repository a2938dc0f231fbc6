"""What `run` shows while a search runs: the progress bar on stderr and the summary line on stdout."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

from tsearch.config import SearchConfig
from tsearch.events import Summary
from tsearch.jsonio import finite


class Progress:
    """The progress bar (drawn once the first candidate is scored) and what the summary line needs."""

    def __init__(self, config: SearchConfig, budget: int, out: str | None):
        self.config, self.budget, self.out = config, budget, out
        self.bar = None
        self.nfe_spent, self.candidates, self.verifier_seconds = 0, 0, 0.0
        self.best_id, self.best_score = None, None
        self.summary: Summary | None = None   # the engine's, once the run has ended (`ended`)
        self.started = time.perf_counter()

    def ended(self, summary: Summary) -> None:
        """The engine's summary, however the run ended (an interrupt yields no SearchDone)."""
        self.summary = summary

    def see(self, event) -> None:
        from tsearch.events import CandidateScored, RoundDone

        if isinstance(event, CandidateScored):
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=self.budget, unit="NFE", file=sys.stderr, dynamic_ncols=True)
            self.nfe_spent, self.candidates = event.nfe_spent, self.candidates + 1
            self.verifier_seconds += event.verifier_seconds
            self.bar.update(event.nfe_spent - self.bar.n)
            score = finite(event.score)
            self.bar.set_postfix(candidates=event.id + 1, score="-" if score is None else f"{score:.4g}")
        elif isinstance(event, RoundDone):
            self.nfe_spent = max(self.nfe_spent, event.nfe_spent)
            self.best_id, self.best_score = event.best_id, event.best_score

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def partial(self, stopped: bool, error: str) -> dict:
        """The summary line of a search that ended early: the engine's summary when it wrote one (its best covers
        the round the end cut), else what the search reported before it ended."""
        if self.summary is not None:
            return summary_line(dataclasses.replace(self.summary, stopped=stopped, error=error, run_dir=self._kept()))
        summary = Summary(self.config.model_name, self.config.algorithm, self.config.condition, self.budget,
                          self.nfe_spent, 0, self.candidates, self.best_id, self.best_score, (),
                          time.perf_counter() - self.started, self.verifier_seconds, stopped, self._kept(), error)
        return summary_line(summary)

    def _kept(self) -> str | None:
        return self.out if self.out is not None and (Path(self.out) / "run.json").is_file() else None

    def where(self) -> str:
        kept = self._kept()
        if kept is not None:
            return f"the partial run ({self.candidates} candidates) is kept in {kept}"
        if self.out is not None:
            return f"nothing was scored, so no run was kept in {self.out}"
        return f"{self.candidates} candidates were scored; no run folder was kept (give --out to keep one)"


# The summary line's fields, as earlier versions printed them (scripts read them): the summary's row, with the run
# folder under "out"
LINE_KEYS = ("nfe_spent", "budget", "best_score", "best_id", "candidates", "seconds", "final_nfe",
             "verifier_seconds", "out", "stopped", "error")


def summary_line(summary: Summary) -> dict:
    """The last stdout line of `run`: the summary's row (`Summary.to_row`), its times in ms, the folder as "out"."""
    row = {**summary.to_row(), "out": summary.run_dir}
    row["seconds"], row["verifier_seconds"] = round(row["seconds"], 3), round(row["verifier_seconds"], 3)
    return {key: row[key] for key in LINE_KEYS}
