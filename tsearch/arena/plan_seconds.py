"""The planner's seconds: each (model, steps)'s seconds per candidate and each verifier's per image, timed
interleaved in one warm process (DIR/seconds.json; `--retime` times them again).

A pooled cell's own seconds were measured over hours on a machine whose load may drift, and a pooled cell
scores every verifier of the grid; so the seconds axis comes from here instead: `reps` rounds, each timing
one 16-candidate random search of every setting and one of every verifier in turn, and the median of the
rounds. A setting's figure is what a search pays beside its verifiers (denoising, decoding, the engine's
own work); a verifier's is its time per image. Both are this machine's, at the torch thread count given.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from tsearch import jsonio

BATCH = 16
CONDITION = "a circle to the left of a square"


def measure(grid, verifiers: list[str], device: str, reps: int = 3, threads: int | None = None) -> dict:
    """{"settings": {name: seconds per candidate}, "verifiers": {name: seconds per image}, "device": ...}."""
    import torch

    from tsearch.api import search

    if threads:
        torch.set_num_threads(threads)

    def one(setting, verifier: str):
        s = search(model=setting.model, condition=CONDITION, verifiers=[verifier], evaluators=[],
                   algorithm="random", budget=BATCH * setting.nfe, steps=setting.steps, solver=setting.solver,
                   batch_size=BATCH, device=device).summary
        return (s.seconds - s.verifier_seconds) / s.candidates, s.verifier_seconds / s.candidates

    cheapest = min(grid, key=lambda s: s.flops)
    for setting in {s.model: s for s in grid}.values():   # warm-up: load each model, count its FLOPs
        one(setting, verifiers[0])
    own: dict = {s.name: [] for s in grid}
    per_image: dict = {v: [] for v in verifiers}
    for _ in range(reps):
        for setting in grid:
            own[setting.name].append(one(setting, verifiers[0])[0])
        for verifier in verifiers:
            per_image[verifier].append(one(cheapest, verifier)[1])
    return {"settings": {k: statistics.median(v) for k, v in own.items()},
            "verifiers": {k: statistics.median(v) for k, v in per_image.items()},
            "reps": reps, "batch": BATCH, "device": describe(device, torch.get_num_threads())}


def describe(device: str, threads: int) -> str:
    """The device the seconds were timed on (its processor or GPU, the CPU's capability) and the thread count."""
    import torch

    from tsearch.sweep.device_note import hardware

    return f"{device} ({hardware(device)}, {torch.backends.cpu.get_cpu_capability()}), {threads} torch thread(s)"


def load_or_measure(path: Path, grid, verifiers: list[str], device: str, retime: bool, threads=None,
                    reps: int = 3) -> dict:
    """DIR/seconds.json when it holds every setting and verifier (and not --retime), else timed now and written."""
    try:
        known = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = None
    if known and not retime and all(s.name in known.get("settings", {}) for s in grid) \
            and all(v in known.get("verifiers", {}) for v in verifiers):
        return known
    timed = measure(grid, verifiers, device, reps, threads)
    path.write_text(jsonio.dumps(timed, indent=1, sort_keys=True), encoding="utf-8")
    return timed
