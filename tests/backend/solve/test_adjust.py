"""Bundle-adjustment pieces on synthetic data: the analytic Jacobian, the solver, the gauge."""

import numpy as np
import pytest
from scipy.optimize._numdiff import approx_derivative
from scipy.spatial.transform import Rotation

from vggt4d.solve import adjust as adjust_module
from vggt4d.solve import levenberg
from vggt4d.solve.adjust import LensModel, adjust, reprojection_errors
from vggt4d.solve.gauge import Similarity, gauge_to, jitter
from vggt4d.solve.tracks import Tracks


def _scene(frames: int = 6, points: int = 80, seed: int = 0):
    rng = np.random.default_rng(seed)
    world = rng.uniform([-2, -1, 4], [2, 1, 8], size=(points, 3))
    extrinsics = np.zeros((frames, 3, 4))
    for index in range(frames):
        rotation = Rotation.from_euler("y", 3.0 * index, degrees=True).as_matrix()
        centre = np.array([0.3 * index, 0.05 * index, 0.1 * index])
        extrinsics[index] = np.concatenate([rotation, (-rotation @ centre)[:, None]], axis=1)
    intrinsics = np.tile(np.array([[300.0, 0, 160], [0, 300.0, 90], [0, 0, 1]]), (frames, 1, 1))
    frame = np.repeat(np.arange(frames), points).astype(np.int32)
    track = np.tile(np.arange(points), frames).astype(np.int32)
    empty = Tracks(frame, track, np.zeros((len(frame), 2)), 320, 180)
    distortion = np.array([-0.1, 0.02, 0.0])
    errors_free = adjust_module._reproject(
        empty,
        extrinsics[:, :, :3],
        extrinsics[:, :, 3],
        world,
        intrinsics[:, [0, 1], [0, 1]],
        intrinsics[:, :2, 2],
        distortion,
    )
    return Tracks(frame, track, errors_free, 320, 180), world, extrinsics, intrinsics, distortion


@pytest.mark.parametrize(
    "lens",
    [LensModel("shared", "polynomial", True), LensModel("per-frame"), LensModel("fixed")],
)
def test_analytic_jacobian_matches_finite_differences(lens):
    tracks, world, extrinsics, intrinsics, distortion = _scene(frames=3, points=5)
    layout = adjust_module._Layout(3, 5, lens)
    rng = np.random.default_rng(1)
    vector = rng.normal(size=layout.size) * 0.05
    vector[layout.slices["points"]] = world.ravel()

    def unpack(values):
        rotvecs = values[layout.slices["rotation"]].reshape(-1, 3)
        rotations = Rotation.from_rotvec(rotvecs).as_matrix() @ extrinsics[:, :, :3]
        log_focal = np.zeros(3) + (values[layout.slices["focal"]] if lens.focal != "fixed" else 0.0)
        focal = intrinsics[:, [0, 1], [0, 1]] * np.exp(log_focal)[:, None]
        centre = intrinsics[:, :2, 2] + (
            values[layout.slices["principal"]] if lens.principal_point else 0.0
        )
        lens_distortion = (
            values[layout.slices["distortion"]] if lens.distortion == "polynomial" else distortion
        )
        translations = values[layout.slices["translation"]].reshape(-1, 3)
        world_points = values[layout.slices["points"]].reshape(-1, 3)
        return rotations, translations, world_points, focal, centre, lens_distortion

    numeric = approx_derivative(
        lambda v: adjust_module._reproject(tracks, *unpack(v)).ravel(), vector, method="3-point"
    )
    rotvecs = vector[layout.slices["rotation"]].reshape(-1, 3)
    analytic = adjust_module._jacobian(tracks, layout, lens, rotvecs, *unpack(vector)).toarray()
    np.testing.assert_allclose(analytic, numeric, atol=1e-5 * np.abs(numeric).max())


