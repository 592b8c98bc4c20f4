"""Camera trajectory errors: ATE and RPE after a Sim(3) alignment, computed by `evo`.

The protocol is the one the dynamic-reconstruction papers (MonST3R, Easi3R, CUT3R, VGGT4D)
use through evo (Grupp, "evo: Python package for the evaluation of odometry and SLAM",
github.com/MichaelGrupp/evo):

1. The estimated camera centres are aligned to the ground truth with Umeyama's least-squares
   similarity (rotation, translation and scale; Umeyama 1991), because a monocular
   reconstruction is only defined up to a similarity.
2. ATE = RMSE over frames of the distance between aligned and true camera centres (evo APE,
   translation part), in the ground truth's units.
3. RPE = RMSE over consecutive frame pairs (delta = 1 frame) of the relative-pose error
   E_i = (Q_i^-1 Q_i+1)^-1 (P_i^-1 P_i+1) (Sturm et al., TUM RGB-D benchmark, IROS 2012):
   its translation norm (RPE-trans, ground-truth units) and rotation angle (RPE-rot, degrees).

A camera that never moves (a tripod pan) has no defined similarity: then ATE and RPE-trans are
None and RPE-rot is computed without alignment (a rotation error does not depend on it).
evo refuses paths whose covariance has rank < 2 (a straight dolly, or an estimate that never
moves); their least-squares similarity is still unique up to a spin about the line, which
changes no error, so Umeyama's closed form is then evaluated here without that rank check.
"""

import copy
from dataclasses import dataclass

import numpy as np
from evo.core import lie_algebra, metrics
from evo.core.geometry import GeometryException, umeyama_alignment
from evo.core.trajectory import PoseTrajectory3D

from vggt4d.geometry import Similarity

_MIN_FRAMES = 3
_STATIC = 1e-9  # a true path spread this small (relative to its distance from 0) is a tripod


@dataclass(frozen=True)
class CameraErrors:
    """Errors of one trajectory. Per-frame arrays follow the frames given; `rpe_*_per_pair[i]`
    belongs to the pair (frame i, frame i + 1)."""

    ate_rmse: float | None
    rpe_trans: float | None
    rpe_rot_deg: float
    scale: float | None  # the Sim(3) scale applied to the estimate
    ate_per_frame: np.ndarray | None  # float64 [N]
    rpe_trans_per_pair: np.ndarray | None  # float64 [N - 1]
    rpe_rot_deg_per_pair: np.ndarray  # float64 [N - 1]
    aligned_centres: np.ndarray | None  # float64 [N, 3] estimate after alignment
    reference_centres: np.ndarray  # float64 [N, 3]
    straight: bool = False  # a path too straight for evo's alignment (module docstring)


def camera_errors(
    reference_world_from_cam: np.ndarray,
    estimate_world_from_cam: np.ndarray,
    timestamps: np.ndarray | None = None,
) -> CameraErrors:
    """ATE, RPE-trans and RPE-rot of `estimate` against `reference` (see the module docstring).

    reference_world_from_cam, estimate_world_from_cam: float [N, 4, 4] world_from_cam poses of the
        same N frames in the same order (any axis convention, the same in both).
    timestamps: float [N] seconds, only carried into evo (default 0, 1, 2, ...).
    Raises ValueError for fewer than 3 frames or mismatched shapes.
    """
    reference = np.asarray(reference_world_from_cam, dtype=np.float64)
    estimate = np.asarray(estimate_world_from_cam, dtype=np.float64)
    if reference.shape != estimate.shape or reference.shape[1:] != (4, 4):
        raise ValueError(f"poses {reference.shape} and {estimate.shape} must both be [N, 4, 4]")
    if len(reference) < _MIN_FRAMES:
        raise ValueError(f"camera errors need at least {_MIN_FRAMES} frames, got {len(reference)}")
    stamps = np.arange(len(reference), dtype=np.float64) if timestamps is None else timestamps
    reference_path = PoseTrajectory3D(poses_se3=list(reference), timestamps=np.asarray(stamps))
    estimate_path = PoseTrajectory3D(poses_se3=list(estimate), timestamps=np.asarray(stamps))
    rotation = _relative_errors(
        reference_path, estimate_path, metrics.PoseRelation.rotation_angle_deg
    )
    centres = reference_path.positions_xyz
    spread = np.sqrt(np.mean(np.sum((centres - centres.mean(0)) ** 2, axis=1)))
    if spread <= _STATIC * max(1.0, float(np.linalg.norm(centres.mean(0)))):
        return CameraErrors(
            ate_rmse=None,
            rpe_trans=None,
            rpe_rot_deg=_rmse(rotation),
            scale=None,
            ate_per_frame=None,
            rpe_trans_per_pair=None,
            rpe_rot_deg_per_pair=rotation,
            aligned_centres=None,
            reference_centres=centres,
        )
    source, target = estimate_path.positions_xyz.T, centres.T
    try:
        turn, shift, scale = umeyama_alignment(source, target, with_scale=True)
        straight = False
    except GeometryException:  # a straight path: Umeyama's closed form without the rank check
        fit = Similarity.fit(source.T, target.T)
        turn, shift, scale = fit.rotation, fit.translation, fit.scale
        straight = True
    aligned = copy.deepcopy(estimate_path)
    aligned.scale(scale)
    aligned.transform(lie_algebra.se3(turn, shift))
    absolute = metrics.APE(metrics.PoseRelation.translation_part)
    absolute.process_data((reference_path, aligned))
    translation = _relative_errors(reference_path, aligned, metrics.PoseRelation.translation_part)
    return CameraErrors(
        ate_rmse=_rmse(absolute.error),
        rpe_trans=_rmse(translation),
        rpe_rot_deg=_rmse(rotation),
        scale=float(scale),
        ate_per_frame=absolute.error,
        rpe_trans_per_pair=translation,
        rpe_rot_deg_per_pair=rotation,
        aligned_centres=aligned.positions_xyz,
        reference_centres=centres,
        straight=straight,
    )


def _relative_errors(
    reference: PoseTrajectory3D, estimate: PoseTrajectory3D, relation: metrics.PoseRelation
) -> np.ndarray:
    relative = metrics.RPE(relation, delta=1, delta_unit=metrics.Unit.frames, all_pairs=False)
    relative.process_data((reference, estimate))
    return np.asarray(relative.error, dtype=np.float64)


def _rmse(errors: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(errors))))
