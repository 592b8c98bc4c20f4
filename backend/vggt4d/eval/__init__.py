"""`vggt4d eval`: score a result bundle against ground truth the way the field does.

Module map: `camera` (ATE / RPE through evo), `masks` (DAVIS J and F), `depth` (Abs-Rel and
δ<1.25). Needs the `eval` extra (`pip install "./backend[eval]"`), which brings evo and
matplotlib.
"""
