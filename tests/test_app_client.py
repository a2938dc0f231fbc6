"""The launched app driven by gradio_client through its `search` API endpoint: streaming, agreement with
the run on disk, Stop, cancel and run again. Uses the analytic `gmm` model (no trained weights)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from served import served

gradio_client = pytest.importorskip("gradio_client")

from tsearch.app import build_demo, state  # noqa: E402
from tsearch.runs import load_run  # noqa: E402

SEARCH = dict(model="gmm", prompt="", cls=1, verifiers=["gmm-density"], evaluator="", algorithm="random",
              budget=2000, steps=10, seed=0, batch_size=1, baseline=False, api_name="/search")


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    import os

    os.environ["TSEARCH_APP_RUNS"] = str(tmp_path_factory.mktemp("runs"))
    demo = build_demo(model="gmm")
    with served(demo) as url:
        yield url


@pytest.fixture
def client(url):
    # download_files=False, as docs/app.md recommends: files stay on the server and the client gets their
    # paths (here the same machine). Downloading every gallery image of every update cost ~50 ms a file
    # here (a fresh TLS context per download in gradio_client), minutes for a streamed search.
    return gradio_client.Client(url, verbose=False, download_files=False)


def local(value) -> Path:
    """The server's path of a file output (download_files=False gives its FileData)."""
    return Path(value["path"] if isinstance(value, dict) else value)


def first_update(job, timeout: float = 30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if job.outputs():
            return job.outputs()[0]
        time.sleep(0.05)
    raise AssertionError("no update from the search within the timeout")


def test_search_streams_updates_that_agree_with_the_run_on_disk(client, monkeypatch):
    # gmm can finish 200 candidates within a few 0.25 s throttle windows on a quiet machine; update
    # at most every 50 ms here so the streaming itself is what is tested, not the machine's speed
    monkeypatch.setattr(state, "UPDATE_INTERVAL", 0.05)
    started = time.perf_counter()
    job = client.submit(**SEARCH)
    first = first_update(job)
    print(f"first update after {time.perf_counter() - started:.2f} s")
    job.result(timeout=60)
    print(f"{len(job.outputs())} updates in {time.perf_counter() - started:.2f} s")
    job.result(timeout=60)
    updates = job.outputs()
    assert len(updates) >= 4, "at least 3 streamed updates before the last"
    assert first[5]["candidates"] >= 1 and first[0].startswith("Running")
    status, best, _card, chart, gallery, details = updates[-1]
    assert status.startswith("Done") and details["nfe_spent"] == 2000

    run = load_run(details["run_dir"])
    rows = {row["id"]: row for row in run.candidates}
    assert len(rows) == 200 and run.summary["best_id"] == details["best_id"]
    figure = json.loads(chart["plot"])
    points = next(trace for trace in figure["data"] if trace["name"] == "candidates")
    assert points["x"] == [row["nfe_spent"] for row in run.candidates]
    assert points["y"] == pytest.approx([row["score"] for row in run.candidates])
    line = next(trace for trace in figure["data"] if trace["name"] == "best so far")
    assert line["y"][-1] == pytest.approx(run.summary["best_score"])
    for item in gallery:
        score, number = re.fullmatch(r"(?:★ )?(\S+)\n\d+ NFE · #(\d+)", item["caption"]).groups()
        assert float(score) == pytest.approx(rows[int(number)]["score"], rel=1e-3)
        assert local(item["image"]).read_bytes() == (run.root / "images" / f"{int(number):06d}.png").read_bytes()
    assert gallery[0]["caption"].startswith("★ ") and gallery[0]["caption"].endswith(f" · #{run.summary['best_id']}")
    assert local(best).read_bytes() == (run.root / "images" / f"{run.summary['best_id']:06d}.png").read_bytes()


def test_cancel_mid_run_then_run_again(client):
    job = client.submit(**dict(SEARCH, budget=20000))
    run_dir = first_update(job)[5]["run_dir"]
    job.cancel()
    deadline = time.time() + 20
    while time.time() < deadline and not (load_run(run_dir).summary or {}).get("stopped"):
        time.sleep(0.1)
    summary = load_run(run_dir).summary
    assert summary and summary["stopped"] and summary["nfe_spent"] < 20000
    again = client.predict(**dict(SEARCH, budget=200))
    assert again[0].startswith("Done") and again[5]["nfe_spent"] == 200


def test_stop_endpoint_stops_this_clients_search(client):
    job = client.submit(**dict(SEARCH, budget=20000))
    first_update(job)
    client.predict(api_name="/stop")
    status, *_, details = job.result(timeout=30)
    assert status.startswith("Stopped") and details["stopped"] and details["nfe_spent"] < 20000


def test_bad_input_is_reported_and_the_app_keeps_working(client):
    with pytest.raises(Exception, match="below one candidate"):
        client.predict(**dict(SEARCH, budget=5))
    assert client.predict(**dict(SEARCH, budget=100))[0].startswith("Done")


def test_export_load_and_compare_endpoints(client):
    done = client.predict(**dict(SEARCH, budget=200))
    archive = client.predict(api_name="/export")
    assert local(archive).suffix == ".zip"
    loaded = client.predict(file=gradio_client.handle_file(str(local(archive))), api_name="/load_run")
    assert "loaded" in loaded[0] and loaded[5]["best_id"] == done[5]["best_id"]
    assert loaded[5]["candidates"] == done[5]["candidates"] == 20
    status, chart, cards, _ = client.predict(**{k: v for k, v in SEARCH.items() if k not in ("baseline", "api_name")}
                                          | {"budget": 100},
                                          mode="algorithms", algorithms=["random", "zero-order"],
                                          api_name="/compare")
    assert status.startswith("Compared 2 runs") and len(cards) == 2
    names = [trace["name"] for trace in json.loads(chart["plot"])["data"]]
    assert names == ["random", "zero-order"]


@pytest.fixture(scope="module")
def shapes_url(tmp_path_factory):
    """The app as it opens by default: on the bundled shapes model, its class picker empty."""
    demo = build_demo()
    with served(demo) as url:
        yield url


def test_a_class_over_the_api_works_when_the_page_opened_on_shapes(shapes_url):
    client = gradio_client.Client(shapes_url, verbose=False, download_files=False)
    done = client.predict(**dict(SEARCH, budget=100))
    assert done[0].startswith("Done") and done[5]["condition"] == 1
    for seed in (2**63 + 1, 2**64):
        with pytest.raises(Exception, match="seed must be"):
            client.predict(**dict(SEARCH, budget=100, seed=seed))
