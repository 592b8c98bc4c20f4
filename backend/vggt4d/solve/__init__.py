"""Matchmove camera solve: plate tracks and bundle adjustment on top of VGGT4D (docs/solve.md).

`solve_cameras` solves plates + network cameras + depth; `solve_bundle` re-solves a result
bundle in place from its plate.
"""
