"""Each ground-truth loader on a tiny folder laid out exactly as the real dataset unpacks."""

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from tests.backend.conftest import make_bundle_data
from tests.backend.eval.benchmark_layouts import (
    make_davis,
    make_sintel,
    make_tum,
    moving_box,
    orbit,
)
from vggt4d.errors import InputError
from vggt4d.eval.datasets import list_sequences, load_ground_truth
from vggt4d.eval.groundtruth import detect_layout
from vggt4d.io.bundle import BundleData
from vggt4d.io.exports import export_tum, tum_timestamps


def frame_times(data: BundleData) -> dict[int, float]:
    return dict(zip(data.frames, tum_timestamps(data), strict=True))


def test_davis_2016_and_2017(tmp_path: Path) -> None:
    make_davis(tmp_path, "bear", frames=3)
    assert detect_layout(tmp_path) == "davis"
    assert list_sequences(tmp_path, "davis") == ["bear"]
    truth = load_ground_truth(tmp_path, "davis", "bear")
    assert sorted(truth.mask_files) == [0, 1, 2] == sorted(truth.image_files)
    moving, void = truth.read_mask(truth.mask_files[1])
    np.testing.assert_array_equal(moving, moving_box((24, 32), 1))
    assert void is None
    truth = load_ground_truth(tmp_path, "davis2017", "bear")
    moving, void = truth.read_mask(truth.mask_files[2])
    expected = moving_box((24, 32), 2)
    expected[0] = False
    np.testing.assert_array_equal(moving, expected)  # both objects, void excluded
    np.testing.assert_array_equal(void, np.arange(24)[:, None].repeat(32, 1) == 0)
    with pytest.raises(InputError, match="it has: bear"):
        load_ground_truth(tmp_path, "davis", "horse")


def test_davis_2016_archive_split(tmp_path: Path) -> None:
    make_davis(tmp_path, "bear")
    (tmp_path / "ImageSets/2016/val.txt").unlink()
    pairs = tmp_path / "ImageSets/480p/val.txt"
    pairs.parent.mkdir(parents=True)
    pairs.write_text(
        "".join(
            f"/JPEGImages/480p/bear/{i:05d}.jpg /Annotations/480p/bear/{i:05d}.png\n"
            for i in range(3)
        )
    )
    assert list_sequences(tmp_path, "davis") == ["bear"]


def test_sintel(tmp_path: Path) -> None:
    poses = orbit(4)
    depth = np.random.default_rng(0).uniform(1, 90, (4, 6, 8))
    make_sintel(tmp_path, "alley_2", poses, depth)
    make_sintel(tmp_path, "alley_1", poses[:3], depth[:3])  # not in the evaluated subset
    assert detect_layout(tmp_path) == "sintel"
    assert list_sequences(tmp_path, "sintel") == ["alley_2"]
    truth = load_ground_truth(tmp_path, "sintel", "alley_2")
    assert (
        sorted(truth.poses)
        == [1, 2, 3, 4]
        == sorted(truth.depth_files)
        == sorted(truth.image_files)
    )
    np.testing.assert_allclose(np.stack([truth.poses[i] for i in (1, 2, 3, 4)]), poses, atol=1e-12)
    np.testing.assert_allclose(truth.read_depth(truth.depth_files[3]), depth[2].astype(np.float32))
    assert truth.max_depth == 70 and not truth.mask_files
    # also found from the folder that holds training/
    assert load_ground_truth(tmp_path / "training", "sintel", "alley_1").poses.keys() == {1, 2, 3}


@pytest.mark.parametrize("layout", ["tum", "bonn"])
def test_tum_and_bonn_associate_by_time(tmp_path: Path, layout: str) -> None:
    name = "rgbd_dataset_freiburg3_walking_xyz" if layout == "tum" else "rgbd_bonn_balloon"
    folder = tmp_path / name
    poses = orbit(5)
    depth = np.random.default_rng(1).uniform(0.5, 4, (5, 6, 8))
    make_tum(folder, poses, depth)
    assert detect_layout(folder) == layout
    assert list_sequences(tmp_path, layout) == [str(folder)]
    truth = load_ground_truth(folder)
    assert truth.layout == layout
    assert sorted(truth.poses) == [2, 3, 4, 5]  # frame 1 has no ground truth within 20 ms
    for frame in truth.poses:
        np.testing.assert_allclose(truth.poses[frame], poses[frame - 1], atol=1e-6)
    assert sorted(truth.depth_files) == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(truth.read_depth(truth.depth_files[2]), depth[1], atol=1e-4)
    assert truth.image_files[1].name.startswith("1305031102.175304")


