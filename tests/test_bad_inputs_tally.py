"""The bad-input tally (`python -m tests.bad_inputs`) in CI: every one of its 500-odd cases over the CLI, the Python
API and the app's handlers is refused clearly (one line naming the argument) or, when valid, accepted. Run here
so that a refactor which moves a door's work elsewhere cannot leave a case testing nothing (the arena's failing
cells once patched `api.prepare` after the sweep stopped calling it, and the case quietly passed its cells)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BAD = ("unclear", "crash", "hang", "wrongly accepted", "refused (valid)")


def test_every_bad_input_is_refused_clearly_and_every_valid_one_accepted():
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "tests.bad_inputs", "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    total = result["tally"]["total"]
    assert total["cases"] >= 500 and set(result["tally"]) >= {"cli", "api", "app"}
    assert {kind: total[kind] for kind in BAD} == dict.fromkeys(BAD, 0), result["non_clear"][:5]
    assert total["clear"] + total["accepted (valid)"] == total["cases"]
