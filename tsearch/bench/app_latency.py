"""`python -m tsearch.bench app-latency`: how soon the app shows a candidate, and what it adds to the engine.

Issue 13's app targets, printed (never asserted by a timed test):
- the first candidate in an update within 1.5 s of Run;
- 64 candidates x 20 steps on shapes finished within 20 s;
- the engine's own time at most 10% over its bare denoiser calls.
Each repeat runs the same search two ways, interleaved: through the app's `handlers.search` (the
generator behind the Run button and the API: validation, the pool's shared model, page updates,
gallery and chart) and through the engine alone (`api.prepare` + `engine.run`). The model's
`forward_x0` is timed inside the engine's run, so the denoiser's share is measured in the run itself
rather than in a separate loop. Times are the fastest of `--repeat` (a busy machine only makes runs slower).
The browser's own rendering is not included; `tests/test_app_browser.py` drives a real page.

Issue 20 adds: one candidate's own compute (one noise denoised alone, in the same run) and the ratio
of the first candidate's time to it (target <= 1.5); `--dtype` (float32, auto, ...) for the model the
app serves; `--default-run`, the app's default Run (its preset budget, the more-steps baseline on);
the CPU's model name and flags; `--out` writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import shutil
import tempfile
import time

import torch


class DenoiserClock:
    """Seconds spent inside model.forward_x0 while active (wraps the instance's method)."""

    def __init__(self, model):
        self.model, self.seconds = model, 0.0

    @contextlib.contextmanager
    def timing(self):
        original = self.model.forward_x0

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0

        self.model.forward_x0 = timed
        try:
            yield self
        finally:
            del self.model.forward_x0   # back to the class's method


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m tsearch.bench app-latency")
    p.add_argument("--model", default="shapes")
    p.add_argument("--prompt", default="a red circle and a blue square")
    p.add_argument("--cls", type=int, default=None, help="class index, for class-conditional models (instead of --prompt)")
    p.add_argument("--verifier", default=None, help="default: the model's preset in the app")
    p.add_argument("--algorithm", default=None, help="default: the app's default algorithm")
    p.add_argument("--candidates", type=int, default=64)
    p.add_argument("--steps", type=int, default=None, help="default: the model's own")
    p.add_argument("--dtype", default=None, help="the served model's dtype (float32, auto, ...); default: the model's")
    p.add_argument("--default-run", action="store_true", help="also time the app's default Run (preset budget, baseline)")
    p.add_argument("--out", default=None, help="also write the figures as JSON to this file")
    p.add_argument("--batch-size", type=int, default=None, help="default: the app's")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: what the app uses)")
    return p.parse_args(argv)


def machine() -> dict:
    """The CPU's model name and the flags that decide bf16, as the figures' context."""
    from tsearch.models.base import native_bf16

    name = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), name)
    except OSError:
        pass
    return {"cpu": name, "capability": torch.backends.cpu.get_cpu_capability(), "native_bf16": native_bf16("cpu"),
            "threads": torch.get_num_threads()}


def one_candidate(model, condition, steps: int) -> float:
    """Seconds to denoise one noise alone (the fastest of three): the compute a first candidate needs."""
    from tsearch import noise

    cond, x = model.encode(condition), noise.gaussian(model.noise_shape, 0)[None] * model.prior_scale
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        model.denoise(x, cond, model.sigmas(steps))
        best = min(best, time.perf_counter() - t0)
    return best


def default_run(handlers, catalog, name: str, algorithm: str, session) -> tuple[float, int]:
    """The app's default Run of `name`: its preset prompt/class, verifiers and budget, the baseline on."""
    preset = catalog.preset(name)
    t0 = time.perf_counter()
    for update in handlers.search(model=name, prompt=preset.prompt, cls=preset.cls, verifiers=list(preset.verifiers),
                                  algorithm=algorithm, budget=preset.budget, steps=None, seed=0, baseline=True,
                                  session=session):
        details = update[-1]
    return time.perf_counter() - t0, preset.budget


def served(pool, name: str, dtype: str | None):
    """The pool's slot for `name`; with a dtype, the model loaded so and handed to the pool (it takes no dtype)."""
    if dtype is not None:
        from tsearch.models import MODELS, load_model

        pool.add(name, load_model(name, dtype=dtype), MODELS[name].description)
    return pool.get(name)


