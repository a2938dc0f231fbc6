"""`python -m tsearch.bench soak`: the app under hours-of-use load, and whether its memory settles (issue 21).

The app is started in a child process (`build_demo(model=...)`, queued, as a Space serves it); `--clients`
gradio_client clients (threads here, one session each) share `--searches` searches through the `/search`
endpoint; after every `--every`-th search of a client it also exports its run (`/export`) and loads the zip
back (`/load_run`), as a visitor does. Reported (never asserted): errors (want 0), each search's queue wait
(submit until the server starts it, polled every 20 ms) at p50 and p95, and the server's resident memory
(VmRSS, /proc) after 30, 150 and the last search, with the growth from 150 to the end (the target: at
most 10%). Default load: the analytic gmm model at a budget of 40 NFEs (4 steps, 10 candidates), so the
figures measure the app (queue, sessions, runs, exports) more than a model; --model/--budget change that.

Hostile traffic (issue 25): after every `--hostile-every`-th search a client also sends one hostile request, the
kinds of `--hostile` in turn (HOSTILE: a huge final_top, null and NaN fields, a huge budget on /compare, a null
arena split on the live arena's private endpoint), each given `--hostile-timeout` seconds and then cancelled.
Each is counted as refused (an error with a message), accepted, or timed out (held a slot until cancelled), and
after each the server must still answer `/` within 10 s (else "server stopped", and the soak ends there).
Every ordinary search must still be served (errors: want 0); a search not served within `--search-timeout`
counts as an error, so nothing a hostile request does can block the soak.
Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
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
    p.add_argument("--hostile", default=",".join(HOSTILE),
                   help=f"hostile request kinds mixed in, comma-separated (default all: {','.join(HOSTILE)}; "
                        f"'' for none)")
    p.add_argument("--hostile-every", type=int, default=5, help="each client sends one after every Nth search")
    p.add_argument("--hostile-timeout", type=float, default=20.0, help="seconds a hostile request gets, then cancelled")
    p.add_argument("--search-timeout", type=float, default=600.0, help="seconds an ordinary search may take to be "
                                                                         "served before it counts as an error")
    p.add_argument("--json", default=None, help="also write the figures here (strict JSON)")
    args = p.parse_args(argv)
    if args.searches < 1 or args.clients < 1 or args.every < 1 or args.hostile_every < 1:
        p.error("--searches, --clients, --every and --hostile-every are at least 1")
    args.hostile = [k.strip() for k in args.hostile.split(",") if k.strip()]
    if set(args.hostile) - set(HOSTILE):
        p.error(f"--hostile: unknown kind(s) {', '.join(sorted(set(args.hostile) - set(HOSTILE)))}; "
                f"known: {', '.join(HOSTILE)}")
    return args


# A hostile request: (endpoint, its inputs over the ordinary search's) or, for the live arena, its raw data.
HOSTILE = {
    "final_top": ("/search", {"final_steps": 4, "final_top": 10**9}),
    "final_top_huge": ("/search", {"final_steps": 4, "final_top": 10**12}),
    "null_budget": ("/search", {"budget": None}),
    "nan_steps": ("/search", {"steps": math.nan}),
    "nan_seed": ("/search", {"seed": math.nan}),
    "null_verifiers": ("/search", {"verifiers": None}),
    "compare_budget": ("/compare", {"budget": 10**9, "mode": "algorithms", "algorithms": ["random", "zero-order"]}),
    "arena_null_split": ("arena", [None, 1, ["random"], 2]),
}


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
    log = Path(runs) / "server.log"   # the app's own output, quoted if it exits before serving
    with open(log, "wb") as sink:
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), model], env=env,
                                  stdout=subprocess.DEVNULL, stderr=sink)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while time.time() < deadline:
        if server.poll() is not None:
            last = (log.read_text(errors="replace").strip().splitlines() or [""])[-1]
            raise RuntimeError(f"the app exited with status {server.returncode} before serving: {last}")
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
        self.hostile: dict[str, dict[str, int]] = {}   # kind -> {refused, accepted, timed out, server stopped}
        self.hostile_sent = 0
        self.stopped: str | None = None                 # the hostile kind after which the server stopped answering
        self.rss: dict[str, float] = {"start": rss_mb(server.pid)}

    def claim(self) -> bool:
        with self.lock:
            if self.handed >= self.args.searches or self.stopped:
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
                    if time.perf_counter() - sent > a.search_timeout:
                        job.cancel()
                        raise TimeoutError(f"not served within {a.search_timeout:g} s")
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
            if a.hostile and count % a.hostile_every == 0:
                self.hostile_request(client, inputs)

    def hostile_request(self, client, inputs: dict) -> None:
        """The next hostile kind, with a timeout; counted by outcome; then: does the server still answer?"""
        with self.lock:
            kind = self.args.hostile[self.hostile_sent % len(self.args.hostile)]
            self.hostile_sent += 1
        endpoint, given = HOSTILE[kind]
        timeout = self.args.hostile_timeout
        try:
            if endpoint == "arena":
                outcome = self._raw_join(given, timeout)
            else:
                sent = {k: v for k, v in {**inputs, **given}.items() if endpoint == "/search" or k != "baseline"}
                job = client.submit(**sent, api_name=endpoint)
                started = time.perf_counter()
                while not job.done() and time.perf_counter() - started < timeout:
                    time.sleep(0.05)
                if not job.done():
                    job.cancel()
                    outcome = "timed out"
                else:
                    job.result()
                    outcome = "accepted"
        except Exception:  # noqa: BLE001 - a refusal: gradio_client raises the app's message
            outcome = "refused"
        if not self._answers():
            outcome = "server stopped"
            with self.lock:
                self.stopped = self.stopped or kind
        with self.lock:
            counts = self.hostile.setdefault(kind, {})
            counts[outcome] = counts.get(outcome, 0) + 1

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(self.url, timeout=10).read()
            return True
        except OSError:
            return False

    def _raw_join(self, data: list, timeout: float) -> str:
        """The live arena's private endpoint, as a hostile visitor posts it (gradio's queue/join, by fn_index)."""
        config = json.loads(urllib.request.urlopen(self.url + "config", timeout=10).read())
        radios = {c["id"] for c in config["components"] if c.get("type") == "radio"
                  and "hard" in json.dumps(c.get("props", {}).get("choices"))}
        # the live run: the split radio first, and the most outputs (status, board, image) of the functions that
        # take it (the duration estimate takes the same settings and answers in one line)
        runs = [(len(d.get("outputs", [])), d.get("id", i), len(d["inputs"])) for i, d in enumerate(config["dependencies"])
                if len(d.get("inputs", [])) >= 4 and d["inputs"][0] in radios]
        if not runs:
            return "refused"   # no live arena on this page
        _, index, width = max(runs)
        data = (list(data) + [None] * width)[:width]   # one value per input, as a hostile visitor pads them
        session = secrets.token_hex(8)
        body = json.dumps({"data": data, "fn_index": index, "session_hash": session, "event_data": None,
                           "trigger_id": None}).encode()
        request = urllib.request.Request(self.url + "gradio_api/queue/join", body,
                                         {"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).read()
        with urllib.request.urlopen(self.url + f"gradio_api/queue/data?session_hash={session}",
                                    timeout=timeout) as stream:
            said = False   # the page says a refusal in its status line (a streamed update, success true)
            for line in stream:
                said = said or b"Arena refused" in line
                if b"process_completed" in line:
                    refused = said or b'"success": false' in line or b'"success":false' in line
                    return "refused" if refused else "accepted"
        return "timed out"


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
            "growth_150_to_last_pct": growth, "wall_s": round(time.perf_counter() - start, 1),
            "searches_served": soak.done - len(soak.errors), "hostile_sent": soak.hostile_sent,
            "hostile": soak.hostile, "server_stopped_after": soak.stopped}


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
    if figures["hostile_sent"]:
        kinds = "; ".join(f"{k}: " + ", ".join(f"{n} {o}" for o, n in sorted(c.items()))
                          for k, c in figures["hostile"].items())
        print(f"hostile requests: {figures['hostile_sent']} ({kinds}); ordinary searches served: "
              f"{figures['searches_served']} of {figures['searches']}")
    if figures["server_stopped_after"]:
        print(f"error: the server stopped answering after a {figures['server_stopped_after']} request")
    for line in figures["first_errors"]:
        print(f"error: {line}")
    if args.json:
        Path(args.json).write_text(jsonio.dumps(figures, indent=1), encoding="utf-8")
    return figures
