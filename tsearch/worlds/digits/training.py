"""What the digits world's training scripts share: the command line, the time/step budget, the log.

Every script runs as `python -m tsearch.worlds.digits.<script> --device D --minutes M --out DIR`
(plus --steps, --batch-size, --seed, --threads); it stops at whichever comes first, the step cap or
M minutes of wall time, and always saves what it has to --out, so a timed-out run leaves usable
weights. Defaults differ by device (a GPU takes far larger batches), so each script passes its own.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class Defaults:
    """One script's defaults on one kind of device."""
    steps: int
    batch_size: int
    minutes: float


def parse_args(
    description: str, cpu: Defaults, cuda: Defaults, argv: list[str] | None = None, default_seed: int = 0
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--out", required=True, type=Path, help="folder to write the weights and train_log.json to")
    parser.add_argument("--minutes", type=float, default=None, help="wall-clock cap (default depends on the device)")
    parser.add_argument("--steps", type=int, default=None, help="step cap (default depends on the device)")
    parser.add_argument("--batch-size", type=int, default=None, help="default depends on the device")
    parser.add_argument("--seed", type=int, default=default_seed)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's own)")
    args = parser.parse_args(argv)
    defaults = cuda if args.device.startswith("cuda") else cpu
    args.minutes = defaults.minutes if args.minutes is None else args.minutes
    args.steps = defaults.steps if args.steps is None else args.steps
    args.batch_size = defaults.batch_size if args.batch_size is None else args.batch_size
    for name in ("minutes", "steps", "batch_size"):
        if getattr(args, name) <= 0:
            raise SystemExit(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda was asked for but torch sees no CUDA device; use --device cpu")
    if args.threads:
        torch.set_num_threads(args.threads)
    return args


class Budget:
    """Stops training at `steps` or `minutes`, and prints a progress line about every 10% of either."""

    def __init__(self, steps: int, minutes: float, name: str) -> None:
        self.steps, self.seconds, self.name = steps, minutes * 60.0, name
        self.start = time.monotonic()
        self.step = 0
        self._reported = 0  # tenths of the budget already reported

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def running(self) -> bool:
        return self.step < self.steps and self.elapsed < self.seconds

    @property
    def progress(self) -> float:
        """The fraction of the budget spent, by steps or by time, whichever is further along."""
        return min(max(self.step / self.steps, self.elapsed / self.seconds), 1.0)

    def tick(self, loss: float) -> None:
        """Call once after every optimiser step with its loss."""
        self.step += 1
        tenths = int(self.progress * 10 + 1e-9)
        if tenths > self._reported or not self.running():
            print(f"[{self.name}] step {self.step}/{self.steps}  loss {loss:.4f}  {self.elapsed:.0f}s", flush=True)
            self._reported = tenths


def write_log(out: Path, **fields) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_log.json").write_text(json.dumps(fields, indent=2) + "\n")


def lr_at(budget: Budget, peak: float, warmup: int = 100) -> float:
    """Linear warm-up over `warmup` steps, then cosine decay to 10% of the peak over the budget.

    The decay follows `budget.progress`, so a run capped by minutes rather than steps still
    anneals before it stops.
    """
    if budget.step < warmup:
        return peak * (budget.step + 1) / warmup
    return peak * (0.1 + 0.45 * (1 + math.cos(math.pi * budget.progress)))
