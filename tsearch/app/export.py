"""Export a run folder as a zip, and load a zip (or folder) back into the app's view of a run.

A zip comes from a visitor, so unpacking is bounded: its size on disk, its file count, its
compression ratio (zip bombs), the size of its candidates.jsonl (which is read into memory), and
paths that would leave the folder. A refused zip leaves nothing behind, and each session keeps one
loaded run at a time: loading another removes the one before.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from tsearch.app.runs_root import ZIP_SUFFIX, new_run_dir, runs_root
from tsearch.app.state import LiveRun
from tsearch.runs import load_run

MAX_ZIP_BYTES = 64 * 1024 * 1024           # the upload itself (gradio's max_file_size says the same)
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024     # refuse archives that would unpack to more than this
MAX_CANDIDATES_BYTES = 16 * 1024 * 1024    # candidates.jsonl is read whole: about 50,000 candidates
MAX_RATIO = 200                            # unpacked / packed size of any one member
MAX_FILES = 100_000


def export_zip(run_dir: str, out_dir: str | Path | None = None) -> Path:
    """run.json, candidates.jsonl, rounds.jsonl, images/ and best/final PNGs of a run, zipped beside it."""
    root = Path(run_dir)
    if not (root / "run.json").exists():
        raise ValueError(f"{root} is not a tsearch run (no run.json); run a search first")
    target = Path(out_dir or root.parent) / f"{root.name}{ZIP_SUFFIX}"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                archive.write(path, path.relative_to(root).as_posix())
    return target


def _check(archive: zipfile.ZipFile) -> Path:
    """The folder inside the zip that holds the run; ValueError when the zip is not one safe run."""
    infos = archive.infolist()
    if len(infos) > MAX_FILES:
        raise ValueError(f"this zip holds {len(infos)} files, more than a run export ({MAX_FILES})")
    if sum(i.file_size for i in infos) > MAX_UNZIPPED_BYTES:
        raise ValueError(f"this zip would unpack to more than {MAX_UNZIPPED_BYTES >> 20} MB; it is not a run export")
    for info in infos:
        name = Path(info.filename)
        if name.is_absolute() or ".." in name.parts:
            raise ValueError(f"refusing to unpack {info.filename!r}: paths in a run export stay inside the run")
        if info.file_size > MAX_RATIO * max(info.compress_size, 1) and info.file_size > 1 << 20:
            raise ValueError(f"refusing to unpack {info.filename!r}: it is compressed {info.file_size // max(info.compress_size, 1)}"
                             f"-fold, like a zip bomb")
    folders = [i.filename for i in infos if "run.json" in Path(i.filename).parts[:-1] or
               (i.is_dir() and Path(i.filename).name == "run.json")]
    if folders:
        raise ValueError(f"this zip holds a folder named run.json ({folders[0]!r}); in a run export run.json is a "
                         f"file: export the run again from the app")
    runs = sorted({Path(i.filename).parent for i in infos if Path(i.filename).name == "run.json"}, key=str)
    if not runs:
        raise ValueError("this zip holds no run.json: it is not a tsearch run export")
    if len(runs) > 1:
        raise ValueError(f"this zip holds {len(runs)} runs ({', '.join(str(r) for r in runs[:3])}): "
                         "load one run per zip")
    top = runs[0]
    if len(top.parts) > 1:
        raise ValueError("the run.json in this zip is nested too deep: export the run again from the app")
    rows = [i for i in infos if Path(i.filename) == top / "candidates.jsonl"]
    if rows and rows[0].file_size > MAX_CANDIDATES_BYTES:
        raise ValueError(f"this run's candidates.jsonl is {rows[0].file_size >> 20} MB, more than the app loads "
                         f"({MAX_CANDIDATES_BYTES >> 20} MB); open it with tsearch.runs.load_run instead")
    return top


def unpack(zip_path: str | Path) -> Path:
    """Unpack an exported run into a fresh folder; the run may sit at the top or in one subfolder."""
    path = Path(zip_path)
    if path.stat().st_size > MAX_ZIP_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_ZIP_BYTES >> 20} MB: too large to be a run export")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"cannot open {path.name} as a zip file ({error}); export a run with the Export button") from None
    with archive:
        top = _check(archive)
        dest = new_run_dir("loaded")
        try:
            archive.extractall(dest)
        except (OSError, zipfile.BadZipFile, RuntimeError) as error:
            shutil.rmtree(dest, ignore_errors=True)
            raise ValueError(f"cannot unpack {path.name}: {error}") from None
    return dest / top


def load_live(path: str | Path, previous: str | None = None) -> LiveRun:
    """A saved run (a folder, or a zip from Export) as the app shows it.

    `previous` is this session's earlier loaded run, whose unpacked folder goes once the new one loads."""
    path = Path(path)
    root = unpack(path) if path.is_file() else path
    try:
        run = load_run(root)
        too_large(run.config)
        live = LiveRun.from_run(run)
    except ValueError:
        if path.is_file() and _unpacked_folder(root) is not None:
            shutil.rmtree(_unpacked_folder(root), ignore_errors=True)
        raise
    old = _unpacked_folder(Path(previous)) if previous else None
    if old is not None and old != _unpacked_folder(root):
        shutil.rmtree(old, ignore_errors=True)
    return live


def too_large(config) -> None:
    """ValueError naming a stored setting whose number is too large even to read (a float overflows past 2^1024);
    each setting's own range is checked later, by name, as a typed value's is. O(1): its bit length."""
    for name, value in (config.items() if isinstance(config, dict) else ()):
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
            raise ValueError(f"{name}: the run's value is a {value.bit_length()}-bit number, far out of its range")


def discard_loaded(run_dir: str | Path) -> None:
    """Remove the folder a loaded zip was unpacked into (never a run the app did not unpack)."""
    folder = _unpacked_folder(Path(run_dir))
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _unpacked_folder(root: Path) -> Path | None:
    """The folder `unpack` made for this run (the run, or its parent for a zip with a subfolder); None otherwise."""
    base = runs_root().resolve()
    for folder in (root, root.parent):
        if folder.resolve().parent == base and "-loaded-" in folder.name:
            return folder
    return None
