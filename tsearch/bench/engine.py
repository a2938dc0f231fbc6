"""`python -m tsearch.bench engine`: the engine against the naive loop peers use, on the same search.

The same random search (default 256 candidates, 20 Euler steps) runs four ways on one denoiser:
1. the engine: one prompt encoding, candidates verified in batches and denoised in chunks of the
   size its calibration measured fastest (tsearch.models.calibrate; measured in the warm-up, once);
2. the engine with calibration off: every batch denoised whole;
3. a naive loop: one candidate at a time, the prompt re-encoded for each (PEERS.md);
4. the bare batched denoiser calls alone (no engine), to show the engine's own overhead.
It prints the times, their ratios, the calibration and the overhead. Nothing here is a test: it only measures.
"""

from __future__ import annotations

import argparse
import time

import torch

from tsearch import engine, noise
from tsearch.api import prepare
from tsearch.bench.toy import ToyConvModel, ToyScorer
from tsearch.config import SearchConfig
from tsearch.models import calibrate
from tsearch.recipes import denoise
from tsearch.search import Costs


def _model(name: str, device: str, size: str = "full", options: dict | None = None):
    options = options or {}
    if name == "toy-conv":
        return ToyConvModel(device=device), "a photo of a red circle"
    if name.endswith("-random"):
        from tsearch.models.random_arch import build_random

        return build_random(name, device=device, size=size, **options), "a photo of a red circle"
    from tsearch.models import load_model

    model = load_model(name, device=device, **options)
    return model, ("a red circle" if model.conditioning == "text" else 3)


CLOCKS = {"wall": time.perf_counter, "process": time.process_time}   # process: CPU seconds of this process
_clock = CLOCKS["wall"]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


OVERLAP = {"auto": None, "on": True, "off": False}
_overlap = None   # engine.run's overlap: None = on for CUDA only


def engine_run(model, verifier, condition, n, steps, batch_size, device, chunked=True) -> float:
    costs = Costs(model.default_solver, model.nfe_per_eval)
    plan = prepare(SearchConfig(model=model, condition=condition, verifiers=(verifier,), algorithm="random",
                                options={"per_round": n}, budget=n * costs.full(steps), steps=steps,
                                batch_size=batch_size, device=device))
    _sync(device)
    start = _clock()
    for event in engine.run(plan, chunked=chunked, overlap=_overlap):
        done = event
    _sync(device)
    return _clock() - start, done.summary.verifier_seconds


def naive_run(model, verifier, condition, n, steps, device) -> float:
    """One candidate at a time, re-encoding the condition every time."""
    _sync(device)
    start = _clock()
    for i in range(n):
        cond = model.encode(condition)
        x = noise.gaussian(model.noise_shape, i)[None].to(device) * model.prior_scale
        x = denoise(model, cond, x, model.sigmas(steps))
        verifier.score(model.decode(x).float(), condition)
    _sync(device)
    return _clock() - start


