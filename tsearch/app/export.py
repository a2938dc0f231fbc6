"""Export a run folder as a zip, and load a zip (or folder) back into the app's view of a run."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tsearch.app.state import LiveRun, new_run_dir
from tsearch.runs import load_run

MAX_UNZIPPED_BYTES = 512 * 1024 * 1024   # refuse archives that would unpack to more than this
MAX_FILES = 200_000


def export_zip(run_dir: str, out_dir: str | Path | None = None) -> Path:
    """run.json, candidates.jsonl, images/ and best/final PNGs of a run, zipped beside it (or in out_dir)."""
    root = Path(run_dir)
    if not (root / "run.json").exists():
        raise ValueError(f"{root} is not a tsearch run (no run.json); run a search first")
    target = Path(out_dir or root.parent) / f"{root.name}.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                archive.write(path, path.relative_to(root).as_posix())
    return target


def _safe_extract(archive: zipfile.ZipFile, dest: Path) -> None:
    infos = archive.infolist()
    if len(infos) > MAX_FILES or sum(i.file_size for i in infos) > MAX_UNZIPPED_BYTES:
        raise ValueError("this zip is too large to be a tsearch run export")
    for info in infos:
        name = Path(info.filename)
        if name.is_absolute() or ".." in name.parts:
            raise ValueError(f"refusing to unpack {info.filename!r}: paths in a run export stay inside the run")
    archive.extractall(dest)


def unpack(zip_path: str | Path) -> Path:
    """Unpack an exported run into a fresh folder; the run may sit at the top or in one subfolder."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"cannot open {Path(zip_path).name} as a zip file ({error}); export a run with the Export button") from None
    dest = new_run_dir("loaded")
    dest.mkdir(parents=True)
    with archive:
        _safe_extract(archive, dest)
    if (dest / "run.json").exists():
        return dest
    inner = [p.parent for p in dest.glob("*/run.json")]
    if len(inner) == 1:
        return inner[0]
    raise ValueError("this zip holds no run.json: it is not a tsearch run export")


def load_live(path: str | Path) -> LiveRun:
    """A saved run (a folder, or a zip from Export) as the app shows it."""
    path = Path(path)
    root = unpack(path) if path.is_file() else path
    run = load_run(root)
    config, summary = run.config, run.summary or {}
    rows = []
    for row in run.candidates:
        image = root / "images" / f"{row['id']:06d}.png"
        rows.append({**row, "image_path": str(image) if image.exists() else None})
    live = LiveRun(run_dir=str(root), model=config.get("model", ""), condition=config.get("condition"),
                   algorithm=config.get("algorithm", ""), verifiers=tuple(config.get("verifiers", ())),
                   evaluators=tuple(config.get("evaluators", ())), budget=int(config.get("budget", 0)),
                   steps=int(config.get("steps", 0)), seed=int(config.get("seed", 0)), rows=rows)
    live.best_id, live.best_score = summary.get("best_id"), summary.get("best_score")
    if live.best_id is None and rows:  # a run cut off before its summary was written
        from tsearch.app.charts import best_curve

        curve = best_curve(live)
        if curve:
            live.best_id, live.best_score = curve[-1][3], curve[-1][1]
    live.nfe_spent = int(summary.get("nfe_spent") or (rows[-1]["nfe_spent"] if rows else 0))
    live.final_path = str(root / "final.png") if (root / "final.png").exists() else None
    live.seconds = float(summary.get("seconds") or 0.0)
    live.stopped = bool(summary.get("stopped", not summary))
    return live
