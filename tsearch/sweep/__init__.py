"""Sweeps: many searches (prompts x seeds x methods x budgets) from one TOML spec (DESIGN.md, "Scale: sweeps").

    from tsearch.sweep import load_spec, run_sweep
    outcome = run_sweep(load_spec("sweeps/gmm_smoke.toml"), "out/gmm")     # resumes where it stopped
    # python -m tsearch sweep sweeps/gmm_smoke.toml --out out/gmm [--backend ray]; python -m tsearch report out/gmm

`spec` turns a spec into cells (one validated SearchConfig each), `results` is DIR/results.jsonl,
`local` and `ray_backend` run cells, `report` makes the tables and report.html, `cli` the commands.
"""

from tsearch.sweep.driver import Outcome, run_sweep
from tsearch.sweep.spec import Cell, Sweep, cell_key, load_spec, parse_spec

__all__ = ["Cell", "Outcome", "Sweep", "cell_key", "load_spec", "parse_spec", "run_sweep"]
