"""Train the `shapes-parts` segmenter on rendered scenes: per pixel, background or (colour, shape).

The detector half of a GenEval-style verifier (Ghosh et al. 2023) for the shapes world. Scenes are
random sets of 1-5 objects (any shapes, any colours, any place), not captions, so nothing here is
drawn from the arena's hard split or the benchmarks' caption draws; every scene comes from
np.random.default_rng([27_000, seed, worker step]) (a seed sequence no benchmark draws with). The
renderer's labels are the training targets here and nowhere else: the verifier never reads them.

So that the generator's images look familiar, each scene is degraded the way they differ from
renders: dimmer and off-hue colours per object, a blur of up to 1.3 px, a lit background, pixel
noise. A share of the batch is junk (noise, blobs) labelled all background, so noise finds nothing.

    python -m tsearch.worlds.shapes.train_parts --threads 1 --minutes 28 --out assets/shapes/parts

Stops at --steps or --minutes, whichever comes first, and saves to --out every ~10% and at the end
(parts.safetensors in fp16, parts.json, train_log.json with held-out pixel and object accuracy).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter

from tsearch.worlds.shapes import parts_model
from tsearch.worlds.shapes.grammar import COLORS, SHAPES
from tsearch.worlds.shapes.parts_model import PartsConfig, PartsNet, class_of
from tsearch.worlds.shapes.render import BORDER, GAP, IMAGE_SIZE, RGB, Obj, overlaps, shape_mask

SEED_BASE = 27_000          # every training scene's seed sequence starts with it (no benchmark's does)
TRAIN_SIZES = (6, 7, 8, 9, 10, 11, 12)   # the renderer's 7-11 and one either side
JUNK_KINDS = ("noise", "dark_noise", "uniform", "blobs")
HELD_OUT_STEP = 2**31   # the held-out scenes take this step number, beyond any run's steps


@dataclass
class TrainConfig:
    steps: int = 100_000        # cap; --minutes usually stops first
    minutes: float = 25.0
    batch_size: int = 32
    junk_fraction: float = 0.06  # images of junk labelled all background
    background_weight: float = 0.5  # background pixels are ~85% of all; halve their loss
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    eval_scenes: int = 400
    seed: int = 0


def random_objects(rng: np.random.Generator) -> list[Obj]:
    """1-5 non-overlapping objects of random shape, colour and size (a scene, not a caption)."""
    count = int(rng.integers(1, 6))
    for _ in range(100):
        placed: list[Obj] = []
        for _ in range(count):
            size = int(rng.choice(TRAIN_SIZES if count <= 2 else TRAIN_SIZES[:4]))
            span = IMAGE_SIZE - 2 * BORDER - size + 1
            for _ in range(32):
                x, y = BORDER + rng.integers(span, size=2)
                candidate = Obj(SHAPES[rng.integers(3)], COLORS[rng.integers(4)], int(x), int(y), size)
                if not any(overlaps(candidate, other, gap=int(rng.integers(1, GAP + 1))) for other in placed):
                    placed.append(candidate)
                    break
        if len(placed) == count:
            return placed
    return placed


def scene_and_labels(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A degraded render float32 [32, 32, 3] in [0, 1] and its class labels int64 [32, 32]."""
    image = np.zeros((IMAGE_SIZE, IMAGE_SIZE, 3), np.float32)
    labels = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.int64)
    for obj in random_objects(rng):
        mask = shape_mask(obj.shape, obj.size)
        base = np.asarray(RGB[obj.color], np.float32) / 255
        colour = base * rng.uniform(0.6, 1.0) + (1 - base) * rng.uniform(0, 0.3, 3)   # dimmer, off-hue
        window = (slice(obj.y, obj.y + obj.size), slice(obj.x, obj.x + obj.size))
        image[window][mask] = colour
        labels[window][mask] = class_of(obj.color, obj.shape)
    if rng.random() < 0.8:
        image = gaussian_filter(image, sigma=(rng.uniform(0.3, 1.3),) * 2 + (0,), mode="constant")
    image += rng.uniform(0, 0.08)                                    # a lit background
    image += rng.normal(0, rng.uniform(0, 0.1), image.shape)         # pixel noise
    return np.clip(image, 0, 1).astype(np.float32), labels


