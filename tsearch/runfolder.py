"""A run folder's first moment: it becomes visible only with its run.json in it (issue 21).

`make_run_dir` builds a new folder under a hidden sibling name (.NAME.XXXXXXXX.partial) and `publish`
renames it into place once run.json is written, so a process killed at any moment leaves either no
folder or one that loads; what a kill leaves under the hidden name is for the app's clean-up (runs_root).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

STAGE_SUFFIX = ".partial"        # a run being created: .NAME.XXXXXXXX.partial beside it, renamed once run.json is in


def make_run_dir(path: Path) -> tuple[Path, Path | None]:
    """(the run's folder, the hidden sibling it is built in first, or None to build it in place).

    A new folder (or one holding only hidden files, such as the app's marker) is built under a hidden name
    and renamed into place once run.json is in it, so a kill at any moment leaves no folder without one;
    a folder that already holds files of its own is written in place."""
    stage = None
    try:
        if not path.exists() or all(p.name.startswith(".") for p in path.iterdir()):
            path.parent.mkdir(parents=True, exist_ok=True)
            stage = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}{STAGE_SUFFIX}"
            stage.mkdir()
        build = stage or path
        (build / "images").mkdir(parents=True, exist_ok=True)
        tempfile.NamedTemporaryFile(dir=build, prefix=".probe.").close()
    except OSError as error:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
        raise ValueError(f"out folder {path}: cannot write there ({error.strerror or error}); "
                         f"choose another folder") from None
    return path, stage


def publish(stage: Path, path: Path) -> None:
    """Rename the built folder into place: over nothing, or over a folder of hidden files (carried over)."""
    if path.exists():
        for entry in path.iterdir():
            if entry.name.startswith("."):
                os.replace(entry, stage / entry.name)
    os.replace(stage, path)   # atomic; replaces an empty folder
