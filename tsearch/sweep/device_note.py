"""Where a sweep's seconds were measured, as `tsearch report`, the arena and the verifier ladder print it.

'cpu (AMD EPYC 7B13), 1 torch thread(s) per search, backend ray': the cells' device(s) with this machine's
processor (a CUDA device: its GPU's name), and the torch thread count of a cell's run (its run.json).
"""

from __future__ import annotations

import platform
from pathlib import Path


def note(root: str | Path, rows: list[dict], devices: list[str] | None = None, where: str | None = None) -> str:
    """The device note of these result lines: `devices` (default: the lines' configs'), the processor, the
    torch threads of the first run that recorded them, then `where` (e.g. 'backend local')."""
    devices = devices or sorted({str((row.get("config") or {}).get("device") or "cpu") for row in rows}) or ["cpu"]
    shown = ", ".join(f"{device} ({hardware(device)})" for device in devices)
    return f"{shown}, {threads(root, rows) or '?'} torch thread(s) per search" + (f", {where}" if where else "")


def threads(root: str | Path, rows: list[dict]) -> int | None:
    """The torch thread count the first of `rows` whose run folder loads recorded (`tsearch.runs.Run`)."""
    from tsearch.runs import load_run

    for row in rows:
        if not row.get("run_dir"):
            continue
        try:
            return load_run(Path(root) / row["run_dir"]).torch_threads
        except (OSError, ValueError):
            continue
    return None


def hardware(device: str) -> str:
    """The GPU's name for a visible CUDA device, else this machine's processor."""
    if str(device).startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(torch.device(device).index or 0)
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine() or "unknown processor"