def batch(rng: np.random.Generator, size: int, junk_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Images float32 [b, 3, 32, 32] in [0, 1] and labels int64 [b, 32, 32]."""
    from tsearch.worlds.shapes.data import junk_images

    images, labels = zip(*(scene_and_labels(rng) for _ in range(size)))
    images, labels = np.stack(images), np.stack(labels)
    junk = np.flatnonzero(rng.random(size) < junk_fraction)
    for i in junk:
        images[i] = junk_images(1, rng, JUNK_KINDS[rng.integers(len(JUNK_KINDS))])[0] / 255.0
        labels[i] = 0
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels)


@torch.no_grad()
def held_out(net: PartsNet, scenes: int, seed: int) -> dict:
    """Pixel accuracy on objects and on background, over scenes from a seed sequence training never uses."""
    net.eval()
    images, labels = batch(np.random.default_rng([SEED_BASE, seed, HELD_OUT_STEP]), scenes, 0.0)
    predicted = net(images).argmax(1)
    objects = labels > 0
    out = {"scenes": scenes, "object_pixel_accuracy": float((predicted[objects] == labels[objects]).float().mean()),
           "background_pixel_accuracy": float((predicted[~objects] == 0).float().mean())}
    net.train()
    return out


def train(config: TrainConfig, out: str | Path, net_config: PartsConfig = PartsConfig(), command: str = "") -> dict:
    torch.manual_seed(config.seed)
    net = PartsNet(net_config)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    weight = torch.ones(net_config.classes)
    weight[0] = config.background_weight
    print(f"shapes-parts: {sum(p.numel() for p in net.parameters()):,} parameters, batch {config.batch_size}, "
          f"{torch.get_num_threads()} threads", flush=True)
    log = {"train": asdict(config), "net": asdict(net_config), "seed_sequence": [SEED_BASE, config.seed, "step"],
           "command": command or TRAIN_COMMAND, "progress": []}
    start, budget = time.time(), config.minutes * 60
    step, loss_value, next_report = 0, None, 0.1
    net.train()
    while True:
        progress = max(step / config.steps, (time.time() - start) / budget)
        if progress >= 1:
            break
        lr = config.lr * min(1.0, (step + 1) / config.warmup_steps) * 0.5 * (1 + math.cos(math.pi * progress))
        for group in optimizer.param_groups:
            group["lr"] = lr
        images, labels = batch(np.random.default_rng([SEED_BASE, config.seed, step]), config.batch_size, config.junk_fraction)
        loss = F.cross_entropy(net(images), labels, weight=weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step, loss_value = step + 1, float(loss.item())
        if progress >= next_report:
            next_report = math.floor(progress * 10 + 1) / 10
            elapsed = time.time() - start
            print(f"step {step} loss {loss_value:.4f} lr {lr:.2e} {elapsed:.0f}s", flush=True)
            log["progress"].append({"step": step, "loss": loss_value, "seconds": round(elapsed, 1)})
            _save(net, out, log, step, loss_value, elapsed)   # a killed run still leaves weights
    seconds = time.time() - start
    log["held_out"] = held_out(net, config.eval_scenes, config.seed)
    net.eval()
    _save(net, out, log, step, loss_value, seconds)
    print(f"trained {step} steps in {seconds:.0f}s, final loss {loss_value}; held out {log['held_out']}; saved to {out}")
    return log


def _save(net, out, log, step, loss, seconds) -> None:
    log.update(steps=step, final_loss=loss, seconds=round(seconds, 1), threads=torch.get_num_threads())
    parts_model.save(net, out, extra={"train_log": "train_log.json"})
    (Path(out) / "train_log.json").write_text(json.dumps(log, indent=2))


TRAIN_COMMAND = "python -m tsearch.worlds.shapes.train_parts --threads 1 --minutes 28 --out assets/shapes/parts"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=TrainConfig.minutes)
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--out", required=True)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--width", type=int, default=PartsConfig.width, help="channels at full resolution")
    parser.add_argument("--eval-scenes", type=int, default=TrainConfig.eval_scenes)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = leave torch's default)")
    args = parser.parse_args(argv)
    for name in ("minutes", "steps", "batch_size", "width", "eval_scenes"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainConfig(steps=args.steps, minutes=args.minutes, batch_size=args.batch_size,
                         eval_scenes=args.eval_scenes, seed=args.seed)
    argv = sys.argv[1:] if argv is None else argv
    train(config, args.out, PartsConfig(width=args.width), "python -m tsearch.worlds.shapes.train_parts " + " ".join(argv))


if __name__ == "__main__":
    main()
