"""Tiny copies of the public benchmarks' folder layouts, written by tests with known content."""

from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from scipy.spatial.transform import Rotation

SINTEL_TAG = np.float32(202021.25)


def orbit(count: int, radius: float = 2.0) -> np.ndarray:
    """world_from_cam float64 [count, 4, 4]: cameras on an arc looking at the origin (OpenCV
    axes: z forward, y down)."""
    poses = np.tile(np.eye(4), (count, 1, 1))
    for index in range(count):
        angle = 0.15 * index
        centre = np.array([radius * np.sin(angle), -0.1 * index, -radius * np.cos(angle)])
        poses[index, :3, :3] = Rotation.from_euler("y", -angle).as_matrix()
        poses[index, :3, 3] = centre
    return poses


def moving_box(shape: tuple[int, int], index: int) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[4:12, 3 + 3 * index : 11 + 3 * index] = True
    return mask


def write_image(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


def make_davis(root: Path, sequence: str = "bear", frames: int = 3, shape=(24, 32)) -> None:
    """DAVIS-2017 trainval layout: 2016 grey annotations, 2017 palette annotations with two
    objects and a void band, the ImageSets splits."""
    for index in range(frames):
        write_image(
            root / f"JPEGImages/480p/{sequence}/{index:05d}.jpg", np.full((*shape, 3), 90, np.uint8)
        )
        mask = moving_box(shape, index)
        write_image(
            root / f"Annotations/480p/{sequence}/{index:05d}.png",
            np.where(mask, 255, 0).astype(np.uint8),
        )
        labels = np.zeros(shape, np.uint8)
        labels[mask] = 1
        labels[mask & (np.arange(shape[1]) >= 7 + 3 * index)] = 2  # a second object
        labels[0, :] = 255  # void
        palette = Image.fromarray(labels, mode="P")
        palette.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * 759)
        path = root / f"Annotations_unsupervised/480p/{sequence}/{index:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        palette.save(path)
    for year in ("2016", "2017"):
        split = root / "ImageSets" / year / "val.txt"
        split.parent.mkdir(parents=True, exist_ok=True)
        split.write_text(f"{sequence}\n")


def cam_from_world(world_from_cam: np.ndarray) -> np.ndarray:
    return np.linalg.inv(world_from_cam)


def make_sintel(root: Path, sequence: str, poses: np.ndarray, depth: np.ndarray) -> None:
    """`training/` of the complete and the depth/camera archives unpacked together."""
    intrinsics = np.array([[100.0, 0, 16], [0, 100, 12], [0, 0, 1]])
    for index, (pose, frame_depth) in enumerate(zip(poses, depth, strict=True)):
        name = f"frame_{index + 1:04d}"
        camera = root / "training/camdata_left" / sequence / f"{name}.cam"
        camera.parent.mkdir(parents=True, exist_ok=True)
        extrinsics = cam_from_world(pose)[:3]
        camera.write_bytes(
            SINTEL_TAG.tobytes()
            + intrinsics.astype("<f8").tobytes()
            + extrinsics.astype("<f8").tobytes()
        )
        dpt = root / "training/depth" / sequence / f"{name}.dpt"
        dpt.parent.mkdir(parents=True, exist_ok=True)
        height, width = frame_depth.shape
        header = SINTEL_TAG.tobytes() + np.array([width, height], "<i4").tobytes()
        dpt.write_bytes(header + frame_depth.astype("<f4").tobytes())
        write_image(
            root / "training/final" / sequence / f"{name}.png",
            np.zeros((height, width, 3), np.uint8),
        )