def test_adjust_recovers_cameras_lens_and_rejects_nothing_on_clean_data():
    tracks, world, extrinsics, intrinsics, distortion = _scene()
    rng = np.random.default_rng(2)
    start = extrinsics.copy()
    start[:, :, 3] += rng.normal(size=(len(start), 3)) * 0.03
    start_intrinsics = intrinsics.copy()
    start_intrinsics[:, :2, :2] *= 1.04
    noisy_world = world + rng.normal(size=world.shape) * 0.05
    lens = LensModel("shared", "polynomial")
    result = adjust(tracks, noisy_world, start, start_intrinsics, np.zeros(3), lens, 1.0)
    assert np.max(result.errors) < 1e-4
    assert result.intrinsics[0, 0, 0] == pytest.approx(300.0, rel=1e-4)
    np.testing.assert_allclose(result.distortion, distortion, atol=1e-4)
    errors = reprojection_errors(
        tracks, result.points, result.extrinsics, result.intrinsics, result.distortion
    )
    np.testing.assert_allclose(errors, result.errors, atol=1e-9)


def test_sparse_camera_system_gives_the_dense_solution(monkeypatch):
    """Long shots solve the reduced camera system by sparse LU: the same steps as Cholesky."""
    tracks, world, extrinsics, intrinsics, _ = _scene()
    rng = np.random.default_rng(3)
    start = extrinsics.copy()
    start[:, :, 3] += rng.normal(size=(len(start), 3)) * 0.03
    noisy_world = world + rng.normal(size=world.shape) * 0.05
    lens = LensModel("shared")
    dense = adjust(tracks, noisy_world, start, intrinsics * 1.03, np.zeros(3), lens, 1.0, 5)
    monkeypatch.setattr(levenberg, "_DENSE_LIMIT", 0)
    sparse = adjust(tracks, noisy_world, start, intrinsics * 1.03, np.zeros(3), lens, 1.0, 5)
    assert sparse.iterations == dense.iterations
    np.testing.assert_allclose(sparse.extrinsics, dense.extrinsics, atol=1e-9)
    np.testing.assert_allclose(sparse.points, dense.points, atol=1e-9)


def test_gauge_undoes_a_similarity_of_the_world():
    _, world, extrinsics, _, _ = _scene()
    moved = Similarity(
        2.5,
        Rotation.from_euler("xyz", [10, -20, 30], degrees=True).as_matrix(),
        np.array([1.0, -2.0, 0.5]),
    )
    moved_cameras = moved.apply_cameras(extrinsics)
    # Every camera sees the moved world exactly as it saw the original (depths times 2.5).
    original = world @ extrinsics[0, :, :3].T + extrinsics[0, :, 3]
    seen = moved.apply_points(world) @ moved_cameras[0, :, :3].T + moved_cameras[0, :, 3]
    np.testing.assert_allclose(seen, 2.5 * original, atol=1e-9)
    depths = np.full(len(extrinsics), 6.0)
    back = gauge_to(moved_cameras, 2.5 * depths, extrinsics, depths)
    np.testing.assert_allclose(back.apply_cameras(moved_cameras), extrinsics, atol=1e-9)


def test_gauge_holds_on_a_tripod_shot():
    rotations = Rotation.from_euler("y", np.linspace(0, 30, 8)[:, None], degrees=True).as_matrix()
    extrinsics = np.concatenate([rotations, np.zeros((8, 3, 1))], axis=2)
    similarity = Similarity(0.5, np.eye(3), np.array([0.0, 0.0, 1.0]))
    moved = similarity.apply_cameras(extrinsics)
    back = gauge_to(moved, np.full(8, 2.0), extrinsics, np.full(8, 4.0))
    np.testing.assert_allclose(back.apply_cameras(moved), extrinsics, atol=1e-9)


def test_jitter_is_zero_on_a_smooth_dolly_and_grows_with_shake():
    _, _, extrinsics, _, _ = _scene(frames=10)
    smooth = jitter(extrinsics)
    assert smooth["position"] < 1e-9 and smooth["rotation_deg"] < 1e-6
    shaken = extrinsics.copy()
    shaken[::2, :, 3] += 0.01
    assert jitter(shaken)["position"] > 0.01
