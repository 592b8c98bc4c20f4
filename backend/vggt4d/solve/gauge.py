"""The solve's gauge, and the jitter of a camera path.

A bundle adjustment is defined only up to a similarity (rotation, translation, scale). We fix it
by the similarity that best maps the solved cameras onto the network's, so the solved shot stays
in VGGT4D's world and scale. Each camera contributes its centre and a point on its optical axis
at its median scene depth: the centres carry the gauge on a travelling shot, the axis points
still determine it on a tripod (nodal) shot, where all centres coincide.
"""

import numpy as np
from scipy.spatial.transform import Rotation

from vggt4d.geometry import Similarity, invert_se3


def gauge_to(
    extrinsics: np.ndarray,
    depths: np.ndarray,
    reference_extrinsics: np.ndarray,
    reference_depths: np.ndarray,
) -> Similarity:
    """The similarity moving cameras `extrinsics` onto `reference_extrinsics` (both [S, 3, 4]);
    depths [S] are each camera's median scene depth in its own world (> 0)."""
    return Similarity.fit(
        _anchor_points(extrinsics, depths), _anchor_points(reference_extrinsics, reference_depths)
    )


def _anchor_points(extrinsics: np.ndarray, depths: np.ndarray) -> np.ndarray:
    centres = invert_se3(extrinsics)[:, :, 3]
    axes = extrinsics[:, 2, :3]  # the optical axis is the third row of R, in world coordinates
    return np.concatenate([centres, centres + depths[:, None] * axes])


def jitter(extrinsics: np.ndarray) -> dict[str, float]:
    """High-frequency content of a camera path: the RMS of second differences of the camera
    centres (world units, and as a fraction of the median step between frames) and of the
    rotations (degrees). A smooth dolly has near zero; a shaky solve does not."""
    if len(extrinsics) < 3:
        return {"position": 0.0, "position_relative": 0.0, "rotation_deg": 0.0}
    centres = invert_se3(extrinsics)[:, :, 3]
    acceleration = centres[2:] - 2 * centres[1:-1] + centres[:-2]
    position = float(np.sqrt(np.mean(np.sum(acceleration**2, axis=1))))
    step = float(np.median(np.linalg.norm(np.diff(centres, axis=0), axis=1)))
    rotations = Rotation.from_matrix(extrinsics[:, :, :3])
    steps = rotations[1:] * rotations[:-1].inv()
    turn = (steps[1:] * steps[:-1].inv()).magnitude()
    return {
        "position": position,
        "position_relative": position / step if step > 0 else 0.0,
        "rotation_deg": float(np.degrees(np.sqrt(np.mean(turn**2)))),
    }
