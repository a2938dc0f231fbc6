"""The fingerprint of the code that computes a sweep cell's numbers, recorded on each result line.

A cell's key hashes its settings, not the code: a resumed sweep reuses a line computed by an older tsearch
whose numerics may differ (bf16 batches composed otherwise, a changed default that its settings do not name).
The arena found all 48 of one method's best scores changed between two versions. The fingerprint is a hash of
the source of the packages that compute a result (engine, search, models, worlds, verifiers and the
sampling modules), so a resumed sweep can say how many reused lines another code computed.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

NUMERIC = ("engine", "search", "models", "worlds", "verifiers", "sampling.py", "noise.py", "recipes.py",
           "config.py", "options.py")


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """12 hex digits over the source files of NUMERIC, in sorted order of their paths."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for name in NUMERIC:
        path = root / name
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def other_code(rows: dict[str, dict], keys) -> int:
    """How many of `keys` have a result line computed by other code (or by code from before lines carried it)."""
    here = code_fingerprint()
    return sum(1 for key in keys if key in rows and rows[key].get("code") != here)


def stale_note(count: int, reused: int) -> str:
    return (f"note: {count} of the {reused} result line(s) reused were computed by other tsearch code than this "
            f"(their 'code' differs from {code_fingerprint()}); their numbers may differ from a rerun's. To rerun "
            f"them, use a new --out or delete their lines from results.jsonl.")