def report(f: dict) -> None:
    print(f"{f['model']}, {f['algorithm']}, {f['candidates']} candidates x {f['steps']} steps ({f['budget']} NFEs), "
          f"verifier {f['verifier']}, batch {f['batch_size']}, {f['threads']} thread(s), fastest of {f['repeat']}")
    print(f"  {f['cpu']}, {f['capability']}, native bf16 {f['native_bf16']}, dtype {f['dtype']}, "
          f"{f['nfe_per_eval']} pass(es) per step")
    print(f"  first candidate in an update after Run:   {f['first_candidate_s']:6.2f} s   (target <= 1.5 s)")
    print(f"  one candidate's own compute (alone):      {f['one_candidate_s']:6.2f} s   "
          f"(first / alone = {f['first_over_one_candidate']:.2f}, target <= 1.5)")
    print(f"  whole search through the app:             {f['app_total_s']:6.2f} s   (target <= 20 s)")
    print(f"  the same search, engine alone:            {f['engine_total_s']:6.2f} s")
    print(f"    inside the denoiser (forward_x0):       {f['denoiser_s']:6.2f} s")
    print(f"    inside the verifier:                    {f['verifier_s']:6.2f} s")
    print(f"    the engine's own (noise, decode, PNGs): {f['engine_own_s']:6.2f} s = {f['overhead_pct']:.1f}% over the "
          f"denoiser (target <= 10%)")
    extra = f["app_total_s"] - f["engine_total_s"]
    print(f"  the app's page updates over the engine:   {extra:6.2f} s ({100 * extra / f['engine_total_s']:.1f}%)")


def main(argv=None) -> dict:
    args = _parse(argv)
    from tsearch import engine
    from tsearch.api import prepare
    from tsearch.app import catalog, handlers
    from tsearch.app.state import Session
    from tsearch.app.ui import DEFAULT_ALGORITHM
    from tsearch.app.validate import DEFAULT_BATCH, config_for
    from tsearch.search import Costs

    if args.threads:
        torch.set_num_threads(args.threads)
    algorithm = args.algorithm or DEFAULT_ALGORITHM
    batch = args.batch_size or DEFAULT_BATCH
    slot = served(handlers.POOL, args.model, args.dtype)
    model = slot.model
    args.steps = args.steps or model.default_steps
    verifier = args.verifier or catalog.preset(args.model).verifiers[0]
    cost = Costs(model.default_solver, model.nfe_per_eval).full(args.steps)
    budget = args.candidates * cost
    prompt = None if args.cls is not None else args.prompt
    request = dict(model=args.model, prompt=prompt, cls=args.cls, verifiers=[verifier], algorithm=algorithm, budget=budget,
                   steps=args.steps, seed=0, batch_size=batch)
    config = config_for(args.model, model.conditioning, prompt, args.cls, [verifier], None, algorithm, budget,
                        args.steps, 0, None, batch, {})
    clock = DenoiserClock(model)
    list(handlers.search(**dict(request, budget=cost * batch), session=Session()))   # warm-up: load, first calls

    app, bare = [], []
    for _ in range(args.repeat):
        t0, first = time.perf_counter(), None
        for update in handlers.search(**request, session=Session()):
            details = update[-1]
            if first is None and isinstance(details, dict) and details.get("candidates"):
                first = time.perf_counter() - t0
        app.append((first, time.perf_counter() - t0, details.get("candidates")))
        clock.seconds = 0.0
        with clock.timing():
            plan = dataclasses.replace(prepare(config, loader=slot), out=tempfile.mkdtemp(prefix="tsearch-latency-"))
            t0 = time.perf_counter()
            for event in engine.run(plan):
                done = event
            bare.append((time.perf_counter() - t0, clock.seconds, done.summary.verifier_seconds))
            shutil.rmtree(plan.out, ignore_errors=True)
    alone = one_candidate(model, prompt if prompt is not None else args.cls, args.steps)
    first = min(r[0] for r in app)
    app_total, count = min((r[1], r[2]) for r in app)
    engine_total, denoiser, verifier_seconds = min(bare, key=lambda r: r[0])
    own = engine_total - denoiser - verifier_seconds
    context = machine()
    figures = {"first_candidate_s": first, "app_total_s": app_total, "engine_total_s": engine_total,
               "denoiser_s": denoiser, "verifier_s": verifier_seconds, "engine_own_s": own,
               "overhead_pct": 100 * own / denoiser, "candidates": count, "threads": torch.get_num_threads(),
               "one_candidate_s": alone, "first_over_one_candidate": first / alone, "model": args.model,
               "dtype": str(model.dtype).removeprefix("torch."), "nfe_per_eval": model.nfe_per_eval,
               "steps": args.steps, "budget": budget, "algorithm": algorithm, "verifier": verifier,
               "batch_size": batch, "repeat": args.repeat, **context}
    report(figures)
    if args.default_run:
        seconds, preset_budget = default_run(handlers, catalog, args.model, algorithm, Session())
        print(f"  the app's default Run ({preset_budget} NFEs, baseline on): {seconds:6.2f} s")
        figures.update(default_run_s=seconds, default_run_budget=preset_budget)
    if args.out:
        from tsearch import jsonio

        with open(args.out, "w") as f:
            f.write(jsonio.dumps(figures, indent=1))
    return figures
