"""The deployment manifests parse and agree with app.py: the Deta Space `Spacefile` and the Hugging Face
Spaces front matter of README.md (sdk gradio, app_file app.py, sdk_version = the gradio pin)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_app():
    spec = importlib.util.spec_from_file_location("tsearch_app_main", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def front_matter(text: str) -> dict[str, str]:
    """The flat `key: value` block between the leading `---` lines (what Spaces reads)."""
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    if not match:
        return {}
    fields = {}
    for line in match.group(1).splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip().strip("'\"")
    return fields


def gradio_pin() -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(r"gradio(\[[\w,]+\])?==(\S+)", line)   # extras allowed: gradio[mcp]==X
        if match:
            return match.group(2)
    raise AssertionError("requirements.txt pins no gradio version")


def test_spacefile_is_a_deta_space_manifest_that_runs_the_app():
    yaml = pytest.importorskip("yaml")
    manifest = yaml.safe_load((ROOT / "Spacefile").read_text())
    assert manifest["v"] == 0
    (micro,) = manifest["micros"]
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", micro["name"])
    assert micro["primary"] is True and micro["src"] == "."
    assert (ROOT / micro["src"] / "app.py").exists()
    assert micro["engine"].startswith("python") or micro["engine"] == "custom"
    assert micro["run"].split()[:2] == ["python", "app.py"]
    assert "/*" in micro.get("public_routes", [])


def test_app_listens_where_the_manifests_say(monkeypatch):
    app = load_app()
    run = (ROOT / "Spacefile").read_text().split("run:", 1)[1].splitlines()[0].split()[2:]
    monkeypatch.setenv("PORT", "8123")
    args = app.parse_args(run)
    assert args.port == 8123 and args.host == "0.0.0.0" and not args.share   # Deta: $PORT, every interface
    monkeypatch.delenv("PORT")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7861")
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    args = app.parse_args([])
    assert (args.port, args.host) == (7861, "0.0.0.0")                        # Hugging Face Spaces
    for name in ("GRADIO_SERVER_PORT", "GRADIO_SERVER_NAME"):
        monkeypatch.delenv(name)
    args = app.parse_args([])
    assert (args.port, args.host, args.share) == (7860, "127.0.0.1", False)  # locally: loopback, no share link
    assert app.parse_args(["--port", "9000", "--share"]).port == 9000


def readmes() -> list[Path]:
    """README.md once the lead has pasted the front matter, else the helper's note that holds it."""
    candidates = [ROOT / "README.md", ROOT / ".notes" / "APP_README.md"]
    found = [p for p in candidates if p.exists() and front_matter(_front_block(p.read_text()))]
    return found[:1]


def _front_block(text: str) -> str:
    """README.md starts with the block; the note shows it inside a ```yaml fence."""
    fenced = re.search(r"```yaml\n(---\n.*?\n---\n)```", text, re.S)
    return text if text.startswith("---\n") else (fenced.group(1) if fenced else "")


def test_readme_front_matter_agrees_with_app_and_requirements():
    import gradio

    sources = readmes()
    if not sources:
        pytest.skip("no README front matter yet (the lead pastes it from .notes/APP_README.md)")
    fields = front_matter(_front_block(sources[0].read_text()))
    assert fields["sdk"] == "gradio"
    assert fields["app_file"] == "app.py" and (ROOT / fields["app_file"]).exists()
    assert fields["sdk_version"] == gradio_pin() == gradio.__version__
    assert "build_demo" in (ROOT / "app.py").read_text()
