"""Camera-solve fixtures: Blender-rendered shots with known cameras, their trajectory error and
a lens-distorted variant (the "network" cameras and the bundle are in shot_bundle.py)."""

import os
import tempfile
from dataclasses import replace

import cv2
import numpy as np
import pytest

from tests.backend.solve.shot_bundle import PLATE_TO_MODEL
from vggt4d.eval.camera import camera_errors
from vggt4d.geometry import homogeneous, invert_se3
from vggt4d.solve.camera_solve import SolveResult, solve_cameras

# bpy reads this at its first import: a throwaway user folder, as in tests/blender.
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="vggt4d-solve-user-"))


@pytest.fixture(scope="session")
def shot(tmp_path_factory):
    from tests.backend.solve.blender_shot import render_shot

    return render_shot(tmp_path_factory.mktemp("solve_shot"))


@pytest.fixture(scope="session")
def crowded_shot(tmp_path_factory):
    """Movers twice the size: they cover a large part of the frame."""
    from tests.backend.solve.blender_shot import render_shot

    return render_shot(tmp_path_factory.mktemp("solve_crowded"), mover_scale=2.2, seed=3)


def solve_shot(shot, network, options=None, masks: bool = True, **kwargs) -> SolveResult:
    """`solve_cameras` on a rendered shot's whole plate from its "network" cameras, keeping
    tracks off its movers unless `masks` is False; kwargs go to `solve_cameras`."""
    return solve_cameras(
        list(shot.plates),
        network.extrinsics,
        network.intrinsics,
        network.depth,
        PLATE_TO_MODEL,
        exclude=list(shot.movers) if masks else None,
        options=options,
        **kwargs,
    )


def trajectory_error(extrinsics: np.ndarray, truth: np.ndarray) -> float:
    """ATE (camera centres after the best similarity), by the project's eval metric."""
    errors = camera_errors(homogeneous(invert_se3(truth)), homogeneous(invert_se3(extrinsics)))
    return errors.ate_rmse


def distort_shot(shot, k1: float, k2: float):
    """The shot seen through a polynomial lens (k1, k2 on normalised coordinates), warped with
    OpenCV: each distorted pixel takes the colour (depth, matte) of its undistorted position."""
    height, width = shot.depth.shape[1:]
    intrinsics = shot.intrinsics[0]
    opencv_matrix = intrinsics.copy()
    opencv_matrix[:2, 2] -= 0.5  # OpenCV puts pixel centres on integers
    columns, rows = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height))
    pixels = np.stack([columns, rows], axis=-1).reshape(-1, 1, 2)
    coefficients = np.array([k1, k2, 0.0, 0.0, 0.0])
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)
    undistorted = cv2.undistortPointsIter(
        pixels, opencv_matrix, coefficients, None, opencv_matrix, criteria
    )
    maps = undistorted.reshape(height, width, 2).astype(np.float32)

    def warp(image, interpolation):
        return cv2.remap(
            image, maps[..., 0], maps[..., 1], interpolation, borderMode=cv2.BORDER_REFLECT
        )

    plates = np.stack([warp(p, cv2.INTER_CUBIC) for p in shot.plates])
    depth = np.stack([warp(d, cv2.INTER_NEAREST) for d in shot.depth])
    movers = np.stack([warp(m.astype(np.uint8), cv2.INTER_NEAREST) > 0 for m in shot.movers])
    return replace(shot, plates=plates, depth=depth, movers=movers)
