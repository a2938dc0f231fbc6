"""Train the shapes quality head: clean renders vs degraded copies, on the frozen CLIP image embedding.

Each batch holds b clean renders and a degraded copy of each (noise, blur, row jitter, colour
smear or an erased patch; data.degrade), labelled 1 and 0; the head never sees the caption
(the aesthetic predictor's set-up). Needs a trained shapes CLIP (train_clip.py).

    python -m tsearch.worlds.shapes.train_quality --clip runs/shapes_clip --device cuda --minutes 1.5 --out runs/shapes_quality

Stops at --steps or --minutes, saves to --out every ~10% and at the end (head.safetensors fp16,
quality.json, train_log.json) and prints held-out accuracy per degradation. Ship it by copying
--out to assets/shapes/quality/ beside assets/shapes/clip/ (the verifier finds the CLIP there).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tsearch.worlds.shapes import clip_model, quality_head
from tsearch.worlds.shapes.quality_head import HeadConfig, QualityHead


@dataclass
class QualityConfig:
    steps: int = 100_000      # cap; --minutes usually stops first
    minutes: float = 1.5
    batch_size: int = 0       # clean renders per batch (as many degraded); 0 = 512 on cuda, 32 on cpu
    lr: float = 2e-3
    weight_decay: float = 0.01
    eval_per_kind: int = 0    # held-out clean/degraded pairs per degradation; 0 = 500 on cuda, 8 on cpu
    workers: int = -1         # data-loader processes; -1 = 4 on cuda, 0 on cpu
    seed: int = 0


class CleanDegradedStream(torch.utils.data.IterableDataset):
    """Endless (images uint8 [2b,32,32,3], labels [2b]): b clean renders, then a degraded copy of each."""

    def __init__(self, batch_size: int, seed: int):
        self.batch_size, self.seed = batch_size, seed

    def __iter__(self):
        from tsearch.worlds.shapes import data

        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, 7, info.id if info else 0])
        labels = torch.cat([torch.ones(self.batch_size), torch.zeros(self.batch_size)])
        while True:
            clean, _ = data.sample_pairs(self.batch_size, rng)
            yield torch.from_numpy(np.concatenate([clean, data.degrade(clean, rng)])), labels


@torch.no_grad()
def embed(clip: clip_model.ShapesClip, images: torch.Tensor, device: str) -> torch.Tensor:
    return clip.encode_images(images.to(device).permute(0, 3, 1, 2).float() / 255)


@torch.no_grad()
def held_out_accuracy(head: QualityHead, clip, per_kind: int, rng: np.random.Generator, device: str) -> dict:
    """Accuracy of "clean if logit > 0" on fresh renders, per degradation kind (clean half included)."""
    from tsearch.worlds.shapes import data

    head.eval()
    results = {}
    for kind in data.DEGRADATIONS:
        clean, _ = data.sample_pairs(per_kind, rng)
        logits = head(embed(clip, torch.from_numpy(np.concatenate([clean, data.degrade(clean, rng, kind=kind)])), device))
        right = torch.cat([logits[:per_kind] > 0, logits[per_kind:] <= 0]).float()
        results[kind] = {"accuracy": right.mean().item(), "clean_accuracy": right[:per_kind].mean().item(),
                         "degraded_accuracy": right[per_kind:].mean().item(), "n": 2 * per_kind}
    results["overall"] = {"accuracy": float(np.mean([r["accuracy"] for r in results.values()])),
                          "n": sum(r["n"] for r in results.values())}
    return results


def train(config: QualityConfig, clip_folder: str | Path, out: str | Path, device: str = "cpu") -> dict:
    torch.manual_seed(config.seed)
    cuda = device.startswith("cuda")
    batch = config.batch_size or (512 if cuda else 32)
    workers = config.workers if config.workers >= 0 else (4 if cuda else 0)
    clip = clip_model.load(clip_folder, device=device)
    head = QualityHead(HeadConfig(embed_dim=clip.config.embed_dim)).to(device)
    optimizer = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loader = torch.utils.data.DataLoader(CleanDegradedStream(batch, config.seed), batch_size=None,
                                         num_workers=workers, persistent_workers=workers > 0,
                                         prefetch_factor=4 if workers else None)
    print(f"shapes-quality: head of {sum(p.numel() for p in head.parameters()):,} parameters on {clip_folder}, "
          f"batch {batch} clean + {batch} degraded, {workers} workers, device {device}")
    start, budget = time.time(), config.minutes * 60
    step, loss_value, next_report = 0, float("nan"), 0.1
    log = {"train": asdict(config), "batch_size": batch, "progress": []}
    for images, labels in loader:
        progress = max(step / config.steps, (time.time() - start) / budget)
        if progress >= 1:
            break
        for group in optimizer.param_groups:
            group["lr"] = config.lr * 0.5 * (1 + math.cos(math.pi * progress))
        head.train()
        loss = F.binary_cross_entropy_with_logits(head(embed(clip, images, device)), labels.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step, loss_value = step + 1, loss.item()
        if progress >= next_report:
            next_report = math.floor(progress * 10 + 1) / 10
            elapsed = time.time() - start
            print(f"step {step} loss {loss_value:.4f} {elapsed:.0f}s", flush=True)
            log["progress"].append({"step": step, "loss": loss_value, "seconds": round(elapsed, 1)})
            _save(head, out, clip_folder, log, step, loss_value, elapsed)  # a killed run still leaves weights
    seconds = time.time() - start
    per_kind = config.eval_per_kind or (500 if cuda else 8)
    log["eval"] = held_out_accuracy(head, clip, per_kind, np.random.default_rng(30_000 + config.seed), device)
    _save(head, out, clip_folder, log, step, loss_value, seconds)
    print(f"trained {step} steps in {seconds:.0f}s, final loss {loss_value:.4f}; saved to {out}")
    for kind, row in log["eval"].items():
        print(f"{kind:8s} held-out accuracy {row['accuracy']:.3f} (n={row['n']})")
    return log


def _save(head, out, clip_folder, log, step, loss, seconds) -> None:
    log.update(steps=step, final_loss=loss, seconds=round(seconds, 1))
    quality_head.save(head, out, clip_folder, extra={"train_log": "train_log.json"})
    (Path(out) / "train_log.json").write_text(json.dumps(log, indent=2))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", required=True, help="folder written by train_clip")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--minutes", type=float, default=QualityConfig.minutes)
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=QualityConfig.steps)
    parser.add_argument("--batch-size", type=int, default=0, help="0 = 512 on cuda, 32 on cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = leave torch's default)")
    parser.add_argument("--workers", type=int, default=-1, help="data processes (-1 = 4 on cuda, 0 on cpu)")
    parser.add_argument("--eval-per-kind", type=int, default=0, help="0 = 500 on cuda, 8 on cpu")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = QualityConfig(steps=args.steps, minutes=args.minutes, batch_size=args.batch_size, seed=args.seed,
                           workers=args.workers, eval_per_kind=args.eval_per_kind)
    train(config, args.clip, args.out, args.device)


if __name__ == "__main__":
    main()
