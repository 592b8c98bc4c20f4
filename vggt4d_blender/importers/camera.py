"""The shot camera: per-frame pose and lens keys, scene timing, render size and the plate."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from ..bundle_format import Bundle, find_plate
from . import camera_math
from .datablocks import key_channels, link_object, tag

RESIDUAL_WARNING_PX = 0.5
"""Focal disagreement (pixels at the plate edge) above which the import warns."""


def import_camera(
    bundle: Bundle,
    collection: bpy.types.Collection,
    root: bpy.types.Object,
    sensor_size: float,
) -> tuple[bpy.types.Object, list[str]]:
    """Create the keyed camera under ``root``; return it and any warnings for the report.

    Pose keys are LINEAR and so are lens keys: exact on every reconstructed frame, and a
    continuous estimate on stride gaps and motion-blur sub-frames (a CONSTANT lens would
    make a zoom step). Rotations are XYZ Euler, unwrapped so interpolation takes the short way.
    """
    shot = bundle.shot_name
    lens = camera_math.intrinsics_to_lens(
        bundle.intrinsics, bundle.plate_width, bundle.plate_height, sensor_size, bundle.pixel_aspect
    )
    data = tag(bpy.data.cameras.new(f"{shot}_camera"), shot)
    data.sensor_fit = lens.sensor_fit
    data.sensor_width = data.sensor_height = lens.sensor_size
    data.clip_start, data.clip_end = 0.01, 1000.0
    camera = link_object(f"{shot}_camera", data, collection, shot)
    camera.parent = root
    camera.rotation_mode = "XYZ"

    matrices = camera_math.camera_matrices_world(bundle.extrinsics)
    frames = bundle.frames.astype(np.float64)
    object_action = tag(bpy.data.actions.new(f"{shot}_camera_motion"), shot)
    key_channels(camera, object_action, "location", frames, matrices[:, :3, 3])
    euler = camera_math.euler_xyz_from_matrices(matrices[:, :3, :3])
    key_channels(camera, object_action, "rotation_euler", frames, euler)

    lens_action = tag(bpy.data.actions.new(f"{shot}_camera_lens"), shot)
    key_channels(data, lens_action, "lens", frames, lens.lens)
    for name, values in (("shift_x", lens.shift_x), ("shift_y", lens.shift_y)):
        if np.ptp(values) > 1e-9:
            key_channels(data, lens_action, name, frames, values)
        else:
            setattr(data, name, float(values[0]))
    warnings = []
    if lens.residual_px > RESIDUAL_WARNING_PX:
        warnings.append(
            f"the reconstruction's horizontal and vertical focal lengths disagree; one focal "
            f"length is used, so points may sit up to {lens.residual_px:.2f} px off at the "
            "plate edge"
        )
    return camera, warnings


def set_scene_from_plate(scene: bpy.types.Scene, bundle: Bundle, camera: bpy.types.Object) -> None:
    """Frame rate, frame range, render size and pixel aspect from the plate; make it active."""
    fps = bundle.fps
    scene.render.fps = max(1, round(fps))
    scene.render.fps_base = scene.render.fps / fps
    scene.frame_start = int(bundle.frames[0])
    scene.frame_end = int(bundle.frames[-1])
    scene.render.resolution_x = bundle.plate_width
    scene.render.resolution_y = bundle.plate_height
    scene.render.resolution_percentage = 100
    aspect = bundle.pixel_aspect  # the footage's, never fx / fy (see intrinsics_to_lens)
    scene.render.pixel_aspect_x = max(aspect, 1.0)
    scene.render.pixel_aspect_y = max(1.0 / aspect, 1.0)
    scene.camera = camera
    scene.frame_set(int(bundle.frames[0]))


PLATE_NOT_FOUND = "the source footage was not found or not readable; no plate background"


def attach_plate(
    bundle: Bundle, camera: bpy.types.Object
) -> tuple[bpy.types.MovieClip | None, str | None]:
    """Show the source footage behind the camera; plate frame N lands on scene frame N.

    Returns the clip, or None and the reason for the report when the footage is not on this
    machine any more, Blender cannot read it, or this Blender shows it sideways (the import
    still works).
    """
    found = plate_file(bundle)
    if found is None:
        return None, PLATE_NOT_FOUND
    path, first_number = found
    try:
        clip = bpy.data.movieclips.load(str(path), check_existing=False)
    except RuntimeError:  # Blender's "cannot read" for a file it does not understand
        return None, PLATE_NOT_FOUND
    sideways = _unrotated_video(bundle, clip)
    if sideways is not None:
        bpy.data.movieclips.remove(clip)
        return None, sideways
    tag(clip, bundle.shot_name)
    # A clip shows its loaded file (or a video's first frame) at scene frame ``frame_start``.
    clip.frame_start = first_number
    set_clip_lens(clip, bundle, camera.data)
    background = camera.data.background_images.new()
    background.source = "MOVIE_CLIP"
    background.clip = clip
    # A pinhole Blender camera over a distorted plate disagrees by pixels towards the corners:
    # with a solved lens, show the plate undistorted by the clip's lens (layout convention).
    background.clip_user.use_render_undistorted = clip_is_distorted(clip)
    background.clip_user.proxy_render_size = "FULL"  # undistortion runs on full frames only
    background.frame_method = "STRETCH"  # the plate fills the camera frame at any pixel aspect
    camera.data.show_background_images = True
    return clip, None


def _unrotated_video(bundle: Bundle, clip: bpy.types.MovieClip) -> str | None:
    """Why ``clip`` cannot be the plate, when this Blender ignores the video's rotation.

    The backend turns a phone video upright by its rotation metadata (``source.rotation``);
    Blender 4.2 and 4.3 do not, so the clip comes in sideways, with width and height swapped.
    """
    rotation = int(bundle.manifest.get("source", {}).get("rotation", 0) or 0)
    plate = (bundle.plate_width, bundle.plate_height)
    if rotation % 180 == 0 or plate[0] == plate[1] or tuple(clip.size) != plate[::-1]:
        return None
    return (
        f"this Blender ignores the video's rotation ({rotation} degrees) and would show the "
        "plate sideways; no plate background. Blender 4.4 or newer shows it upright, or "
        "reconstruct from an image sequence of the upright frames"
    )


def set_clip_lens(clip: bpy.types.MovieClip, bundle: Bundle, data: bpy.types.Camera) -> None:
    """Give the Movie Clip the shot's lens (focal, sensor, pixel aspect, principal point and the
    solve's POLYNOMIAL k1-k3, docs/solve.md), so the Clip editor can show the plate undistorted,
    the Movie Distortion node can undistort or redistort renders and Blender's solver can
    re-solve the imported markers."""
    lens = (bundle.manifest.get("solve") or {}).get("distortion", {})
    tracking_camera = clip.tracking.camera
    tracking_camera.sensor_width = data.sensor_width
    tracking_camera.units = "MILLIMETERS"
    tracking_camera.pixel_aspect = bundle.pixel_aspect  # the footage's (anamorphic squeeze)
    # The tracker's focal in (horizontal) pixels is focal_length * clip width / sensor_width.
    focal_pixels = float(np.median(bundle.intrinsics[:, 0, 0]))
    tracking_camera.focal_length = focal_pixels * data.sensor_width / bundle.plate_width
    tracking_camera.distortion_model = "POLYNOMIAL"
    tracking_camera.k1 = float(lens.get("k1", 0.0))
    tracking_camera.k2 = float(lens.get("k2", 0.0))
    tracking_camera.k3 = float(lens.get("k3", 0.0))
    centre = np.median(bundle.intrinsics[:, :2, 2], axis=0)
    if hasattr(tracking_camera, "principal_point_pixels"):  # Blender 3.5+
        # Blender's clip pixels have their origin at the bottom left.
        tracking_camera.principal_point_pixels = (centre[0], bundle.plate_height - centre[1])


def clip_is_distorted(clip: bpy.types.MovieClip) -> bool:
    """Whether the clip's lens (`set_clip_lens`) has radial distortion: its plate then needs
    undistorting to sit behind Blender's pinhole camera (docs/importer.md)."""
    lens = clip.tracking.camera
    return any(value != 0.0 for value in (lens.k1, lens.k2, lens.k3))


def plate_file(bundle: Bundle) -> tuple[Path, int] | None:
    """The footage file to load and the plate frame number it starts at, if it exists
    (`bundle_format.find_plate`: the absolute path, then the one relative to the bundle)."""
    found = find_plate(bundle.manifest.get("source", {}), bundle.path, int(bundle.frames[0]))
    return None if found is None else found[1:]
