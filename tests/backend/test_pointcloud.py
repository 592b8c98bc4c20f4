"""Static and dynamic clouds from a reconstruction-shaped object with known geometry."""

from dataclasses import dataclass

import numpy as np

from vggt4d.pointcloud import CloudOptions, build_point_clouds, voxel_downsample


@dataclass
class FakeReconstruction:
    """Just the fields `build_point_clouds` reads (the pipeline's Reconstruction has more)."""

    images: np.ndarray
    depth_conf: np.ndarray
    world_points: np.ndarray
    refined_masks: np.ndarray


def make_reconstruction(frames: int = 3, height: int = 8, width: int = 10) -> FakeReconstruction:
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    points = np.zeros((frames, height, width, 3), np.float32)
    points[..., 0] = columns
    points[..., 1] = rows
    points[..., 2] = np.arange(frames, dtype=np.float32)[:, None, None]
    confidence = np.tile(1.0 + columns, (frames, 1, 1))  # left columns least confident
    masks = np.zeros((frames, height, width), bool)
    for frame in range(frames):
        masks[frame, 2:4, 3 + frame : 6 + frame] = True
    images = np.random.default_rng(1).random((frames, height, width, 3)).astype(np.float32)
    return FakeReconstruction(images, confidence, points, masks)


def test_static_cloud_excludes_masked_and_low_confidence_pixels() -> None:
    reconstruction = make_reconstruction()
    clouds = build_point_clouds(
        reconstruction, CloudOptions(confidence_threshold=3.0, voxel_size=0.0)
    )
    expected = ~reconstruction.refined_masks & (reconstruction.depth_conf >= 3.0)
    assert len(clouds.static_points) == expected.sum()
    np.testing.assert_array_equal(clouds.static_points, reconstruction.world_points[expected])
    colors = np.round(reconstruction.images[expected] * 255).astype(np.uint8)
    np.testing.assert_array_equal(clouds.static_colors, colors)
    assert clouds.static_confidence.min() >= 3.0


def test_default_percentile_drops_the_least_confident_quarter() -> None:
    reconstruction = make_reconstruction()
    clouds = build_point_clouds(reconstruction, CloudOptions(voxel_size=0.0))
    threshold = np.percentile(reconstruction.depth_conf, 25)
    assert clouds.static_confidence.min() >= threshold
    kept = (~reconstruction.refined_masks & (reconstruction.depth_conf >= threshold)).sum()
    assert len(clouds.static_points) == kept


def test_dynamic_points_are_grouped_per_frame() -> None:
    reconstruction = make_reconstruction()
    clouds = build_point_clouds(reconstruction, CloudOptions(confidence_percentile=0))
    offsets = clouds.dynamic_frame_offsets
    np.testing.assert_array_equal(offsets, [0, 6, 12, 18])
    for frame in range(3):
        frame_points = clouds.dynamic_points[offsets[frame] : offsets[frame + 1]]
        np.testing.assert_array_equal(
            frame_points, reconstruction.world_points[frame][reconstruction.refined_masks[frame]]
        )
        assert (frame_points[:, 2] == frame).all()


def test_voxel_grid_merges_points_into_cell_means() -> None:
    points = np.array([[0.1, 0.1, 0.1], [0.3, 0.3, 0.3], [1.5, 0.2, 0.2]], np.float32)
    colors = np.array([[0, 0, 0], [100, 200, 50], [9, 9, 9]], np.uint8)
    confidence = np.array([2.0, 4.0, 5.0], np.float32)
    merged, merged_colors, merged_confidence = voxel_downsample(points, colors, confidence, 1.0)
    np.testing.assert_allclose(merged, [[0.2, 0.2, 0.2], [1.5, 0.2, 0.2]], rtol=1e-6)
    np.testing.assert_array_equal(merged_colors, [[50, 100, 25], [9, 9, 9]])
    np.testing.assert_array_equal(merged_confidence, [3.0, 5.0])


def test_default_voxel_is_relative_to_scene_size() -> None:
    small = make_reconstruction()
    large = make_reconstruction()
    large.world_points = large.world_points * 1000.0
    options = CloudOptions(confidence_percentile=0, voxel_fraction=0.2)
    small_cloud = build_point_clouds(small, options)
    large_cloud = build_point_clouds(large, options)
    assert len(small_cloud.static_points) == len(large_cloud.static_points)
    assert len(small_cloud.static_points) < (~small.refined_masks).sum()


def test_budget_is_deterministic_and_respected() -> None:
    reconstruction = make_reconstruction()
    options = CloudOptions(
        confidence_percentile=0,
        voxel_size=0.0,
        max_static_points=50,
        max_dynamic_points_per_frame=4,
    )
    first = build_point_clouds(reconstruction, options)
    second = build_point_clouds(reconstruction, options)
    assert len(first.static_points) == 50
    np.testing.assert_array_equal(first.static_points, second.static_points)
    np.testing.assert_array_equal(first.dynamic_frame_offsets, [0, 4, 8, 12])


def test_non_finite_points_are_dropped() -> None:
    reconstruction = make_reconstruction()
    reconstruction.world_points[0, 0, 0] = np.nan
    reconstruction.depth_conf[1, 0, 0] = np.inf
    clouds = build_point_clouds(reconstruction, CloudOptions(confidence_percentile=0, voxel_size=0))
    assert np.isfinite(clouds.static_points).all()
    assert len(clouds.static_points) == (~reconstruction.refined_masks).sum() - 2