def make_tum(
    folder: Path, poses: np.ndarray, depth: np.ndarray, start: float = 1305031102.175304
) -> np.ndarray:
    """A TUM RGB-D sequence folder: colour at 30 Hz, depth 7 ms after each colour image, ground
    truth at 100 Hz starting 23.5 ms after the first colour frame (so frame 1 has no pose). Each
    other frame's pose sits on its nearest ground-truth sample; every other sample is a decoy
    far away, so only a correct nearest-in-time association finds the right poses. Returns the
    colour timestamps."""
    stamps = start + np.arange(len(poses)) / 30.0
    header = "# color images\n# file: 'x.bag'\n# timestamp filename\n"
    rgb_lines, depth_lines = [], []
    for index, stamp in enumerate(stamps):
        rgb_lines.append(f"{stamp:.6f} rgb/{stamp:.6f}.png")
        write_image(folder / f"rgb/{stamp:.6f}.png", np.full((*depth.shape[1:], 3), 50, np.uint8))
        depth_lines.append(f"{stamp + 0.007:.6f} depth/{stamp + 0.007:.6f}.png")
        write_image(
            folder / f"depth/{stamp + 0.007:.6f}.png",
            np.round(depth[index] * 5000).astype(np.uint16),
        )
    (folder / "rgb.txt").write_text(header + "\n".join(rgb_lines) + "\n")
    (folder / "depth.txt").write_text(
        header.replace("color", "depth") + "\n".join(depth_lines) + "\n"
    )
    truth_stamps = stamps[0] + 0.0235 + 0.01 * np.arange(int((stamps[-1] - stamps[0]) / 0.01) + 3)
    truth = np.tile(np.eye(4), (len(truth_stamps), 1, 1))
    truth[:, :3, 3] = 99.0
    for index, stamp in enumerate(stamps[1:], start=1):
        truth[np.argmin(np.abs(truth_stamps - stamp))] = poses[index]
    lines = ["# ground truth trajectory", "# timestamp tx ty tz qx qy qz qw"]
    for stamp, pose in zip(truth_stamps, truth, strict=True):
        x, y, z, w = Rotation.from_matrix(pose[:3, :3]).as_quat()
        lines.append(f"{stamp:.4f} " + " ".join(f"{v:.9f}" for v in (*pose[:3, 3], x, y, z, w)))
    (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    return stamps


def uncorrelated_offsets(centres: np.ndarray, rms: float, seed: int) -> np.ndarray:
    """Offsets with zero mean and zero covariance with the centres: Umeyama's best similarity
    of the moved path onto the true one is then a pure scale s = V / (V + D), and the ATE is
    sqrt(V D / (V + D)) for V = mean |c - mean c|^2 and D = mean |offset|^2."""
    offsets = np.random.default_rng(seed).normal(size=centres.shape)
    design = np.concatenate([centres - centres.mean(0), np.ones((len(centres), 1))], axis=1)
    offsets -= design @ np.linalg.lstsq(design, offsets, rcond=None)[0]
    return offsets * rms / np.sqrt(np.mean(np.sum(offsets**2, axis=1)))


def perturbed_in_another_world(
    world_from_cam: np.ndarray, rms: float, seed: int
) -> tuple[np.ndarray, float]:
    """(cam_from_world [N, 3, 4] of the cameras moved by `uncorrelated_offsets`, expressed in a
    world rotated, shifted and scaled by 0.3 as a monocular reconstruction would be; the ATE
    that the move causes, in the truth's units)."""
    centres = world_from_cam[:, :3, 3]
    offsets = uncorrelated_offsets(centres, rms, seed)
    variance = np.mean(np.sum((centres - centres.mean(0)) ** 2, axis=1))
    drift = np.mean(np.sum(offsets**2, axis=1))
    moved = world_from_cam.copy()
    moved[:, :3, 3] += offsets
    world = np.eye(4)
    world[:3, :3] = 0.3 * Rotation.from_euler("xyz", [20, -50, 10], degrees=True).as_matrix()
    world[:3, 3] = [1.0, -2.0, 0.5]
    moved = world @ moved
    moved[:, :3, :3] /= 0.3
    return np.linalg.inv(moved)[:, :3], float(np.sqrt(variance * drift / (variance + drift)))
