"""Train the shapes generator: rectified flow with caption dropout for classifier-free guidance.

    python -m tsearch.worlds.shapes.train_generator --device cuda --minutes 6 --out DIR [--size small]

Loss (Esser et al. 2024, SD3 eq. 3 with logit-normal t, sec. 3.1): E || v(x_t, t, c) - (e - x0) ||^2,
x_t = (1 - t) x0 + t e, t = sigmoid(n), n ~ N(0, 1). The caption is replaced by the empty one with
probability 0.1 so the same network also learns the null condition (Ho & Salimans 2022). Weights
are averaged by EMA; the EMA weights are what is saved. Scene/caption pairs are rendered on the
fly (`tsearch.worlds.shapes.data`), in data-loader workers on a GPU. Training stops at --steps or
--minutes, whichever comes first, and always saves to --out (plus snapshots at 10/25/50/75% of the
budget under --out/snapshots/, for picking a checkpoint by the quality bar).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import signal
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from tsearch.worlds.shapes import data, grammar
from tsearch.worlds.shapes.generator import NULL_CAPTION, UNetConfig, new_generator
from tsearch.worlds.shapes.text_encoder import CaptionTokenizer, vocabulary


# model sizes, chosen by their FLOPs per NFE (python -m tsearch.bench flops; tsearch.flops): the teacher's UNet,
# and one at a quarter of its FLOPs per NFE (230.7 against 904.6 MFLOPs per pass, 1.03M against 3.96M UNet parameters)
SIZES = {"base": UNetConfig(), "small": UNetConfig(channels=(16, 32, 64))}


@dataclass
class TrainConfig:
    device: str = "cpu"
    minutes: float = 60.0        # wall-clock budget; the run saves and stops when it is spent
    steps: int = 100_000         # step cap (whichever comes first)
    batch_size: int = 0          # 0: 256 on cuda, 32 on cpu
    lr: float = 1e-3             # AdamW peak; the CPU trial's value at batch 32, not scaled up for larger batches
    warmup: int = 200            # linear warm-up steps, then cosine to 10% of lr over the budget
    ema: float = 0.999           # EMA decay (ramped up as min(ema, (1 + k) / (10 + k)))
    dropout: float = 0.1         # probability of the null caption (classifier-free guidance)
    seed: int = 0
    threads: int = 1             # torch CPU threads of the main process
    workers: int = -1            # data-loader processes; -1: 4 on cuda, 0 on cpu
    out: str = "assets/shapes/generator"
    size: str = "base"           # a key of SIZES: the UNet's widths


class Pairs(torch.utils.data.IterableDataset):
    """An endless stream of batches (images [-1, 1], token rows), rendered with a per-worker seed."""

    def __init__(self, batch_size: int, vocab: list[int], context_length: int, dropout: float, seed: int):
        self.batch_size, self.vocab, self.context_length = batch_size, vocab, context_length
        self.dropout, self.seed = dropout, seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker = info.id if info is not None else 0
        rng = np.random.default_rng([self.seed, worker])
        tokenize = CaptionTokenizer(self.vocab, self.context_length)
        while True:
            images, captions = data.sample_pairs(self.batch_size, rng)
            captions = [NULL_CAPTION if rng.random() < self.dropout else c for c in captions]
            yield data.to_tensor(images).float(), tokenize(captions)


def learning_rate(config: TrainConfig, lr: float, step: int, progress: float) -> float:
    """Linear warm-up, then cosine decay to 10% over the budget (progress in [0, 1] of steps or time)."""
    if step < config.warmup:
        return lr * (step + 1) / config.warmup
    return lr * (0.1 + 0.45 * (1 + math.cos(math.pi * min(progress, 1.0))))


def train(config: TrainConfig) -> dict:
    launched = time.time()  # the --minutes budget covers set-up and the final save too
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    cuda = config.device.startswith("cuda")
    batch = config.batch_size or (256 if cuda else 32)
    lr = config.lr
    workers = config.workers if config.workers >= 0 else (4 if cuda else 0)

    # every token any caption of the grammar can produce, plus the grammar's own words
    rng = np.random.default_rng(config.seed)
    vocab = vocabulary([grammar.random_caption(rng, c) for c in grammar.CATEGORIES for _ in range(200)])
    if config.size not in SIZES:
        raise ValueError(f"size: choose one of {', '.join(SIZES)}, got {config.size!r}")
    model = new_generator(vocab, SIZES[config.size]).to(config.device).train()
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    ema_params, model_params = list(ema.parameters()), list(model.parameters())
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, fused=cuda)
    torch.backends.cudnn.benchmark = cuda  # fixed shapes: let cuDNN pick its fastest kernels
    stream = torch.utils.data.DataLoader(
        Pairs(batch, vocab, model.text_encoder.config.context_length, config.dropout, config.seed),
        batch_size=None, num_workers=workers, pin_memory=cuda,
        persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None,
    )
    print(f"shapes generator: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, "
          f"batch {batch}, lr {lr:.2g}, {config.device}, {workers} data workers", flush=True)

    batches = iter(stream)  # starts the data workers before the handler, so they keep the default
    stop = {"signal": False}  # SIGTERM (a job's time limit) ends the loop and still saves
    signal.signal(signal.SIGTERM, lambda *_: stop.update(signal=True))
    # training time: the budget less set-up so far and a reserve for writing the weights
    seconds = max(1.0, config.minutes * 60.0 - (time.time() - launched) - min(15.0, 0.05 * config.minutes * 60.0))
    start, step, losses = time.time(), 0, []
    next_report, snapshots = 0.1, [0.1, 0.25, 0.5, 0.75]
    for images, rows in batches:
        elapsed = time.time() - start
        progress = max(step / config.steps, elapsed / seconds)
        if step >= config.steps or elapsed >= seconds or stop["signal"]:
            break
        if snapshots and progress >= snapshots[0]:
            if step >= 100:  # tiny runs (tests) keep only the final weights
                save(ema, os.path.join(config.out, "snapshots", f"step_{step:06d}"), config, step, elapsed, losses)
            snapshots.pop(0)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, lr, step, progress)
        x0 = images.to(config.device, non_blocking=True)
        rows = rows.to(config.device, non_blocking=True)
        e = torch.randn_like(x0)
        t = torch.sigmoid(torch.randn(x0.shape[0], device=config.device))  # logit-normal t
        tb = t.view(-1, 1, 1, 1)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            states, pooled = model.text_encoder(rows)
            v = model.velocity((1 - tb) * x0 + tb * e, t, states, pooled)
        loss = torch.nn.functional.mse_loss(v.float(), e - x0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        decay = min(config.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, model_params, 1 - decay)
        losses.append(loss.item() if step % 10 == 0 or step < 10 else losses[-1])
        step += 1
        if progress >= next_report:
            print(f"step {step} loss {np.mean(losses[-100:]):.4f} lr {optimizer.param_groups[0]['lr']:.2e} "
                  f"elapsed {time.time() - start:.0f}s", flush=True)
            next_report += 0.1
    log = save(ema, config.out, config, step, time.time() - start, losses)
    print(f"saved {config.out}: {json.dumps(log)}", flush=True)
    return log


def save(ema, folder: str, config: TrainConfig, step: int, seconds: float, losses: list[float]) -> dict:
    log = {
        "steps": step, "seconds": round(seconds, 1), "seconds_per_step": round(seconds / max(step, 1), 4),
        "final_loss": round(float(np.mean(losses[-100:])), 5) if losses else None,
        "config": asdict(config),
    }
    ema.save(folder, meta={"training": log})
    with open(os.path.join(folder, "train_log.json"), "w") as f:
        json.dump(log, f, indent=1)
    return log


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=0, help="0: 256 on cuda, 32 on cpu")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=-1, help="data-loader processes; -1: 4 on cuda, 0 on cpu")
    parser.add_argument("--out", default="assets/shapes/generator")
    parser.add_argument("--size", default="base", choices=sorted(SIZES),
                        help="the UNet's widths: base (the teacher) or small (a quarter of its FLOPs per NFE)")
    args = parser.parse_args(argv)
    return train(TrainConfig(
        device=args.device, minutes=args.minutes, steps=args.steps, batch_size=args.batch_size,
        lr=args.lr, seed=args.seed, threads=args.threads, workers=args.workers, out=args.out, size=args.size,
    ))


if __name__ == "__main__":
    main()
