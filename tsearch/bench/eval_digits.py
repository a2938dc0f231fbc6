"""Measure a digits generator with no search: verifier accuracy, IS and FID analogues.

    python -m tsearch.bench.eval_digits [--path assets/digits/generator] [--per-class 36]

Draws `per_class` samples of every digit from fixed seeds (Gaussian seed = 1000 * digit + i),
denoises them with the model's default steps and solver, and prints one JSON line: the share the
`digits-classifier` verifier labels as the asked digit, the mean target logit, the IS and FID
analogues (`metrics`), and the same metrics for the held-out real digits for reference. With
36 per class the sample count matches the 360 held-out digits, so the FIDs are comparable.
"""

from __future__ import annotations

import argparse
import time

import torch

from tsearch import jsonio, noise
from tsearch.recipes import denoise
from tsearch.models.digits import build
from tsearch.verifiers.digits_classifier import build as build_classifier
from tsearch.worlds.digits import metrics
from tsearch.worlds.digits.data import NUM_CLASSES, load_split


def sample_all(model, per_class: int, steps: int | None = None, batch: int = 64,
               solver: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(images [10 * per_class, 3, H, W], labels) from fixed seeds, no search."""
    images, labels = [], []
    sigmas = model.sigmas(steps or model.default_steps)
    for digit in range(NUM_CLASSES):
        cond = model.encode(digit)
        x = torch.stack([noise.gaussian(model.noise_shape, 1000 * digit + i) for i in range(per_class)])
        for start in range(0, per_class, batch):
            images.append(model.decode(denoise(model, cond, x[start:start + batch].to(model.device), sigmas, solver)).cpu())
        labels.append(torch.full((per_class,), digit))
    return torch.cat(images), torch.cat(labels)


def evaluate(path=None, per_class: int = 36, guidance: float = 1.0, steps: int | None = None, device: str = "cpu") -> dict:
    model = build(device=device, path=path, guidance=guidance)
    classifier = build_classifier(device=device)
    start = time.monotonic()
    images, labels = sample_all(model, per_class, steps)
    seconds = time.monotonic() - start
    logits = classifier.logits(images)
    real, real_labels = load_split("test")
    real_logits = classifier.logits(real)
    return {
        "samples": len(labels),
        "steps": steps or model.default_steps,
        "guidance": guidance,
        "sampling_seconds": round(seconds, 1),
        "verifier_accuracy": (logits.argmax(1) == labels).float().mean().item(),
        "mean_target_logit": logits.gather(1, labels[:, None]).mean().item(),
        "inception_score": metrics.inception_score(images),
        "fid": metrics.fid(images),
        "real_heldout": {
            "verifier_accuracy": (real_logits.argmax(1) == real_labels).float().mean().item(),
            "mean_target_logit": real_logits.gather(1, real_labels[:, None]).mean().item(),
            "inception_score": metrics.inception_score(real),
        },
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default=None, help="generator folder (default assets/digits/generator)")
    parser.add_argument("--per-class", type=int, default=36)
    parser.add_argument("--guidance", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = evaluate(args.path, args.per_class, args.guidance, args.steps, args.device)
    print(jsonio.dumps(result))
    return result


if __name__ == "__main__":
    main()
