"""`vggt4d eval`: score a result bundle against ground truth the way the field does
(docs/eval.md).

Module map: `camera` (ATE / RPE through evo), `masks` (DAVIS J and F), `depth` (Abs-Rel and
δ<1.25), `groundtruth` (one sequence's truth, the generic layout), `datasets` (DAVIS, Sintel,
TUM and Bonn layouts), `score` (match frames, run the metrics), `report` (table, report.json,
pictures), `command` (`vggt4d eval BUNDLE --gt PATH`), `benchmark` (`--dataset`, through
`vggt4d batch`). Needs the `eval` extra (`pip install "./backend[eval]"`: evo, matplotlib).
"""
