"""Sim(3) between chunks: recovered under noise and outliers, and cameras moved consistently."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vggt4d.errors import ReconstructionError
from vggt4d.geometry import Similarity
from vggt4d.stitching import align_points


def _random_similarity(rng: np.random.Generator) -> Similarity:
    return Similarity(
        float(np.exp(rng.uniform(-1.5, 1.5))),
        Rotation.random(random_state=rng.integers(1 << 31)).as_matrix(),
        rng.normal(scale=5.0, size=3),
    )


@pytest.mark.parametrize("seed", range(5))
def test_similarity_is_recovered_through_noise_and_outliers(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = _random_similarity(rng)
    target = rng.uniform([-3, -2, 2], [3, 2, 9], (5000, 3))  # a scene in front of a camera
    inverse = Similarity.from_matrix(np.linalg.inv(truth.matrix()))
    source = inverse.apply_points(target)
    spread = np.median(np.linalg.norm(target - np.median(target, 0), axis=1))
    noisy_target = target + rng.normal(scale=0.002 * spread, size=target.shape)
    outliers = rng.random(len(target)) < 0.3  # e.g. a mover the masks missed
    noisy_target[outliers] += rng.normal(scale=0.5 * spread, size=(outliers.sum(), 3))

    alignment = align_points(source, noisy_target, seed=seed)

    assert alignment.similarity.scale == pytest.approx(truth.scale, rel=1e-3)
    np.testing.assert_allclose(alignment.similarity.rotation, truth.rotation, atol=2e-3)
    moved = alignment.similarity.apply_points(source[~outliers])
    assert np.sqrt(np.mean(np.sum((moved - target[~outliers]) ** 2, 1))) < 0.002 * spread
    assert alignment.relative_residual < 0.01
    assert 0.6 < alignment.inlier_fraction < 0.8


def test_moved_cameras_see_moved_points_at_the_same_pixels() -> None:
    rng = np.random.default_rng(3)
    similarity = _random_similarity(rng)
    rotation = Rotation.random(random_state=4).as_matrix()
    cameras = np.concatenate([rotation, rng.normal(size=(3, 1))], axis=1)[None]
    points = rng.normal(size=(50, 3)) + np.array([0.0, 0.0, 6.0])
    before = points @ cameras[0, :, :3].T + cameras[0, :, 3]
    moved = similarity.apply_cameras(cameras)[0]
    after = similarity.apply_points(points) @ moved[:, :3].T + moved[:, 3]
    np.testing.assert_allclose(after, similarity.scale * before, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(moved[:, :3] @ moved[:, :3].T, np.eye(3), atol=1e-12)


def test_round_trip_and_composition() -> None:
    rng = np.random.default_rng(5)
    first, second = _random_similarity(rng), _random_similarity(rng)
    points = rng.normal(size=(10, 3))
    both = second.apply_points(first.apply_points(points))
    np.testing.assert_allclose(first.then(second).apply_points(points), both, atol=1e-9)
    again = Similarity.from_dict(first.to_dict())
    np.testing.assert_allclose(again.matrix(), first.matrix())


def test_too_few_points_is_a_reconstruction_error() -> None:
    points = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(ReconstructionError, match="larger overlap"):
        align_points(points, points)
