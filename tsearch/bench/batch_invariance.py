"""Speed of batch-invariant evaluation (models.invariant): `python -m tsearch.bench.batch_invariance`.

One denoiser evaluation of a batch of `--batch` samples for the bundled models, on one thread,
with the network run as it comes (micro_batch None, the code before the fix) and in fixed chunks
of each candidate size; the variants are interleaved within each repeat so that load from other
processes falls on all of them alike. Prints the median milliseconds and the ratio to None.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tsearch.bench.batch_invariance")
    parser.add_argument("--models", default="shapes,digits")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--sizes", default="1,2,4,8,16", help="micro-batch sizes to compare with none")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from tsearch import noise
    from tsearch.models import load_model

    variants = [None] + [int(s) for s in args.sizes.split(",")]
    for name in args.models.split(","):
        model = load_model(name)
        default = model.micro_batch
        cond = model.encode("a red circle and a blue square" if model.conditioning == "text" else 3)
        x = torch.stack([noise.gaussian(model.noise_shape, seed) for seed in range(args.batch)])
        sigma = model.sigma_at(0.5)
        times: dict = {v: [] for v in variants}
        for repeat in range(args.repeats + 1):  # the first round warms up and is not counted
            for v in variants:
                model.micro_batch = v
                start = time.perf_counter()
                model.forward_x0(x, cond, sigma)
                if repeat:
                    times[v].append(time.perf_counter() - start)
        model.micro_batch = default
        base = statistics.median(times[None])
        for v in variants:
            ms = statistics.median(times[v])
            mark = "  (the model's default)" if v == default else ""
            print(f"{name} batch {args.batch} micro_batch {str(v):>4}: {1000 * ms:8.1f} ms  x{ms / base:.3f}{mark}",
                  flush=True)


if __name__ == "__main__":
    main()
