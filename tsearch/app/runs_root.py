"""Where the app writes its runs, and the clean-up of old ones.

Runs go under $TSEARCH_APP_RUNS (else a folder in the system temp dir). Each folder the app makes
holds a marker file, and the clean-up removes only marked folders (and the app's own export zips)
older than KEEP_RUNS_SECONDS: never anything a person put there. It runs at most once per
CLEANUP_EVERY_SECONDS, in one thread at a time, and an entry that vanishes under it (another
process cleaning the same root) is simply skipped.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

KEEP_RUNS_SECONDS = 24 * 3600   # run folders older than this are removed
CLEANUP_EVERY_SECONDS = 3600    # how often the clean-up may look
MARKER = ".tsearch-app-run"     # written into every folder the app makes
ZIP_SUFFIX = ".tsearch.zip"     # the app's exports

_lock = threading.Lock()
_last_cleanup: dict[str, float] = {}


def runs_root() -> Path:
    """$TSEARCH_APP_RUNS (else tsearch-app in the system temp dir); ValueError naming the variable when it is a file."""
    root = Path(os.environ.get("TSEARCH_APP_RUNS", "").strip() or Path(tempfile.gettempdir()) / "tsearch-app")
    if root.exists() and not root.is_dir():
        raise ValueError(f"$TSEARCH_APP_RUNS: {str(root)!r} is a file, not a folder; point it at a folder the app "
                         f"may write, or unset it for the system temp dir")
    return root


def _is_ours(path: Path) -> bool:
    from tsearch.runfolder import STAGE_SUFFIX

    try:
        if path.is_dir():   # a run folder the app made, or one a kill left half-built under its hidden name
            return (path / MARKER).is_file() or (path.name.startswith(".") and path.name.endswith(STAGE_SUFFIX))
        return path.name.endswith(ZIP_SUFFIX)
    except OSError:
        return False


def cleanup(root: Path | None = None, now: float | None = None, force: bool = False) -> int:
    """Remove the app's own runs and exports older than KEEP_RUNS_SECONDS; returns how many went."""
    root = root or runs_root()
    now = time.time() if now is None else now
    if not _lock.acquire(blocking=False):
        return 0   # another thread is cleaning right now
    try:
        key = str(root)
        if not force and now - _last_cleanup.get(key, 0.0) < CLEANUP_EVERY_SECONDS:
            return 0
        _last_cleanup[key] = now
        removed = 0
        try:
            entries = list(root.iterdir())
        except OSError:
            return 0
        for entry in entries:
            try:
                old = entry.stat().st_mtime < now - KEEP_RUNS_SECONDS
            except OSError:   # gone already, or unreadable: not ours to worry about
                continue
            if old and _is_ours(entry):
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                removed += 1
        return removed
    finally:
        _lock.release()


def new_run_dir(label: str = "run") -> Path:
    """A fresh, marked folder name under the runs root (the folder itself is made by the run writer)."""
    root = runs_root()
    root.mkdir(parents=True, exist_ok=True)
    cleanup(root)
    path = root / f"{time.strftime('%Y%m%d-%H%M%S')}-{label}-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    (path / MARKER).touch()
    return path
