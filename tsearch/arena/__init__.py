"""The arena (issue 19): every registered method on one benchmark split, at equal NFEs and equal seconds.

A thin layer over sweeps (`tsearch.sweep`): the arena writes a spec, runs it resumably (local or Ray),
then reads every cell's candidates back:
- `curves`: one cell's outcome at a budget; anytime methods (`search.base.is_anytime`) run once at the top
  budget and every smaller budget is read off their candidates' cumulative NFEs (or seconds);
- `stats`: paired statistics over the same captions and seeds (bootstrap intervals, wins and losses,
  compute to reach random search's accuracy);
- `leaderboard`: the tables and the verdicts; `plots`: plotly HTML and a PNG; `cli`: `python -m tsearch arena`.
"""
