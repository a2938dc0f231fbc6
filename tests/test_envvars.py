"""Environment variables are read and checked where they are used: a bad value is one ValueError naming it."""

import os
import subprocess
import sys

import pytest

from tsearch import envvars


def test_bad_verifier_timeout_never_breaks_the_import_and_is_named_on_use(monkeypatch):
    env = {**os.environ, "TSEARCH_VERIFIER_TIMEOUT": "abc"}
    code = "import tsearch, tsearch.engine, tsearch.api, tsearch.verifiers.deadline; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    import tsearch
    from tsearch.verifiers import deadline

    for bad in ("abc", "-5", "nan", "inf"):
        monkeypatch.setenv("TSEARCH_VERIFIER_TIMEOUT", bad)
        with pytest.raises(ValueError, match=r"^\$TSEARCH_VERIFIER_TIMEOUT: seconds >= 0.*got"):
            deadline.default_seconds()
        with pytest.raises(ValueError, match="TSEARCH_VERIFIER_TIMEOUT"):
            tsearch.search(model="gmm", cls=1, verifiers=["gmm-density"], budget=20)
    monkeypatch.setenv("TSEARCH_VERIFIER_TIMEOUT", "2.5")
    assert deadline.Caller().timeout == 2.5 and deadline.Caller(deadline.DEFAULT_SECONDS).timeout == 2.5
    assert deadline.Caller(0).timeout == 0   # 0: no deadline
    monkeypatch.setenv("TSEARCH_VERIFIER_TIMEOUT", "")
    assert deadline.default_seconds() == deadline.DEFAULT


def test_whole_and_folder_variables_are_checked(monkeypatch, tmp_path):
    for bad in ("abc", "0", "2.5", "99999"):
        monkeypatch.setenv("TSEARCH_APP_CONCURRENCY", bad)
        with pytest.raises(ValueError, match=r"^\$TSEARCH_APP_CONCURRENCY: a whole number of at least 1"):
            envvars.whole("TSEARCH_APP_CONCURRENCY", 2, 1, 1024)
    monkeypatch.setenv("TSEARCH_APP_CONCURRENCY", " 3 ")
    assert envvars.whole("TSEARCH_APP_CONCURRENCY", 2, 1, 1024) == 3
    from tsearch.app.runs_root import runs_root

    afile = tmp_path / "afile"
    afile.write_text("x")
    monkeypatch.setenv("TSEARCH_APP_RUNS", str(afile))
    with pytest.raises(ValueError, match=r"^\$TSEARCH_APP_RUNS: .* is a file"):
        runs_root()


def test_the_app_launcher_refuses_bad_port_and_threads_in_one_line(monkeypatch, capsys):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("tsearch_app_env", Path(__file__).resolve().parents[1] / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    for name, bad in (("PORT", "abc"), ("GRADIO_SERVER_PORT", "70000"), ("TSEARCH_THREADS", "0")):
        monkeypatch.setenv(name, bad)
        with pytest.raises(SystemExit) as caught:
            app.parse_args([])
        assert caught.value.code == 2 and f"error: ${name}: a whole number" in capsys.readouterr().err
        monkeypatch.delenv(name)
    monkeypatch.setenv("PORT", "8123")
    assert app.parse_args([]).port == 8123
