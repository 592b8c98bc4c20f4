"""Bundle cameras (OpenCV, plate pixels) to Blender cameras; numpy only, never imports bpy.

World axes. The bundle's world is the first camera's OpenCV frame (x right, y down, z forward).
Blender's world is Z-up, so we map ``X_blender = WORLD_FROM_OPENCV @ X_opencv`` with
``WORLD_FROM_OPENCV = Rx(-90 deg)``: OpenCV +z (forward) becomes Blender +Y and OpenCV +y (down)
becomes Blender -Z. The first camera then has Blender rotation (90, 0, 0): a level camera
looking along +Y, which is how a Blender user builds one by hand. Cameras and points get the
same map, so the reconstruction stands Z-up and projections are unchanged.

Camera axes. An OpenCV camera looks down +z with +y down; a Blender camera looks down -z with
+y up, so ``camera_blender = camera_opencv @ diag(1, -1, -1)``.

Intrinsics. Blender's view plane (``BKE_camera_params_compute_viewplane``) gives, for a plate
of ``W x H`` pixels with pixel aspect ``xasp : yasp`` (``ycor = yasp / xasp``) and
``viewfac = W`` (horizontal fit) or ``ycor * H`` (vertical fit):

    fx = lens * viewfac / sensor        cx = W / 2 - shift_x * viewfac
    fy = fx / ycor                       cy = H / 2 + shift_y * viewfac / ycor

(``cy`` grows downwards in plate pixels, Blender's shift_y points up). We invert these
exactly for the footage's pixel aspect (``ycor = 1 / pixel_aspect``; fx and fy become one
focal length), the fit follows the longer displayed side so portrait plates get a vertical
fit, and both sensor sizes are set so switching the fit in the UI does not silently change
the framing of the active axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry import invert_se3

WORLD_FROM_OPENCV = np.array(
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]],
)
"""Rx(-90 deg): OpenCV world (y down, z forward) to Blender world (Z up, Y forward)."""

CAMERA_AXES_FLIP = np.diag([1.0, -1.0, -1.0])
"""OpenCV camera axes (y down, z forward) to Blender camera axes (y up, looking down -z)."""

DEFAULT_SENSOR_MM = 36.0


@dataclass(frozen=True)
class BlenderLens:
    """Per-frame Blender camera data for a plate; arrays are float64 [S].

    ``pixel_aspect_x : pixel_aspect_y`` is the footage's pixel shape (Blender keeps the
    smaller at 1); ``residual_px`` is how far, at the plate edge, the one focal length per frame
    puts a point from where the separate fx and fy estimates put it.
    """

    lens: np.ndarray
    shift_x: np.ndarray
    shift_y: np.ndarray
    sensor_fit: str  # "HORIZONTAL" or "VERTICAL"
    sensor_size: float
    pixel_aspect_x: float
    pixel_aspect_y: float
    residual_px: float


def points_to_blender(points: np.ndarray) -> np.ndarray:
    """World points float [N, 3] in OpenCV world -> float32 [N, 3] in Blender world."""
    points = np.asarray(points, dtype=np.float32)
    # Rx(-90): (x, y, z) -> (x, z, -y), written as a copy of columns instead of a matmul.
    out = np.empty_like(points)
    out[:, 0] = points[:, 0]
    out[:, 1] = points[:, 2]
    out[:, 2] = -points[:, 1]
    return out


def camera_matrices_world(extrinsics: np.ndarray) -> np.ndarray:
    """Camera-from-world OpenCV [S, 3, 4] -> Blender camera ``matrix_world`` float64 [S, 4, 4]."""
    world_from_cam = invert_se3(np.asarray(extrinsics, dtype=np.float64))
    world_rotation, centre = world_from_cam[:, :, :3], world_from_cam[:, :, 3]
    matrices = np.zeros((len(extrinsics), 4, 4))
    matrices[:, :3, :3] = WORLD_FROM_OPENCV @ world_rotation @ CAMERA_AXES_FLIP
    matrices[:, :3, 3] = centre @ WORLD_FROM_OPENCV.T
    matrices[:, 3, 3] = 1.0
    return matrices


def euler_xyz_from_matrices(rotations: np.ndarray) -> np.ndarray:
    """Rotation matrices [S, 3, 3] -> Blender XYZ Euler angles [S, 3], unwrapped over time.

    Blender's XYZ order means R = Rz @ Ry @ Rx. Unwrapping keeps each channel continuous so
    linear interpolation between keys never spins the camera the long way round.
    """
    rotations = np.asarray(rotations, dtype=np.float64)
    cos_y = np.hypot(rotations[:, 0, 0], rotations[:, 1, 0])
    regular = cos_y > 1e-9
    angles = np.empty((len(rotations), 3))
    angles[:, 0] = np.where(
        regular,
        np.arctan2(rotations[:, 2, 1], rotations[:, 2, 2]),
        np.arctan2(-rotations[:, 1, 2], rotations[:, 1, 1]),
    )
    angles[:, 1] = np.arctan2(-rotations[:, 2, 0], cos_y)
    angles[:, 2] = np.where(regular, np.arctan2(rotations[:, 1, 0], rotations[:, 0, 0]), 0.0)
    return np.unwrap(angles, axis=0)


def intrinsics_to_lens(
    intrinsics: np.ndarray,
    width: int,
    height: int,
    sensor_size: float = DEFAULT_SENSOR_MM,
    pixel_aspect: float = 1.0,
) -> BlenderLens:
    """Plate-pixel intrinsics [S, 3, 3] -> lens, shifts and fit for a plate whose pixels are
    ``pixel_aspect`` (width / height, from the footage) wide.

    The pixel aspect comes from the footage, never from the network: VGGT's fx and fy are two
    noisy estimates of one focal length (a 1:1.51 aspect once came from them), so each frame
    gets their geometric mean (in horizontal pixels: ``sqrt(fx * fy / pixel_aspect)``) and
    ``residual_px`` reports the disagreement. Exact when ``fy = fx * pixel_aspect``.
    """
    intrinsics = np.asarray(intrinsics, dtype=np.float64)
    fx, fy = intrinsics[:, 0, 0], intrinsics[:, 1, 1]
    cx, cy = intrinsics[:, 0, 2], intrinsics[:, 1, 2]
    focal = np.sqrt(fx * fy / pixel_aspect)
    ycor = 1.0 / pixel_aspect  # Blender's yasp / xasp
    aspect_x, aspect_y = (pixel_aspect, 1.0) if pixel_aspect >= 1.0 else (1.0, ycor)
    horizontal = width * aspect_x >= height * aspect_y
    viewfac = width if horizontal else ycor * height
    residual = np.maximum(
        np.abs(focal / fx - 1.0) * width / 2.0,
        np.abs(focal * pixel_aspect / fy - 1.0) * height / 2.0,
    )
    return BlenderLens(
        lens=focal * sensor_size / viewfac,
        shift_x=(width / 2.0 - cx) / viewfac,
        shift_y=(cy - height / 2.0) * ycor / viewfac,
        sensor_fit="HORIZONTAL" if horizontal else "VERTICAL",
        sensor_size=sensor_size,
        pixel_aspect_x=float(aspect_x),
        pixel_aspect_y=float(aspect_y),
        residual_px=float(residual.max()),
    )
