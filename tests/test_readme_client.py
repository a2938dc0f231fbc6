"""The gradio_client example of docs/app.md, run as written (only the URL points at an app launched here): it
streams the search's updates as they come, with the images left on the server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("gradio_client")

from served import free_port  # noqa: E402
from tsearch.app import build_demo  # noqa: E402
from tsearch.runs import load_run  # noqa: E402

PAGE = Path(__file__).resolve().parent.parent / "docs" / "app.md"   # the page that holds the example
URL = "http://127.0.0.1:7860/"


def readme_snippet() -> str:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    (snippet,) = [b for b in blocks if "from gradio_client import Client" in b]
    return snippet


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    import os

    os.environ["TSEARCH_APP_RUNS"] = str(tmp_path_factory.mktemp("runs"))
    demo = build_demo()   # as `python app.py` opens: on shapes
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_the_readme_client_example_streams_updates_as_written(url, capsys):
    snippet = readme_snippet()
    assert URL in snippet and "download_files=False" in snippet and "client.submit(" in snippet
    namespace: dict = {}
    exec(compile(snippet.replace(URL, url), "docs/app.md", "exec"), namespace)
    printed = capsys.readouterr().out.splitlines()
    statuses = [line for line in printed if line.startswith(("Running", "Done", "Loading"))]
    assert len(statuses) >= 3, "several updates streamed before the last"
    assert statuses[0].startswith("Running") and statuses[-1].startswith("Done")
    details, best_image = namespace["details"], namespace["best_image"]
    assert details["nfe_spent"] == details["budget"] and not details["running"]
    run = load_run(details["run_dir"])
    assert run.config["algorithm"] == "zero-order" and run.config["evaluators"] == ["shapes-oracle"]
    assert Path(best_image["path"]).read_bytes() == (run.root / "images" / f"{details['best_id']:06d}.png").read_bytes()
    assert printed[-1] == f"{details['best_score']} {best_image['path']}"