def bare_run(model, condition, n, steps, batch_size, device) -> float:
    """Only the batched denoiser calls the engine makes, timed with nothing around them."""
    cond = model.encode(condition)
    x = torch.randn((batch_size, *model.noise_shape), device=device)
    sigmas = model.sigmas(steps)
    _sync(device)
    start = _clock()
    for i in range(0, n, batch_size):
        b = min(batch_size, n - i)
        for s in sigmas[:-1]:
            model.forward_x0(x[:b], cond, float(s))
    _sync(device)
    return _clock() - start


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m tsearch.bench engine", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="toy-conv", help="toy-conv (default), a registered model, or sd15-random / flux-random")
    parser.add_argument("--candidates", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--naive-candidates", type=int, default=None, help="time the naive loop on fewer candidates and scale (default: all)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1, help="time each way this many times, interleaved; report the fastest")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall (default), or process: this process's CPU seconds, steadier on a shared CPU (CPU only)")
    parser.add_argument("--overlap", choices=sorted(OVERLAP), default="auto",
                        help="decode and score batch i while batch i+1 is denoised (auto: on CUDA only)")
    parser.add_argument("--compile", nargs="?", const="inductor", default=None, metavar="BACKEND",
                        help="torch.compile the denoiser (diffusers models; default backend inductor)")
    parser.add_argument("--channels-last", action="store_true", help="NHWC UNet and VAE (diffusers models)")
    parser.add_argument("--size", choices=["full", "tiny"], default="full",
                        help="sd15-random / flux-random: the published sizes, or toy sizes for a CPU dry run")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = _parse(argv)
    global _clock, _overlap
    _clock, _overlap = CLOCKS[args.clock], OVERLAP[args.overlap]
    if args.threads:
        torch.set_num_threads(args.threads)
    speed = {**({"compile": args.compile} if args.compile else {}),
             **({"channels_last": True} if args.channels_last else {})}
    model, condition = _model(args.model, args.device, args.size, speed)
    verifier = ToyScorer(args.device)
    n, steps = args.candidates, args.steps
    naive_n = args.naive_candidates or n
    engine_run(model, verifier, condition, min(n, args.batch_size), 2, args.batch_size, args.device)  # warm-up, calibrates
    calibration = calibrate.calibrated(model, model.encode(condition), args.batch_size)   # what the warm-up measured
    runs, peaks = [], {}
    for _ in range(args.repeat):  # interleaved, so a busy moment of the machine hits every way alike
        runs.append((_peak(peaks, "engine", args.device, engine_run, model, verifier, condition, n, steps,
                           args.batch_size, args.device),
                     _peak(peaks, "bare", args.device, bare_run, model, condition, n, steps, args.batch_size,
                           args.device),
                     _peak(peaks, "naive", args.device, naive_run, model, verifier, condition, naive_n, steps,
                           args.device) * n / naive_n,
                     engine_run(model, verifier, condition, n, steps, args.batch_size, args.device, False)[0]))
    t_engine, t_verify = min(r[0] for r in runs)
    t_bare, t_naive, t_whole = min(r[1] for r in runs), min(r[2] for r in runs), min(r[3] for r in runs)
    _report(args, n, steps, naive_n, calibration, peaks, t_engine, t_verify, t_bare, t_naive, t_whole)

def _report(args, n, steps, naive_n, calibration, peaks, t_engine, t_verify, t_bare, t_naive, t_whole) -> None:
    """The figures, printed (times in seconds; the fastest of the interleaved runs)."""
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU ({torch.get_num_threads()} threads)"
    print(f"model {args.model} on {device_name}: random search, {n} candidates x {steps} steps, batch {args.batch_size}"
          + (f"; fastest of {args.repeat} interleaved runs" if args.repeat > 1 else "")
          + ("; times are this process's CPU seconds (the verifier's share stays wall-clock)"
             if args.clock == "process" else ""))
    print(f"engine (batched, prompt encoded once): {t_engine:8.2f} s  {n / t_engine:8.2f} candidates/s")
    scaled = f" (timed on {naive_n}, scaled)" if naive_n != n else ""
    print(f"naive loop (one at a time, re-encode):  {t_naive:8.2f} s  {n / t_naive:8.2f} candidates/s{scaled}")
    print(f"engine, calibration off (whole batches): {t_whole:8.2f} s  {n / t_whole:8.2f} candidates/s")
    print(f"speed-up of the engine over the naive loop: {t_naive / t_engine:.2f}x "
          f"(calibration off: {t_naive / t_whole:.2f}x)")
    per = ", ".join(f"{size}: {1000 * sec:.2f}" for size, sec in sorted(calibration.per_sample.items()))
    print(f"calibration: chunk {calibration.chunk} of batch {args.batch_size} (ms per sample per call by size: "
          f"{per or 'one size, not measured'})")
    rest = t_engine - t_verify - t_bare
    print(f"bare batched denoiser calls alone:      {t_bare:8.2f} s")
    print(f"engine = denoiser {t_bare:.2f} s + verifier {t_verify:.2f} s + the rest (noise, decode, images, bookkeeping) "
          f"{rest:.2f} s: overhead {100 * rest / t_bare:.1f}% over the bare denoiser calls")
    if peaks:
        print("peak GPU memory: " + ", ".join(f"{way} {gib:.2f} GiB" for way, gib in peaks.items()))
    print(f"overlap {args.overlap}, compile {args.compile or 'off'}, channels_last {'on' if args.channels_last else 'off'}")


def _peak(peaks: dict, way: str, device: str, fn, *args):
    """fn(*args), noting the peak GPU memory it reached under `way` (nothing on the CPU)."""
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    result = fn(*args)
    if cuda:
        peaks[way] = max(peaks.get(way, 0.0), torch.cuda.max_memory_allocated() / 2**30)
    return result


if __name__ == "__main__":
    main()
