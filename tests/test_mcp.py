"""The app's MCP server (`python app.py --mcp`): the one search tool, listed through gradio's schema endpoint
and through an MCP client, called over MCP on gmm and shapes, bad input answered by name, the page's
endpoints still reachable by gradio_client."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading

import pytest

pytest.importorskip("mcp")
gradio_client = pytest.importorskip("gradio_client")

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from mcp import ClientSession  # noqa: E402
from mcp.client.sse import sse_client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from PIL import Image  # noqa: E402

from app import parse_args  # noqa: E402
from served import free_port  # noqa: E402
from tsearch.app import build_demo  # noqa: E402
from tsearch.app import mcp as tool  # noqa: E402
from tsearch.runs import load_run  # noqa: E402

PARAMETERS = {"model": "string", "prompt": "string", "evaluator": "string", "algorithm": "string",
              "budget": "integer", "steps": "integer", "seed": "integer"}


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    import os

    os.environ["TSEARCH_APP_RUNS"] = str(tmp_path_factory.mktemp("runs"))
    demo = tool.add_tool(build_demo(model="gmm"))
    port = free_port()
    tool.launch(demo.queue(), server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}"
    demo.close()


async def _session(url: str, work, transport: str = "http"):
    if transport == "sse":
        async with sse_client(f"{url}/gradio_api/mcp/sse") as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await work(session)
    async with streamable_http_client(f"{url}/gradio_api/mcp/") as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)


def call(url: str, **arguments):
    """One MCP tool call; returns the CallToolResult."""
    return asyncio.run(_session(url, lambda session: session.call_tool(tool.API_NAME, arguments)))


def texts(result) -> list[str]:
    return [c.text for c in result.content if c.type == "text"]


def test_the_schema_lists_the_search_tool_alone_with_typed_described_parameters(url):
    schema = httpx.get(f"{url}/gradio_api/mcp/schema", timeout=30).json()
    assert [entry["name"] for entry in schema] == ["search_noise"]
    entry = schema[0]
    assert entry["description"].startswith("Search a diffusion model's starting noise")
    assert "Returns:" in entry["description"] and "JSON" in entry["description"]
    properties = entry["inputSchema"]["properties"]
    assert list(properties) == ["model", "prompt", "cls", "verifiers", "evaluator", "algorithm", "budget", "steps",
                                "seed", "options",   # options: issue 17 gives agents the algorithms' options
                                "batch_size", "solver", "final_steps", "final_top"]   # issue 26: every setting
    assert properties["batch_size"]["type"] == "integer" and properties["batch_size"]["default"] == 8
    assert properties["final_top"]["default"] == 1 and {"type": "integer"} in properties["final_steps"]["oneOf"]
    assert "draft-then-commit" in properties["final_top"]["description"]
    for name, kind in PARAMETERS.items():
        assert properties[name]["type"] == kind, name
    assert {"type": "integer"} in properties["cls"]["oneOf"]
    assert {"type": "array", "items": {"type": "string"}} in properties["verifiers"]["oneOf"]
    for name, spec in properties.items():
        assert len(spec["description"]) > 20, f"{name} has no description from the docstring's Args"
    assert properties["budget"]["default"] == 400 and properties["model"]["default"] == "shapes"
    assert entry["meta"]["endpoint_name"] == "search_noise"


def test_an_mcp_client_lists_the_tool_over_both_transports(url):
    async def listing(session):
        return (await session.list_tools()).tools

    for transport in ("http", "sse"):
        tools = asyncio.run(_session(url, listing, transport))
        assert [t.name for t in tools] == ["search_noise"], transport
        assert tools[0].inputSchema["properties"]["budget"]["type"] == "integer"


def test_search_on_gmm_through_mcp_returns_image_score_and_the_runs_summary(url):
    result = call(url, model="gmm", cls=2, verifiers=["gmm-density"], algorithm="zero-order", budget=120, steps=10,
                  seed=3)
    assert not result.isError, texts(result)
    image_part = next(c for c in result.content if c.type == "image")
    assert image_part.mimeType == "image/png"
    image = Image.open(io.BytesIO(base64.b64decode(image_part.data)))
    text = texts(result)
    assert text[0].startswith("Image URL: http")
    score, summary = float(text[1]), json.loads(text[2])
    assert summary["nfe_spent"] == 120 and summary["budget"] == 120 and summary["candidates"] == 12
    assert summary["model"] == "gmm" and summary["algorithm"] == "zero-order" and summary["condition"] == 2
    assert summary["best_score"] == pytest.approx(score) and summary["stopped"] is False and summary["error"] is None
    run = load_run(summary["run_dir"])   # the run is on disk like any other, and agrees with the reply
    assert run.summary == summary and len(run.candidates) == 12
    assert run.config["seed"] == 3 and run.config["verifiers"] == ["gmm-density"]
    assert max(c.score for c in run.candidates) == pytest.approx(score)
    best = Image.open(run.root / "best.png")
    assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(best.convert("RGB")))
    again = call(url, model="gmm", cls=2, verifiers=["gmm-density"], algorithm="zero-order", budget=120, steps=10,
                 seed=3)
    assert float(texts(again)[1]) == score, "same arguments and seed, same result"


def test_search_on_shapes_with_the_preset_verifier_and_a_held_out_evaluator(url):
    # the page opened on gmm: shapes loads into the shared pool on this first call
    result = call(url, model="shapes", prompt="a red circle", evaluator="shapes-oracle", budget=32, steps=4)
    assert not result.isError, texts(result)
    summary = json.loads(texts(result)[2])
    assert summary["nfe_spent"] == 32 and summary["candidates"] == 4   # 4 steps x 2 NFEs (CFG) per candidate
    assert summary["condition"] == "a red circle" and len(summary["best_evals"]) == 1
    run = load_run(summary["run_dir"])
    assert run.config["verifiers"] == ["shapes-clip"] and run.config["evaluators"] == ["shapes-oracle"]
    image = next(c for c in result.content if c.type == "image")
    assert Image.open(io.BytesIO(base64.b64decode(image.data))).size == (32, 32)


@pytest.mark.parametrize("arguments, message", [
    (dict(model="flux-pro"), "unknown model 'flux-pro'"),
    (dict(model="gmm", cls=1, verifiers=["gmm-dnsity"]), "unknown verifier 'gmm-dnsity'"),
    (dict(model="gmm", cls=1, algorithm="annealing"), "unknown algorithm 'annealing'"),
    (dict(model="gmm", cls=1, budget=5, steps=10), "budget of 5 NFEs is below one candidate's cost of 10"),
    (dict(model="gmm", cls=1, budget=50000), "budget: one call runs to the end without a Stop"),
    (dict(model="gmm", cls=1, budget="lots"), "'lots' is not of type 'integer'"),   # the MCP SDK checks the schema
    (dict(model="gmm", cls=1, budget="lots"), "budget: 'lots' is not of type 'integer' (budget takes an integer)"),
    (dict(model="gmm", cls="abc"), "cls: 'abc' is not valid under any of the given schemas (cls takes null or an "
                                   "integer)"),
    (dict(model="gmm", cls=1, verifiers=5), "verifiers: 5 is not valid"),
    (dict(model=7), "model: 7 is not of type 'string' (model takes a string)"),
    (dict(model="gmm", cls=9), "cls: the gmm component must lie in 0..3, got 9"),
    (dict(model="shapes", prompt=""), "write a prompt for the shapes model"),
    (dict(model="gmm", cls=1, seed=-1), "seed"),
])
def test_bad_input_is_an_mcp_error_naming_the_argument(url, arguments, message):
    result = call(url, **arguments)
    assert result.isError
    (text,) = texts(result)
    assert message in text and "Traceback" not in text


def test_calls_beyond_the_concurrency_wait_are_refused_clearly(url, monkeypatch):
    monkeypatch.setattr(tool, "RUNNING", threading.BoundedSemaphore(1))
    monkeypatch.setattr(tool, "WAIT_SECONDS", 0.2)
    tool.RUNNING.acquire()   # as if another agent's search held the only slot
    try:
        result = call(url, model="gmm", cls=1, verifiers=["gmm-density"], budget=20, steps=10)
    finally:
        tool.RUNNING.release()
    assert result.isError and "try again later" in texts(result)[0]
    assert not call(url, model="gmm", cls=1, verifiers=["gmm-density"], budget=20, steps=10).isError


def test_gradio_client_still_sees_the_pages_endpoints_and_the_tool(url):
    client = gradio_client.Client(f"{url}/", verbose=False, download_files=False)
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/search", "/stop", "/compare", "/export", "/load_run", "/search_noise"} <= set(endpoints)
    done = client.predict(model="gmm", prompt="", cls=1, verifiers=["gmm-density"], evaluator="", algorithm="random",
                          budget=100, steps=10, seed=0, batch_size=1, baseline=False, api_name="/search")
    assert done[0].startswith("Done") and done[5]["nfe_spent"] == 100
    image, score, summary = client.predict(model="gmm", cls=1, verifiers=["gmm-density"], budget=30, steps=10,
                                           api_name="/search_noise")
    assert json.loads(summary)["best_score"] == pytest.approx(score) and image["path"].endswith(".png")
    for bad, message in ((dict(budget="lots"), "budget must be a whole number"), (dict(cls="seven"), "cls: gmm takes")):
        with pytest.raises(Exception, match=message):   # no schema check on this path: the tool's own validation
            client.predict(**dict(dict(model="gmm", cls=1, verifiers=["gmm-density"], budget=30, steps=10), **bad),
                           api_name="/search_noise")


def test_the_tool_adds_nothing_to_the_page_and_nothing_on_it_triggers_it():
    demo = build_demo(model="gmm")
    before = {c["id"] for c in demo.get_config_file()["components"]}
    tool.add_tool(demo)
    added = [c for c in demo.get_config_file()["components"] if c["id"] not in before]
    assert added and {c["type"] for c in added} == {"api"}, "only gr.api's value holders, which draw nothing"
    (fn,) = [f for f in demo.fns.values() if f.api_name == tool.API_NAME]
    assert fn.targets == [] and not fn.queue


def test_app_py_takes_mcp():
    assert parse_args(["--mcp"]).mcp is True and parse_args([]).mcp is False