def test_generic_layout_reads_our_own_export(tmp_path: Path) -> None:
    data = make_bundle_data(frames=4)
    export_tum(data, tmp_path / "trajectory.txt")
    masks = tmp_path / "masks"
    masks.mkdir()
    for frame, mask in zip(data.frames, data.refined_masks, strict=True):
        cv2.imwrite(
            str(masks / f"matte_v002.{frame:04d}.png"), np.where(mask, 1, 0).astype(np.uint8)
        )
    (tmp_path / "depth").mkdir()
    np.save(tmp_path / "depth" / f"d{data.frames[0]}.npy", np.full((3, 4), 2.5))
    cv2.imwrite(
        str(tmp_path / "depth" / f"d{data.frames[1]}.png"), np.full((3, 4), 1250, np.uint16)
    )
    assert detect_layout(tmp_path) == "generic"
    truth = load_ground_truth(tmp_path, frame_times=frame_times(data))
    assert sorted(truth.poses) == data.frames
    world_to_camera = np.linalg.inv(truth.poses[data.frames[2]])
    np.testing.assert_allclose(world_to_camera[:3], data.extrinsics[2], atol=1e-9)
    moving, _ = truth.read_mask(truth.mask_files[data.frames[1]])
    np.testing.assert_array_equal(moving, data.refined_masks[1])
    assert truth.read_depth(truth.depth_files[data.frames[0]])[0, 0] == 2.5
    assert truth.read_depth(truth.depth_files[data.frames[1]])[0, 0] == 1.25
    with pytest.raises(InputError, match="no timestamp is a frame time of the bundle"):
        load_ground_truth(tmp_path, frame_times=frame_times(replace(data, fps=30.0)))


def test_generic_trajectory_of_a_variable_rate_video(tmp_path: Path) -> None:
    """A video's frames sit at their real presentation times (uneven here: a dropped frame),
    as `vggt4d export --tum` writes them; a denser trajectory (100 Hz) works as well."""
    data = make_bundle_data(frames=4)
    times = [0.0, 1 / 24, 2 / 24, 4 / 24]
    data.frames = [1001, 1002, 1003, 1005]
    data.source = {**data.source, "timestamps": times, "variable_frame_rate": True}
    export_tum(data, tmp_path / "trajectory.txt")
    truth = load_ground_truth(tmp_path, frame_times=frame_times(data))
    for index, frame in enumerate(data.frames):
        np.testing.assert_allclose(
            np.linalg.inv(truth.poses[frame])[:3], data.extrinsics[index], atol=1e-9
        )
    dense, stamps = ["# mocap at 100 Hz"], np.round(np.arange(0, 0.2, 0.01), 2)
    true_poses = np.linalg.inv(
        np.concatenate([data.extrinsics, np.tile([[[0, 0, 0, 1.0]]], (4, 1, 1))], 1)
    )
    for stamp in stamps:
        index = int(np.argmin(np.abs(np.array(times) - stamp)))
        pose = true_poses[index].copy()
        pose[:3, 3] += abs(times[index] - stamp)  # off by its distance in time from the frame
        x, y, z, w = Rotation.from_matrix(pose[:3, :3]).as_quat()
        dense.append(" ".join(f"{v:.12g}" for v in (stamp, *pose[:3, 3], x, y, z, w)))
    (tmp_path / "trajectory.txt").write_text("\n".join(dense) + "\n")
    truth = load_ground_truth(tmp_path, frame_times=frame_times(data))
    assert sorted(truth.poses) == [1001, 1002, 1003, 1005]
    for index, frame in enumerate(data.frames):  # the nearest sample is taken
        nearest = np.min(np.abs(stamps - times[index]))
        np.testing.assert_allclose(
            truth.poses[frame][:3, 3], true_poses[index][:3, 3] + nearest, atol=1e-9
        )


def test_unusable_folders_say_why(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="Cannot tell the layout"):
        load_ground_truth(tmp_path)
    with pytest.raises(InputError, match="nothing to score"):
        load_ground_truth(tmp_path, "generic")
    (tmp_path / "trajectory.txt").write_text("0 1 2\n")
    with pytest.raises(InputError, match="Cannot read the TUM trajectory"):
        load_ground_truth(tmp_path, frame_times={1: 1 / 24})


def test_generic_masks_in_any_image_form(tmp_path: Path) -> None:
    """Grey, colour, 16-bit, and RGBA (opaque: the colour counts; a matte: the alpha counts)."""
    moving = moving_box((24, 32), 1)
    forms = {
        "grey": np.where(moving, 1, 0).astype(np.uint8),
        "wide": np.where(moving, 65535, 0).astype(np.uint16),
        "colour": np.where(moving[..., None], [0, 0, 200], 0).astype(np.uint8),
        "opaque": np.where(moving[..., None], [0, 9, 0, 255], [0, 0, 0, 255]).astype(np.uint8),
        "matte": np.where(moving[..., None], [80, 80, 80, 255], [80, 80, 80, 0]).astype(np.uint8),
    }
    (tmp_path / "masks").mkdir()
    for number, (name, image) in enumerate(forms.items()):
        cv2.imwrite(str(tmp_path / "masks" / f"{name}.{number}.png"), image)
    truth = load_ground_truth(tmp_path, "generic")
    for number in range(len(forms)):
        np.testing.assert_array_equal(truth.read_mask(truth.mask_files[number])[0], moving)
