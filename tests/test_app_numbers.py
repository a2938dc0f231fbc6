"""Issue 21: a number field given a string or NaN by a gradio_client or REST caller gets a message naming the
field and the type it takes (tsearch.app.numbers), not gradio's generic "upstream app raised an exception"."""

from __future__ import annotations

import json
import math
import urllib.request

import pytest
from served import served

gradio_client = pytest.importorskip("gradio_client")

from tsearch.app import build_demo  # noqa: E402

SEARCH = dict(model="gmm", prompt="", cls=1, verifiers=["gmm-density"], evaluator="", algorithm="random",
              budget=40, steps=4, seed=0, batch_size=4, baseline=False)


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    import os

    os.environ["TSEARCH_APP_RUNS"] = str(tmp_path_factory.mktemp("runs"))
    demo = build_demo(model="gmm")
    with served(demo) as url:
        yield url


@pytest.mark.parametrize("field,value,expected", [
    ("budget", "lots", "budget (the field \"Budget (NFEs)\"): expected a number, got 'lots'"),
    ("batch_size", "x", "batch_size (the field \"Batch size\"): expected a whole number, got 'x'"),
    ("seed", 2.5, "seed (the field \"Seed\"): expected a whole number, got 2.5"),
    ("steps", [4], "steps (the field \"Denoising steps per candidate\"): expected a whole number, got [4]"),
])
def test_gradio_client_callers_are_told_the_field_and_type(url, field, value, expected):
    client = gradio_client.Client(url, verbose=False, download_files=False)
    with pytest.raises(Exception) as caught:
        client.predict(**{**SEARCH, field: value}, api_name="/search")
    assert str(caught.value) == expected


def test_rest_callers_sending_nan_are_told_the_field(url):
    client = gradio_client.Client(url, verbose=False, download_files=False)
    params = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/search"]["parameters"]
    defaults = {p["parameter_name"]: p.get("parameter_default") for p in params}
    for field in ("steps", "seed", "batch_size", "height"):
        values = {**defaults, **SEARCH, field: math.nan}
        body = json.dumps({"data": [values[p["parameter_name"]] for p in params]}).encode()   # NaN, as JS can send
        request = urllib.request.Request(url + "gradio_api/call/search", body, {"Content-Type": "application/json"})
        event = json.loads(urllib.request.urlopen(request, timeout=30).read())["event_id"]
        stream = urllib.request.urlopen(url + f"gradio_api/call/search/{event}", timeout=30).read().decode()
        assert "event: error" in stream, stream
        error = json.loads(stream.split("data: ", 1)[1].splitlines()[0])["error"]
        assert error.startswith(f"{field} (the field ") and error.endswith("expected a finite number, got NaN")
