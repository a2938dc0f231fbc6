"""A run on disk (DESIGN.md): run.json, candidates.jsonl, rounds.jsonl, images/, best.png.

Written as candidates arrive so that a process killed at any moment leaves a run that loads: a new
run folder appears only with its run.json (built under a hidden name, then renamed), whole files are
replaced atomically (write to a temporary name, then rename), and the .jsonl files
are appended one flushed line at a time; a torn last line is ignored on load. Every line is strict
JSON. `rounds.jsonl` records the algorithm's best after each round, so a loaded run shows the same
best-so-far curve as the live one without deriving it again.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from tsearch import jsonio
from tsearch.candidate import Candidate
from tsearch.runfolder import make_run_dir, publish

RUN_FORMAT = 2
MAX_ROW_BYTES = 1 << 20          # a longer candidates.jsonl line is not a tsearch row


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

    from tsearch.version import __version__

    return {"tsearch": __version__, "torch": torch.__version__, "python": platform.python_version()}


def check_out(root: str | os.PathLike) -> Path:
    """ValueError naming the out folder when a new run cannot be written there; creates nothing."""
    if not isinstance(root, (str, os.PathLike)) or not str(root).strip():
        raise ValueError(f"out must be a folder path (a string), got {root!r}")
    path = Path(root)
    if (path / "run.json").exists():
        raise ValueError(f"out folder {path} already holds a run; choose another folder so nothing is overwritten")
    for parent in [path, *path.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"out folder {path}: {parent} is a file, not a folder; choose a folder for the run")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ValueError(f"out folder {path}: {parent} is not writable here; choose a folder you can write")
            break
    return path


class RunWriter:
    def __init__(self, root: str | os.PathLike, config: dict, extra: dict | None = None):
        final, stage = make_run_dir(check_out(root))
        self.root = stage or final
        self.config, self.extra = config, dict(extra or {})
        self._write_meta(summary=None)
        self._lines = open(self.root / "candidates.jsonl", "a", encoding="utf-8")
        self._rounds = open(self.root / "rounds.jsonl", "a", encoding="utf-8")
        if stage is not None:
            try:
                publish(stage, final)
            except OSError as error:
                self.close()
                shutil.rmtree(stage, ignore_errors=True)
                raise ValueError(f"out folder {final}: cannot create it ({error.strerror or error}); "
                                 f"choose another folder") from None
        self.root = final   # open files follow the rename

    def _write_meta(self, summary: dict | None) -> None:
        meta = {"format": RUN_FORMAT, "config": self.config, **self.extra, "versions": versions(), "summary": summary}
        _atomic_write(self.root / "run.json", jsonio.dumps(meta, indent=2).encode())

    def image_path(self, candidate_id: int) -> Path:
        return self.root / "images" / f"{candidate_id:06d}.png"

    def add(self, candidate: Candidate, image=None) -> Candidate:
        """Write one candidate (its image first, then its line); returns it with its image path."""
        if image is not None:
            path = self.image_path(candidate.id)
            _save_image(image, path)
            candidate = replace(candidate, image_path=str(path))
        self._lines.write(jsonio.dumps(candidate.to_row()) + "\n")
        self._lines.flush()
        return candidate

    def add_round(self, number: int, nfe_spent: int, candidates: int, best: tuple[int, float] | None) -> None:
        row = {"round": number, "nfe_spent": nfe_spent, "candidates": candidates,
               "best_id": best[0] if best else None, "best_score": best[1] if best else None}
        self._rounds.write(jsonio.dumps(row) + "\n")
        self._rounds.flush()

    def set_best(self, image, name: str = "best.png") -> str:
        _save_image(image, self.root / name)
        return str(self.root / name)

    def finish(self, summary: dict, keep_empty: bool = True) -> None:
        """Write the summary; a run that failed before scoring anything leaves no folder behind."""
        self.close()
        if not keep_empty:
            for name in ("run.json", "candidates.jsonl", "rounds.jsonl"):
                (self.root / name).unlink(missing_ok=True)
            shutil.rmtree(self.root / "images", ignore_errors=True)
            if not [p for p in self.root.iterdir() if not p.name.startswith(".")]:
                shutil.rmtree(self.root, ignore_errors=True)   # nothing of anyone else's was there
            return
        self._write_meta(summary)

    def close(self) -> None:
        for handle in (self._lines, self._rounds):
            if not handle.closed:
                handle.close()


@dataclass
class Run:
    root: Path
    config: dict
    versions: dict
    summary: dict | None
    candidates: list[Candidate] = field(default_factory=list)
    rounds: list[dict] = field(default_factory=list)     # the algorithm's best after each round
    skipped: int = 0                                     # malformed lines passed over on load
    torch_threads: int | None = None                     # CPU threads the run used (exact regeneration)
    skipped_why: str = ""                                # how many candidates.jsonl rows were skipped and why

    def image(self, candidate_id: int):
        from PIL import Image

        return Image.open(self.root / "images" / f"{candidate_id:06d}.png")

    def candidate(self, candidate_id: int) -> Candidate:
        for row in self.candidates:
            if row.id == candidate_id:
                return row
        ids = [c.id for c in self.candidates]
        span = f"ids {min(ids)}..{max(ids)}" if ids else "no candidates"
        raise ValueError(f"run {self.root} has no candidate {candidate_id} (it has {span})")


def read_jsonl(path: Path, max_bytes: int = MAX_ROW_BYTES, reasons: dict | None = None) -> tuple[list[dict], int]:
    """The JSON objects of a .jsonl file, one per line; a torn or malformed line is passed over, and counted
    (in `reasons` too when given: why -> count)."""
    good, bad = [], 0

    def skip(why: str) -> None:
        nonlocal bad
        bad += 1
        if reasons is not None:
            reasons[why] = reasons.get(why, 0) + 1

    if not path.exists():
        return good, bad
    with open(path, "rb") as handle:
        for raw in handle:
            if len(raw) > max_bytes:
                skip(f"longer than {max_bytes >> 10} KB")
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                skip("not valid JSON (torn by a kill mid-write, or damaged)")   # the lines after it still load
                continue
            if isinstance(value, dict):
                good.append(value)
            else:
                skip("not a JSON object")
    return good, bad


def skipped_note(reasons: dict) -> str:
    """'N row(s) of candidates.jsonl skipped: 2 not valid JSON (...); 1 not a candidate (...)', or ''."""
    if not reasons:
        return ""
    parts = "; ".join(f"{count} {why}" for why, count in reasons.items())
    return f"{sum(reasons.values())} row(s) of candidates.jsonl skipped: {parts}"


def load_run(root: str | os.PathLike) -> Run:
    """A saved run; ValueError with a message a user can act on when it is not one."""
    root = Path(root)
    path = root / "run.json"
    if not path.is_file():
        raise ValueError(f"{root} is not a tsearch run: it has no run.json")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}); it is damaged or not a tsearch run.json") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise ValueError(f"{path} has no \"config\" object: it is not a tsearch run.json")
    summary = meta.get("summary")
    if summary is not None and not isinstance(summary, dict):
        raise ValueError(f"{path}: \"summary\" must be an object or null")
    reasons: dict[str, int] = {}
    rows, skipped = read_jsonl(root / "candidates.jsonl", reasons=reasons)
    candidates, first = [], None
    for row in rows:
        image = root / "images" / f"{row.get('id', -1):06d}.png" if isinstance(row.get("id"), int) else None
        try:
            candidates.append(Candidate.from_row(row, str(image) if image is not None and image.exists() else None))
        except ValueError as error:
            skipped += 1
            first = first or " ".join(str(error).split())[:200]
            why = f"not a candidate row (e.g. {first})"
            reasons[why] = reasons.get(why, 0) + 1
    rounds, bad_rounds = read_jsonl(root / "rounds.jsonl")
    versions_ = meta.get("versions") if isinstance(meta.get("versions"), dict) else {}
    threads = meta.get("torch_threads")
    threads = threads if isinstance(threads, int) and not isinstance(threads, bool) and threads > 0 else None
    return Run(root, meta["config"], versions_, summary, candidates, rounds, skipped + bad_rounds, threads,
               skipped_note(reasons))
