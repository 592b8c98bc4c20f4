"""Point selection and scene-tool geometry; numpy only, never imports bpy."""

from __future__ import annotations

import numpy as np


def select_points(confidence: np.ndarray, threshold: float, budget: int) -> np.ndarray:
    """Indices of the points to import: confidence >= threshold, then at most ``budget``.

    Over budget we keep the most confident points (ties broken by file order), so lowering the
    budget drops the least reliable points first rather than a random subset. ``budget`` 0
    means no limit. Returned indices are sorted, so the file order is kept.
    """
    keep = np.flatnonzero(confidence >= threshold)
    if budget <= 0 or len(keep) <= budget:
        return keep
    best = np.argpartition(-confidence[keep], budget - 1)[:budget]
    return np.sort(keep[best])


def fit_plane(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares plane through points [N >= 3, 3]: (centroid [3], unit normal [3])."""
    points = np.asarray(points, dtype=np.float64)
    centroid = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - centroid, full_matrices=False)
    return centroid, vt[-1] / np.linalg.norm(vt[-1])


def rotation_between(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Smallest rotation [3, 3] turning unit vector ``source`` onto unit vector ``target``."""
    source = source / np.linalg.norm(source)
    target = target / np.linalg.norm(target)
    axis = np.cross(source, target)
    sine, cosine = np.linalg.norm(axis), float(np.dot(source, target))
    if sine < 1e-12:
        if cosine > 0:
            return np.eye(3)
        helper = np.eye(3)[np.argmin(np.abs(source))]
        axis = np.cross(source, helper)
        axis /= np.linalg.norm(axis)
        return 2.0 * np.outer(axis, axis) - np.eye(3)
    axis /= sine
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + sine * cross + (1.0 - cosine) * cross @ cross


def floor_transform(points: np.ndarray, up_hint: np.ndarray) -> np.ndarray:
    """World transform [4, 4] that lays the plane fitted to ``points`` on Z = 0, facing +Z.

    ``up_hint`` is a world point that must end up above the floor (the camera), which picks
    the sign of the normal. The fitted centroid lands on the world origin's Z plane only:
    X and Y are kept so the shot does not jump sideways.
    """
    centroid, normal = fit_plane(points)
    if np.dot(np.asarray(up_hint, dtype=np.float64) - centroid, normal) < 0:
        normal = -normal
    rotation = rotation_between(normal, np.array([0.0, 0.0, 1.0]))
    transform = np.eye(4)
    transform[:3, :3] = rotation
    transform[:3, 3] = -rotation @ centroid
    transform[:2, 3] += centroid[:2]
    return transform


def scale_transform(first: np.ndarray, second: np.ndarray, distance: float) -> np.ndarray:
    """Uniform scale [4, 4] about the world origin making |first - second| equal ``distance``."""
    current = float(np.linalg.norm(np.asarray(second) - np.asarray(first)))
    if current <= 0 or distance <= 0:
        raise ValueError("the two points must differ and the distance must be positive")
    transform = np.eye(4)
    transform[:3, :3] *= distance / current
    return transform
