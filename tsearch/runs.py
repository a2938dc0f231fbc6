"""A run on disk (DESIGN.md): run.json, candidates.jsonl, images/, best.png.

Written as candidates arrive so that a process killed at any moment leaves a run that loads:
whole files are replaced atomically (write to a temporary name, then rename), and
candidates.jsonl is appended one flushed line at a time; a torn last line is ignored on load.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

RUN_FORMAT = 1


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _save_image(image, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(fd)
    image.save(tmp, format="PNG")
    os.replace(tmp, path)


def versions() -> dict:
    import torch

    import tsearch

    return {"tsearch": tsearch.__version__, "torch": torch.__version__, "python": platform.python_version()}


class RunWriter:
    def __init__(self, root: str | os.PathLike, config: dict):
        self.root = Path(root)
        if (self.root / "run.json").exists():
            raise ValueError(f"{self.root} already holds a run; choose another --out folder so nothing is overwritten")
        (self.root / "images").mkdir(parents=True, exist_ok=True)
        self.config = config
        self._write_meta(summary=None)
        self._lines = open(self.root / "candidates.jsonl", "a", encoding="utf-8")

    def _write_meta(self, summary: dict | None) -> None:
        meta = {"format": RUN_FORMAT, "config": self.config, "versions": versions(), "summary": summary}
        _atomic_write(self.root / "run.json", json.dumps(meta, indent=2).encode())

    def image_path(self, candidate_id: int) -> Path:
        return self.root / "images" / f"{candidate_id:06d}.png"

    def add(self, row: dict, image=None) -> str | None:
        path = None
        if image is not None:
            path = self.image_path(row["id"])
            _save_image(image, path)
        self._lines.write(json.dumps(row) + "\n")
        self._lines.flush()
        return str(path) if path else None

    def set_best(self, image, name: str = "best.png") -> str:
        _save_image(image, self.root / name)
        return str(self.root / name)

    def finish(self, summary: dict) -> None:
        self._lines.close()
        self._write_meta(summary)

    def close(self) -> None:
        if not self._lines.closed:
            self._lines.close()


@dataclass
class Run:
    root: Path
    config: dict
    versions: dict
    summary: dict | None
    candidates: list[dict] = field(default_factory=list)

    def image(self, candidate_id: int):
        from PIL import Image

        return Image.open(self.root / "images" / f"{candidate_id:06d}.png")

    def candidate(self, candidate_id: int) -> dict:
        for row in self.candidates:
            if row["id"] == candidate_id:
                return row
        raise KeyError(f"run {self.root} has no candidate {candidate_id}")


def load_run(root: str | os.PathLike) -> Run:
    root = Path(root)
    if not (root / "run.json").exists():
        raise ValueError(f"{root} is not a tsearch run: it has no run.json")
    meta = json.loads((root / "run.json").read_text())
    rows = []
    path = root / "candidates.jsonl"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line torn by a kill mid-write: everything before it is intact
    return Run(root, meta["config"], meta.get("versions", {}), meta.get("summary"), rows)
