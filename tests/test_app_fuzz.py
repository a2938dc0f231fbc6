"""Issue 25: no request stops the server or holds a worker. The app is served once; every function the page
registers (the named API and the private fn_index ones, read from the Blocks, never listed by hand) is sent
hostile inputs through the queue a browser uses (`POST /gradio_api/queue/join`): wrong types, null, NaN,
negative, huge, empty and over-long values. After each case the server must still answer `/` and a small
search within seconds, and no worker may stay busy past a bound.

Cases are fixed and seeded (a hypothesis-style sweep kept small enough for CI, ~1 minute): each distinct
function gets a case of nulls (sent to every registration of it at once), one of over-long strings and a few
that give each of its inputs a hostile value. The live arena's reproduction (issue 25:
`{"data": [null, 1, ["random"], 2]}` stopped the event loop for good) is a test of its own.
"""

from __future__ import annotations

import inspect
import json
import math
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from served import served

httpx = pytest.importorskip("httpx")

from tsearch.app import build_demo  # noqa: E402
from tsearch.app import mcp as tool  # noqa: E402

CASE_SECONDS = 30      # a case's request must end within this (a refusal ends at once; a small search in seconds)
ALIVE_SECONDS = 5      # `/` and the worker slots must be free again within this
SEARCH_SECONDS = 20    # the small search after each case
OVER_LONG = "x" * 5000
HOSTILE = [None, math.nan, -1, 10 ** 30, 1e308, "", OVER_LONG, [], {"a": 1}, True, "lots", [OVER_LONG] * 3,
           -math.inf, 2 ** 70]
CASES_PER_FUNCTION = 4   # hostile cases per function; with more inputs, several are hostile at once
SMALL = dict(model="gmm", prompt="", cls=1, verifiers=["gmm-density"], evaluator="", algorithm="random", budget=8,
             steps=2, seed=0, batch_size=4, baseline=False, final_steps=0, final_top=1)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    import os

    os.environ["TSEARCH_APP_RUNS"] = str(tmp_path_factory.mktemp("runs"))
    demo = tool.add_tool(build_demo(model="gmm"))
    with served(demo) as url, httpx.Client(base_url=url, timeout=CASE_SECONDS) as client:
        yield demo, client


def original(fn):
    return getattr(fn, "__wrapped__", fn)


def names(block_fn) -> list:
    """Each input's parameter name (what an API caller passes), from the Blocks or the function's signature."""
    given = list(block_fn.input_parameter_names or [])
    if len(given) == len(block_fn.inputs):
        return given
    parameters = list(inspect.signature(block_fn.fn).parameters)
    return [parameters[i] if i < len(parameters) else None for i in range(len(block_fn.inputs))]


def base_data(demo, block_fn) -> list:
    """What the page sends for this function: each component's value as the page opens, small-search settings
    where a search could start (so a hostile value that passes costs little), null for a State."""
    import gradio as gr

    values = {c["id"]: c.get("props", {}).get("value") for c in demo.config["components"]}
    data = []
    for block, name in zip(block_fn.inputs, names(block_fn)):
        if isinstance(block, gr.State):
            data.append(None)
        elif name in SMALL:
            data.append(SMALL[name])
        else:
            value = values.get(block._id)
            data.append(None if isinstance(value, dict) and "path" in value else value)
    return data


def call(client, fn_index: int, data: list, seconds: float = CASE_SECONDS) -> dict:
    """One request through the queue, as the page sends it: the message that ended it (or a timeout's)."""
    session = uuid.uuid4().hex
    body = json.dumps({"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None,
                       "trigger_id": None}).encode()   # NaN written as JS writes it
    joined = client.post("gradio_api/queue/join", content=body, headers={"Content-Type": "application/json"})
    if joined.status_code != 200:
        return {"msg": "refused at join", "status": joined.status_code, "success": False}
    event = joined.json()["event_id"]
    started = time.monotonic()
    with client.stream("GET", "gradio_api/queue/data", params={"session_hash": session}, timeout=seconds) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("event_id") == event and message.get("msg") == "process_completed":
                return message
            if message.get("msg") == "close_stream" or time.monotonic() - started > seconds:
                break
    return {"msg": "no completion", "success": False}


