"""The Ray backend: one actor per GPU (or per CPU slot), each loading its model and verifiers once.

The driver feeds cells to idle actors, one at a time each, and appends every result line itself;
an actor writes only its cell's run folder (so on a cluster DIR must be a shared filesystem for
the run folders to land beside results.jsonl, and tsearch must be importable on every node). An actor that dies (node lost, out of memory,
`ray.kill`) is replaced and its cell is given to another actor, up to `MAX_TRIES` times. Cells run
through the same `run_cell` as the local backend, so the same cells give the same results.

    ray start --head                      # or nothing: a local instance is started
    python -m tsearch sweep SPEC.toml --out DIR --backend ray --address auto --workers 8
"""

from __future__ import annotations

import os
import socket
from collections import deque
from pathlib import Path
from typing import Callable

import ray

from tsearch.sweep.local import CachingLoader, run_cell
from tsearch.sweep.spec import Cell

MAX_TRIES = 3       # a cell whose actor died this many times is recorded as failed


class Worker:
    """A Ray actor: a CachingLoader that outlives its cells."""

    def __init__(self, threads: int):
        import torch

        torch.set_num_threads(threads)
        self.loader = CachingLoader()

    def run(self, cell: Cell, root: str) -> dict:
        return run_cell(cell, root, self.loader)


class Pool:
    """Actors fed one cell at a time; dead ones replaced. `actors` and `busy()` are for watching (tests)."""

    def __init__(self, count: int, threads: int, gpus: bool):
        remote = ray.remote(Worker).options(num_cpus=threads, num_gpus=1 if gpus else 0, max_restarts=0)
        self.make = lambda: remote.remote(threads)
        self.actors = [self.make() for _ in range(count)]
        self.idle = list(self.actors)
        self.running: dict = {}      # object ref -> (actor, cell)
        self.replaced = 0

    def busy(self) -> list:
        return [actor for actor, _ in self.running.values()]

    def replace(self, actor) -> None:
        self.actors.remove(actor)
        if actor in self.idle:
            self.idle.remove(actor)
        try:
            ray.kill(actor, no_restart=True)
        except Exception:   # already gone
            pass
        fresh = self.make()
        self.actors.append(fresh)
        self.idle.append(fresh)
        self.replaced += 1


def run_ray(cells: list[Cell], root: str | Path, record: Callable[[dict], None], *, address: str | None = None,
            workers: int | None = None, threads: int | None = None,
            on_result: Callable[[dict, Pool], None] | None = None) -> None:
    """Run the cells on Ray (connecting to `address`, else RAY_ADDRESS, else starting a local instance)."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        check_reachable(address)   # even with Ray already up in this process: the address given must answer
    started = not ray.is_initialized()
    if started:
        try:
            if address:
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(num_cpus=workers * (threads or 1) if workers else None, include_dashboard=False,
                         log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise ValueError(f"cannot start or reach {where}: {error}") from None
    try:
        _drive(cells, str(Path(root).resolve()), record, workers, threads or 1, on_result)
    finally:
        if started:
            ray.shutdown()


def check_reachable(address: str, seconds: float = 5.0) -> None:
    """ValueError naming `address` when nothing answers there: ray.init would wait on it for minutes.

    "auto" (a cluster started on this node by `ray start`) is left to ray.init, which fails fast."""
    if address == "auto":
        return
    where = address.split("://", 1)[-1]
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--address {address!r}: give HOST:PORT (the head node's `ray start --head` prints it), "
                         f"ray://HOST:PORT for Ray Client, or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=seconds).close()
    except OSError as error:
        raise ValueError(f"cannot reach the Ray cluster at {address}: nothing answered at {host}:{port} within "
                         f"{seconds:g} s ({error.strerror or error}); start one with `ray start --head`, fix "
                         f"--address / RAY_ADDRESS, or leave both unset for a local instance") from None


def _drive(cells, root, record, workers, threads, on_result) -> None:
    resources = ray.cluster_resources()
    gpus = any(str(cell.config.device).startswith("cuda") for cell in cells)
    if gpus and resources.get("GPU", 0) < 1:
        raise ValueError("the cells run on cuda but the Ray cluster has no GPU; set device = \"cpu\" in the spec "
                         "or connect to a cluster with GPUs (--address)")
    slots = int(resources.get("GPU", 0)) if gpus else max(1, int(resources.get("CPU", 1)) // threads)
    count = max(1, min(workers or slots, len(cells)))
    pool = Pool(count, threads, gpus)
    todo, tries = deque(cells), {}
    while todo or pool.running:
        while pool.idle and todo:
            actor, cell = pool.idle.pop(0), todo.popleft()
            pool.running[actor.run.remote(cell, root)] = (actor, cell)
        ready, _ = ray.wait(list(pool.running), num_returns=1)
        actor, cell = pool.running.pop(ready[0])
        try:
            row = ray.get(ready[0])
        except ray.exceptions.RayError as error:   # the actor died; run_cell itself never raises
            pool.replace(actor)
            tries[cell.key] = tries.get(cell.key, 0) + 1
            if tries[cell.key] < MAX_TRIES:
                todo.appendleft(cell)
                continue
            row = {"key": cell.key, "config": cell.config.to_dict(), "metadata": dict(cell.metadata),
                   "run_dir": None, "summary": None,
                   "error": f"its Ray worker died {MAX_TRIES} times ({type(error).__name__}: {str(error)[:300]})"}
        else:
            pool.idle.append(actor)
        record(row)
        if on_result is not None:
            on_result(row, pool)
