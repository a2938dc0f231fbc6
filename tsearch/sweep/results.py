"""DIR/results.jsonl: one strict-JSON line per finished cell, appended by the driver only.

A line is written whole and flushed to disk before the next cell is counted done, so a driver
killed at any moment (kill -9 included) leaves at most one torn last line. Loading passes over it,
and opening the file for appending cuts it off first, so the next line starts clean. Rerunning a
sweep skips every key that has a line; a cell whose run folder exists without a line is run again
into a cleared folder. A lock on DIR/.lock keeps two drivers from writing one folder.

A line: {"key", "config" (SearchConfig.to_dict()), "metadata", "run_dir" (relative to DIR),
"summary" (best_score, scores and evals of the best by name, nfe_spent, seconds, candidates...)
or null, "error" (null, or why the cell failed), "code" (the fingerprint of the code that computed it,
tsearch.sweep.fingerprint; absent on lines from before it was recorded)}.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from tsearch import jsonio

RESULTS = "results.jsonl"
RUNS = "runs"
MAX_LINE_BYTES = 1 << 22


def read_rows(root: str | Path) -> tuple[list[dict], int]:
    """(rows, lines passed over) of DIR/results.jsonl; a torn or malformed line is passed over and counted."""
    from tsearch.runs import read_jsonl

    lines, bad = read_jsonl(Path(root) / RESULTS, MAX_LINE_BYTES)
    rows = [row for row in lines if isinstance(row.get("key"), str) and isinstance(row.get("config"), dict)]
    return rows, bad + len(lines) - len(rows)


def finished(root: str | Path) -> dict[str, dict]:
    """The result of every key with a line (the last line when a key appears twice)."""
    rows, _ = read_rows(root)
    return {row["key"]: row for row in rows}


class Results:
    """The append-only results file of one sweep folder, held by one driver at a time."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        try:
            (self.root / RUNS).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ValueError(f"cannot create the sweep folder {self.root}: {error.strerror or error}") from None
        self._lock = open(self.root / ".lock", "a")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise ValueError(f"another sweep is writing {self.root} (it holds {self.root / '.lock'}); "
                             f"wait for it or choose another --out") from None
        self.path = self.root / RESULTS
        _cut_torn_tail(self.path)
        self._handle = open(self.path, "a", encoding="utf-8")

    def done(self) -> dict[str, dict]:
        return finished(self.root)

    def run_dir(self, key: str) -> Path:
        return self.root / RUNS / key

    def append(self, row: dict) -> None:
        self._handle.write(jsonio.dumps(row, sort_keys=True) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def drop_failed(self) -> int:
        """Rewrite the file without its failed cells' lines (so they run again); returns how many went."""
        rows, _ = read_rows(self.root)
        keep = [row for row in rows if not row.get("error")]
        self._handle.close()
        tmp = self.path.with_name(f".{RESULTS}.tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.writelines(jsonio.dumps(row, sort_keys=True) + "\n" for row in keep)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        self._handle = open(self.path, "a", encoding="utf-8")
        return len(rows) - len(keep)

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()
        if not self._lock.closed:
            self._lock.close()   # closing releases the flock

    def __enter__(self) -> "Results":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _cut_torn_tail(path: Path) -> None:
    """Cut a last line that has no newline (a write torn by a kill), so appending starts on a fresh line."""
    if not path.exists():
        return
    with open(path, "rb+") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        # walk back to the last newline
        end, block = size, 1 << 16
        while end > 0:
            start = max(0, end - block)
            handle.seek(start)
            chunk = handle.read(end - start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                handle.truncate(start + cut + 1)
                return
            end = start
        handle.truncate(0)
