"""The arena (issue 19): every registered method on one benchmark split, at equal NFEs and equal seconds.

A thin layer over sweeps (`tsearch.sweep`): the arena writes a spec, runs it resumably (local or Ray, the
sweep's backend flags), then reads every cell back through the run records:
- `curves`: one cell's outcome at a budget; anytime methods (`search.base.is_anytime`) run once at the top
  budget and every smaller budget is read off their candidates' cumulative NFEs (or seconds);
- `leaderboard`: the tables and the verdicts, with the sweep's statistics (`tsearch.sweep.stats`: paired
  bootstrap intervals over the same captions and seeds, compute to reach random search's accuracy), headline
  (`tsearch.sweep.headline`) and device note (`tsearch.sweep.device_note`);
- `plots`: plotly HTML and a PNG; `cli`: `python -m tsearch arena`; `ladder`: the verifier ladder; `live`: a
  small arena as a library call (the app's Arena tab).
"""
