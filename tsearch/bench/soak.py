"""`python -m tsearch.bench soak`: the app under hours-of-use load, and whether its memory settles (issue 21).

The app is started in a child process (`build_demo(model=...)`, queued, as a Space serves it); `--clients`
gradio_client clients (threads here, one session each) share `--searches` searches through the `/search`
endpoint; after every `--every`-th search of a client it also exports its run (`/export`) and loads the zip
back (`/load_run`), as a visitor does. Reported (never asserted): errors (want 0), each search's queue wait
(submit until the server starts it, polled every 20 ms) at p50 and p95, and the server's resident memory
(VmRSS, /proc) after 30, 150 and the last search, with the growth from 150 to the end (the target: at
most 10%). Default load: the analytic gmm model at a budget of 40 NFEs (4 steps, 10 candidates), so the
figures measure the app (queue, sessions, runs, exports) more than a model; --model/--budget change that.
Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

from tsearch import jsonio

CHECKPOINTS = (30, 150)   # and the last search
SERVER = ("import sys; from tsearch.app import build_demo; "
          "build_demo(model=sys.argv[2]).queue().launch(server_name='127.0.0.1', server_port=int(sys.argv[1]), "
          "quiet=True)")


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m tsearch.bench soak")
    p.add_argument("--searches", type=int, default=300)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--every", type=int, default=5, help="each client exports and loads back after every Nth search")
    p.add_argument("--model", default="gmm")
    p.add_argument("--cls", type=int, default=1, help="class index (class-conditional models; unused with --prompt)")
    p.add_argument("--prompt", default="")
    p.add_argument("--verifier", default="gmm-density")
    p.add_argument("--budget", type=int, default=40)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--json", default=None, help="also write the figures here (strict JSON)")
    args = p.parse_args(argv)
    if args.searches < 1 or args.clients < 1 or args.every < 1:
        p.error("--searches, --clients and --every are at least 1")
    return args


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (VmRSS of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _start_server(model: str, runs: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "TSEARCH_APP_RUNS": runs, "GRADIO_ANALYTICS_ENABLED": "False"}
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), model], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the app exited with status {server.returncode} before serving")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return server, url
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError("the app did not answer within 180 s")


class Soak:
    """The shared state of the client threads: searches handed out and done, waits, errors, memory."""

    def __init__(self, args, server: subprocess.Popen, url: str):
        self.args, self.server, self.url = args, server, url
        self.lock = threading.Lock()
        self.handed = self.done = self.exports = self.loads = 0
        self.waits: list[float] = []
        self.errors: list[str] = []
        self.rss: dict[str, float] = {"start": rss_mb(server.pid)}

    def claim(self) -> bool:
        with self.lock:
            if self.handed >= self.args.searches:
                return False
            self.handed += 1
            return True

    def finished(self) -> None:
        with self.lock:
            self.done += 1
            if self.done in CHECKPOINTS or self.done == self.args.searches:
                self.rss[str(self.done)] = rss_mb(self.server.pid)

    def client(self, number: int) -> None:
        import gradio_client
        from gradio_client.utils import Status

        a = self.args
        client = gradio_client.Client(self.url, verbose=False, download_files=False)
        inputs = dict(model=a.model, prompt=a.prompt, cls=None if a.prompt else a.cls, verifiers=[a.verifier],
                      evaluator="", algorithm="random", budget=a.budget, steps=a.steps, seed=0, batch_size=8,
                      baseline=False)
        count = 0
        while self.claim():
            count += 1
            try:
                sent = time.perf_counter()
                job = client.submit(**{**inputs, "seed": number * 100_000 + count}, api_name="/search")
                wait = None
                while not job.done():
                    if wait is None and job.status().code in (Status.PROCESSING, Status.ITERATING, Status.PROGRESS):
                        wait = time.perf_counter() - sent
                    time.sleep(0.02)
                job.result()
                with self.lock:
                    self.waits.append(time.perf_counter() - sent if wait is None else wait)
                if count % a.every == 0:
                    archive = client.predict(api_name="/export")
                    path = archive["path"] if isinstance(archive, dict) else archive
                    client.predict(file=gradio_client.handle_file(path), api_name="/load_run")
                    with self.lock:
                        self.exports, self.loads = self.exports + 1, self.loads + 1
            except Exception as error:  # noqa: BLE001 - counted and reported: the figure this bench is for
                with self.lock:
                    self.errors.append(f"client {number}, search {count}: {type(error).__name__}: {error}"[:300])
            self.finished()


def run(args) -> dict:
    runs = tempfile.mkdtemp(prefix="tsearch-soak-")
    server, url = _start_server(args.model, runs)
    start = time.perf_counter()
    try:
        soak = Soak(args, server, url)
        threads = [threading.Thread(target=soak.client, args=(i,), daemon=True) for i in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(runs, ignore_errors=True)
    rss, last = soak.rss, str(args.searches)
    growth = None
    if "150" in rss and last in rss and last != "150":
        growth = 100.0 * (rss[last] - rss["150"]) / rss["150"]
    waits = np.asarray(soak.waits) if soak.waits else np.asarray([np.nan])
    return {"model": args.model, "budget": args.budget, "steps": args.steps, "searches": args.searches,
            "clients": args.clients, "exports": soak.exports, "loads": soak.loads, "errors": len(soak.errors),
            "first_errors": soak.errors[:5], "queue_wait_p50_s": float(np.percentile(waits, 50)),
            "queue_wait_p95_s": float(np.percentile(waits, 95)), "rss_mb": {k: round(v, 1) for k, v in rss.items()},
            "growth_150_to_last_pct": growth, "wall_s": round(time.perf_counter() - start, 1)}


def main(argv=None) -> dict:
    args = _parse(sys.argv[1:] if argv is None else argv)
    figures = run(args)
    rss = ", ".join(f"{k}: {v:.0f} MiB" for k, v in figures["rss_mb"].items())
    growth = figures["growth_150_to_last_pct"]
    print(f"soak: {figures['searches']} searches ({figures['model']}, budget {figures['budget']}) from "
          f"{figures['clients']} clients, {figures['exports']} exports + loads, {figures['errors']} error(s), "
          f"{figures['wall_s']} s")
    print(f"queue wait p50 {figures['queue_wait_p50_s']:.3f} s, p95 {figures['queue_wait_p95_s']:.3f} s")
    print(f"server RSS after N searches: {rss}" + ("" if growth is None else
          f"; growth 150 -> {figures['searches']}: {growth:+.1f}% ({'within' if growth <= 10 else 'OVER'} 10%)"))
    for line in figures["first_errors"]:
        print(f"error: {line}")
    if args.json:
        Path(args.json).write_text(jsonio.dumps(figures, indent=1), encoding="utf-8")
    return figures
