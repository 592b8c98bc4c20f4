"""Blender's own view-plane rule, written independently of the importer as a test oracle."""

import numpy as np


def lens_to_intrinsics(
    lens: float,
    shift_x: float,
    shift_y: float,
    sensor_fit: str,
    sensor_width: float,
    sensor_height: float,
    width: int,
    height: int,
    pixel_aspect_x: float = 1.0,
    pixel_aspect_y: float = 1.0,
) -> np.ndarray:
    """Blender camera + render settings -> 3x3 intrinsics in plate pixels (Blender's own rules).

    Follows ``BKE_camera_params_compute_viewplane`` including the AUTO fit: the tests' oracle
    for ``camera_math.intrinsics_to_lens``, checked against a Blender camera without rendering.
    """
    ycor = pixel_aspect_y / pixel_aspect_x
    if sensor_fit == "AUTO":
        sensor_fit = (
            "HORIZONTAL" if pixel_aspect_x * width >= pixel_aspect_y * height else "VERTICAL"
        )
        sensor = sensor_width
    else:
        sensor = sensor_width if sensor_fit == "HORIZONTAL" else sensor_height
    viewfac = width if sensor_fit == "HORIZONTAL" else ycor * height
    fx = lens * viewfac / sensor
    return np.array(
        [
            [fx, 0.0, width / 2.0 - shift_x * viewfac],
            [0.0, fx / ycor, height / 2.0 + shift_y * viewfac / ycor],
            [0.0, 0.0, 1.0],
        ]
    )