def search_fn(demo) -> int:
    return next(i for i, f in demo.fns.items() if f.api_name == "search")


def alive(demo, client) -> None:
    """`/` answers, no worker is left busy, and a small search (8 NFEs of gmm) finishes: within seconds each."""
    assert client.get("/", timeout=ALIVE_SECONDS).status_code == 200
    deadline = time.monotonic() + ALIVE_SECONDS
    while any(job is not None for job in demo._queue.active_jobs) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert all(job is None for job in demo._queue.active_jobs), "a worker is still busy after its request ended"
    index = search_fn(demo)
    done = call(client, index, base_data(demo, demo.fns[index]), SEARCH_SECONDS)
    assert done.get("success"), done
    assert done["output"]["data"][0].startswith("Done"), done["output"]["data"][0]


def groups(demo) -> dict[tuple, list[int]]:
    """Every registered function with a Python side, grouped by what it is: the same function over the same kinds
    of input (the page registers one function on many triggers, e.g. a redraw on each of 47 controls)."""
    out: dict[tuple, list[int]] = {}
    for index, block_fn in demo.fns.items():
        if block_fn.fn is not None:
            kind = (original(block_fn.fn), tuple(type(b).__name__ for b in block_fn.inputs))
            out.setdefault(kind, []).append(index)
    return out


def cases(demo) -> list[tuple[list[int], list]]:
    """(fn_indexes, data) of every case. Each group: one case of nulls, sent to every function of the group; one
    of over-long strings; and up to CASES_PER_FUNCTION cases that give each input a seeded hostile value (a few
    inputs at once where there are many). A State is the server's own, never taken from a request: not mutated."""
    import gradio as gr

    rng = random.Random(25)
    out = []
    for indexes in groups(demo).values():
        first = demo.fns[indexes[0]]
        base = base_data(demo, first)
        width = len(base)
        out.append((indexes, [None] * width))
        sent = [i for i, block in enumerate(first.inputs) if not isinstance(block, gr.State)]
        if not sent:
            continue
        out.append((indexes[:1], [OVER_LONG if i in sent else None for i in range(width)]))
        rng.shuffle(sent)
        count = min(len(sent), CASES_PER_FUNCTION)
        for case in range(count):
            data = list(base)
            for i in sent[case::count]:
                data[i] = rng.choice(HOSTILE)
            out.append((indexes[:1], data))
    return out


def test_the_live_arenas_null_split_no_longer_stops_the_server(app):
    """The reproduction of issue 25: this one request stopped `/` and every search for good."""
    demo, client = app
    index = next(i for i, f in demo.fns.items() if original(f.fn).__name__ == "run_live")
    width = len(demo.fns[index].inputs)
    for data in ([None, 1, ["random"], 2], [None, 1, ["random"], 2] + [None] * (width - 4)):
        call(client, index, data)
        alive(demo, client)
    said = call(client, index, [None, 1, ["random"], 2] + [None] * (width - 4))
    assert said["success"] and "split: choose one of hard, easy, got None" in json.dumps(said["output"]["data"][0])


def test_every_registered_function_survives_hostile_inputs(app):
    demo, client = app
    started = time.monotonic()
    registered = [i for i, f in demo.fns.items() if f.fn is not None]
    assert any(demo.fns[i].api_name == "search_noise" for i in registered)   # the MCP tool's too
    assert any(demo.fns[i].api_visibility == "private" for i in registered)  # and the page's fn_index ones
    todo = cases(demo)
    assert {index for indexes, _ in todo for index in indexes} == set(registered)
    requests = 0
    for indexes, data in todo:
        with ThreadPoolExecutor(len(indexes)) as pool:   # every copy of the function at once, as a burst would
            ended = list(pool.map(lambda index: call(client, index, data), indexes))
        requests += len(indexes)
        for index, message in zip(indexes, ended):
            assert message.get("msg") in ("process_completed", "refused at join"), (demo.fns[index].name, message)
            error = (message.get("output") or {}).get("error") or ""
            assert "Traceback" not in error and len(error) < 1000, (demo.fns[index].name, error[:300])
        alive(demo, client)
    print(f"\nfuzz: {len(registered)} functions in {len(groups(demo))} groups, {len(todo)} cases "
          f"({requests} requests), "
          f"{time.monotonic() - started:.0f} s")
