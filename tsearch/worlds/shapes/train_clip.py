"""Train the shapes world's tiny CLIP contrastively, with hard negatives on both sides.

CLIP's symmetric InfoNCE loss (Radford et al. 2021, fig. 3) over (render, caption) pairs, with
three changes that matter for search:
- each image also sees k contradicting captions (swapped colours, swapped relation, wrong count,
  wrong shape; as in NegCLIP, Yuksekgonul et al. 2023): they join the image->text softmax, and a
  second term asks the true caption to beat exactly those k;
- each batch carries a "twin" render per pair, drawn for a caption that contradicts it both ways,
  and a third term asks each caption to prefer its own image over its twin's. That is best-of-N's
  own question: which of several images fits this caption;
- a text that may be true of an image (a repeated caption, "a circle" for a red circle beside a
  square) is never used as its negative (hard_negatives.possibly_true_matrix).

    python -m tsearch.worlds.shapes.train_clip --device cuda --minutes 8 --out runs/shapes_clip

Stops at --steps or --minutes, whichever comes first, and saves to --out every ~10% and at the end
(fp16 safetensors in open_clip's local-dir format plus shapes_clip.json and train_log.json), then
prints the held-out caption accuracy table (eval_clip.py). Ship it by copying --out to
assets/shapes/clip/.
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

from tsearch.worlds.shapes import clip_model, eval_clip
from tsearch.worlds.shapes import hard_negatives
from tsearch.worlds.shapes.clip_model import ClipConfig


@dataclass
class TrainConfig:
    steps: int = 100_000          # cap; --minutes usually stops first
    minutes: float = 8.0
    batch_size: int = 0           # 0 = 512 on cuda, 32 on cpu
    negatives: int = 3            # contradicting captions per image
    hard_weight: float = 1.0      # weight of the two hard terms (own k captions; own vs twin image)
    degrade_fraction: float = 0.1  # images degraded (noise/blur) so generator artefacts look familiar;
                                   # kept small: the quality head reads this embedding and needs to
                                   # see noise and blur in it
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 200
    holdout_fraction: float = 0.1  # of position and colour-attribution captions, never trained on
    eval_per_category: int = 0     # 0 = 250 on cuda, 8 on cpu
    workers: int = -1              # data-loader processes; -1 = 6 on cuda, 0 on cpu
    seed: int = 0


def held_out_captions(fraction: float, seed: int = 1234) -> list[str]:
    """A fixed subset of the position and colour-attribution captions, kept out of training.

    Only these two categories have enough captions (24 and 72) to hold some out and still teach
    every word; the held-out ones measure compositional generalisation.
    """
    rng = np.random.default_rng(seed)
    held = []
    for category in ("position", "color_attr"):
        captions = eval_clip.all_captions(category)
        count = int(round(fraction * len(captions)))
        held += [captions[i] for i in sorted(rng.choice(len(captions), count, replace=False))]
    return held


class PairStream(torch.utils.data.IterableDataset):
    """Endless batches from one rng per worker: (images uint8 [2b,32,32,3], captions [2b], negatives [2b][k]).

    Rows b..2b-1 are twins: row b+i renders a contradicting caption of row i chosen so that each
    caption is false for the other's image, which gives the text->image direction a hard negative.
    """

    def __init__(self, batch_size: int, negatives: int, degrade_fraction: float, exclude: list[str], seed: int):
        self.batch_size, self.negatives, self.degrade_fraction = batch_size, negatives, degrade_fraction
        self.exclude, self.seed = set(exclude), seed

    def __iter__(self):
        from tsearch.worlds.shapes import data
        from tsearch.worlds.shapes.render import render

        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, info.id if info else 0])
        b = self.batch_size
        while True:
            images, captions = [], []
            while len(captions) < b:
                more, texts = data.sample_pairs(b, rng)
                keep = [i for i, text in enumerate(texts) if text not in self.exclude]
                images.append(more[keep])
                captions += [texts[i] for i in keep]
            images = np.concatenate([np.concatenate(images)[:b], np.zeros_like(images[0][:1].repeat(b, 0))])
            captions = captions[:b]
            negatives = [data.contradicting_captions(text, rng, k=self.negatives) for text in captions]
            for i, text in enumerate(captions[:b]):
                twin = hard_negatives.twin(text, rng, negatives[i], self.exclude)
                render(data.sample_scene(twin, rng), out=images[b + i])  # into a black image
                captions.append(twin)
            negatives += [data.contradicting_captions(text, rng, k=self.negatives) for text in captions[b:]]
            # only kinds that keep the caption true (an erased object would make it a lie)
            kinds = rng.choice(len(SAFE_DEGRADATIONS) + 1, size=len(images),
                               p=[self.degrade_fraction / 2] * 2 + [1 - self.degrade_fraction])
            for j, kind in enumerate(SAFE_DEGRADATIONS):
                if (kinds == j).any():
                    images[kinds == j] = data.degrade(images[kinds == j], rng, kind=kind)
            yield torch.from_numpy(images), captions, negatives


SAFE_DEGRADATIONS = ("noise", "blur")


def contrastive_loss(model: clip_model.ShapesClip, images: torch.Tensor, captions: list[str],
                     negatives: list[list[str]], hard_weight: float) -> torch.Tensor:
    """Symmetric InfoNCE with hard negatives; a text that may be true of an image is not its negative.

    images [n] pair with captions [n]; rows n/2.. are the twins of rows ..n/2 (see PairStream).
    """
    texts = captions + [t for row in negatives for t in row]
    scale = model.clip.logit_scale.exp().clamp(max=100)
    logits = scale * model.encode_images(images) @ model.encode_texts(texts).T   # [n, n + n*k]
    return loss_from_logits(logits, captions, negatives, hard_weight)


def loss_from_logits(logits: torch.Tensor, captions: list[str], negatives: list[list[str]],
                     hard_weight: float) -> torch.Tensor:
    """The loss of `contrastive_loss` given its image-text logits [n, n + n*k]
    (columns: the n captions, then each row's k negatives in order)."""
    n, k = len(captions), len(negatives[0])
    texts = captions + [t for row in negatives for t in row]
    device = logits.device
    index, possibly_true = hard_negatives.possibly_true_matrix()
    caption_ids = torch.tensor([index[t] for t in captions])
    text_ids = torch.tensor([index[t] for t in texts])
    maybe = possibly_true[text_ids[None, :], caption_ids[:, None]].to(device)  # text j may be true of image i
    own = torch.eye(n, n + n * k, dtype=torch.bool, device=device)             # image i's own caption
    target = torch.arange(n, device=device)
    image_to_text = F.cross_entropy(logits.masked_fill(maybe & ~own, float("-inf")), target)
    text_to_image = F.cross_entropy(logits[:, :n].T.masked_fill((maybe[:, :n] & ~own[:, :n]).T, float("-inf")), target)
    # the true caption against exactly its own k contradictions (column 0 is the true one)
    rows = torch.arange(n, device=device)
    own_negatives = logits.gather(1, n + rows[:, None] * k + torch.arange(k, device=device))
    hard_text = F.cross_entropy(torch.cat([logits[rows, rows][:, None], own_negatives], 1),
                                torch.zeros(n, dtype=torch.long, device=device))
    # each caption against its twin's image (the twin's caption is false of it, and vice versa)
    twin = (rows + n // 2) % n
    hard_image = F.cross_entropy(torch.stack([logits[rows, rows], logits[twin, rows]], 1),
                                 torch.zeros(n, dtype=torch.long, device=device))
    return (image_to_text + text_to_image) / 2 + hard_weight * (hard_text + hard_image) / 2


def train(config: TrainConfig, clip_config: ClipConfig, out: str | Path, device: str = "cpu") -> dict:
    torch.manual_seed(config.seed)
    cuda = device.startswith("cuda")
    batch = config.batch_size or (512 if cuda else 32)
    workers = config.workers if config.workers >= 0 else (6 if cuda else 0)
    held = held_out_captions(config.holdout_fraction)
    model = clip_model.build(clip_config, eval_clip.all_captions()).to(device)  # negatives are grammar captions too
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": rest, "weight_decay": 0.0}], lr=config.lr)
    stream = PairStream(batch, config.negatives, config.degrade_fraction, held, config.seed)
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=workers,
                                         persistent_workers=workers > 0, prefetch_factor=4 if workers else None)
    print(f"shapes-clip: {sum(p.numel() for p in model.parameters()):,} parameters, batch {batch}, "
          f"{config.negatives} negatives, {workers} workers, {len(held)} held-out captions, device {device}")
    start, budget = time.time(), config.minutes * 60
    step, loss_value, next_report = 0, float("nan"), 0.1
    log = {"train": asdict(config), "batch_size": batch, "held_out_captions": held, "progress": []}
    model.train()
    for images, captions, negatives in loader:
        progress = max(step / config.steps, (time.time() - start) / budget)
        if progress >= 1:
            break
        lr = config.lr * min(1.0, (step + 1) / config.warmup_steps) * 0.5 * (1 + math.cos(math.pi * progress))
        for group in optimizer.param_groups:
            group["lr"] = lr
        x = images.to(device, non_blocking=True).permute(0, 3, 1, 2).float() / 255
        loss = contrastive_loss(model, x, captions, negatives, config.hard_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step, loss_value = step + 1, loss.item()
        if progress >= next_report:
            next_report = math.floor(progress * 10 + 1) / 10
            elapsed = time.time() - start
            print(f"step {step} loss {loss_value:.4f} lr {lr:.2e} {elapsed:.0f}s", flush=True)
            log["progress"].append({"step": step, "loss": loss_value, "seconds": round(elapsed, 1)})
            _save(model, out, log, step, loss_value, time.time() - start)  # a killed run still leaves weights
    seconds = time.time() - start
    model.eval()
    _save(model, out, log, step, loss_value, seconds)
    per_category = config.eval_per_category or (250 if cuda else 8)
    log["eval"] = eval_clip.caption_accuracy(model, per_category, held, np.random.default_rng(10_000 + config.seed))
    _save(model, out, log, step, loss_value, seconds)
    print(f"trained {step} steps in {seconds:.0f}s, final loss {loss_value:.4f}; saved to {out}")
    print(eval_clip.format_table(log["eval"]))
    return log


def _save(model, out, log, step, loss, seconds) -> None:
    log.update(steps=step, final_loss=loss, seconds=round(seconds, 1))
    model.save(out, extra={"train_log": "train_log.json"})
    (Path(out) / "train_log.json").write_text(json.dumps(log, indent=2))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--minutes", type=float, default=TrainConfig.minutes)
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--batch-size", type=int, default=0, help="0 = 512 on cuda, 32 on cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = leave torch's default)")
    parser.add_argument("--workers", type=int, default=-1, help="data processes (-1 = 6 on cuda, 0 on cpu)")
    parser.add_argument("--eval-per-category", type=int, default=0, help="0 = 250 on cuda, 8 on cpu")
    parser.add_argument("--degrade-fraction", type=float, default=TrainConfig.degrade_fraction,
                        help="share of training images given noise or blur (the caption stays true)")
    parser.add_argument("--holdout", type=float, default=TrainConfig.holdout_fraction,
                        help="fraction of position/colour-attribution captions never trained on")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainConfig(steps=args.steps, minutes=args.minutes, batch_size=args.batch_size, seed=args.seed,
                         workers=args.workers, eval_per_category=args.eval_per_category,
                         holdout_fraction=args.holdout, degrade_fraction=args.degrade_fraction)
    train(config, ClipConfig(), args.out, args.device)


if __name__ == "__main__":
    main()
