"""The add-on's settings: one PropertyGroup behind ``scene.vggt4d``.

Backend setup/check status is not per scene, so it lives on ``window_manager.vggt4d_backend``.
"""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

DEFAULT_TRACK_MARKERS = 1000
"""How many of the camera solve's tracks an import turns into Movie Clip markers by default:
enough to inspect a solve and re-solve it with Blender's tracker, quick to import."""

TRACK_MARKERS_DESCRIPTION = (
    "Import at most this many of the camera solve's tracks as tracking markers on the plate's "
    "Movie Clip, the longest and most spread out first (0: none)"
)

FOOTAGE_KINDS = (
    ("FILE", "Video File", "A video file (mp4, mov, ...)"),
    ("SEQUENCE", "Image Sequence", "One image of a numbered sequence, or its folder"),
    ("CLIP", "Movie Clip", "A Movie Clip already loaded in this file"),
)


class VGGT4D_PG_settings(bpy.types.PropertyGroup):
    """Footage, quality options, artist masks and the last run's status."""

    footage_kind: EnumProperty(name="Footage", items=FOOTAGE_KINDS, default="FILE")
    footage_path: StringProperty(name="Video", subtype="FILE_PATH")
    sequence_path: StringProperty(name="Sequence", subtype="FILE_PATH")
    clip: PointerProperty(name="Clip", type=bpy.types.MovieClip)

    use_frame_range: BoolProperty(name="Frame Range", description="Limit the frames read")
    frame_start: IntProperty(name="Start", default=1, min=0)
    frame_end: IntProperty(name="End", default=100, min=0)
    frame_stride: IntProperty(name="Stride", default=1, min=1, description="Use every Nth frame")
    max_frames: IntProperty(
        name="Max Frames", default=32, min=0, description="At most this many frames (0: all)"
    )

    preprocess_mode: EnumProperty(
        name="Model Input",
        items=(
            (
                "auto",
                "Whole Plate",
                "Crop like the official model unless that would cut the "
                "plate (portrait, tall); then pad, so every pixel is reconstructed",
            ),
            (
                "crop",
                "Crop",
                "The official default: a tall or portrait plate loses its top and "
                "bottom (reported after the run)",
            ),
            ("pad", "Pad", "Always pad to a square: the whole plate, with more padding"),
        ),
        default="auto",
    )
    refine: BoolProperty(
        name="Refine Masks", default=True, description="Run the VGGT4D mask refinement stage"
    )
    confidence_percentile: FloatProperty(
        name="Drop Low Confidence",
        default=25.0,
        min=0.0,
        max=99.0,
        subtype="PERCENTAGE",
        description="Drop this share of the static points, least confident first",
    )
    point_budget: IntProperty(
        name="Point Budget",
        default=1_000_000,
        min=1000,
        description="At most this many static points in the imported cloud",
    )
    track_markers: IntProperty(
        name="Track Markers",
        default=DEFAULT_TRACK_MARKERS,
        min=0,
        description=TRACK_MARKERS_DESCRIPTION,
    )
    smooth_camera: FloatProperty(
        name="Smooth Camera",
        default=0.0,
        min=0.0,
        soft_max=10.0,
        description="Strength of the temporal smoothing of the solved camera path (0: off, "
        "1: strong). It never costs more than 0.05 px of solve error and keeps cuts and "
        "whip pans",
    )

    chunk_mode: EnumProperty(
        name="Chunks",
        items=(
            ("AUTO", "Auto", "One pass when the shot fits the device's memory, else chunks"),
            ("FIXED", "Fixed", "Chunks of the chosen number of frames"),
        ),
        default="AUTO",
        description="How a long shot is split into VGGT4D passes that are stitched together",
    )
    chunk_size: IntProperty(
        name="Chunk Size", default=64, min=4, description="Frames per VGGT4D pass"
    )
    overlap: IntProperty(
        name="Overlap",
        default=8,
        min=1,
        description="Frames shared by neighbouring chunks (at most half a chunk)",
    )

    artist_mask_clip: PointerProperty(
        name="Mask Clip",
        type=bpy.types.MovieClip,
        description="Image-sequence clip of masks (e.g. the imported refined masks, edited)",
    )
    artist_mask_image: PointerProperty(
        name="Mask Images",
        type=bpy.types.Image,
        description="A painted mask image sequence, or one image used for every frame",
    )
    artist_mask: PointerProperty(
        name="Mask",
        type=bpy.types.Mask,
        description="A Mask datablock rasterised per frame at plate resolution",
    )

    status_state: StringProperty(name="State", default="idle")
    status_stage: StringProperty(name="Stage")
    status_progress: FloatProperty(name="Progress", subtype="FACTOR", min=0.0, max=1.0)
    status_message: StringProperty(name="Message")
    bundle_path: StringProperty(name="Bundle", subtype="DIR_PATH")
    cancel_requested: BoolProperty(name="Cancel Requested")
    solve_error: FloatProperty(
        name="Solve Error",
        description="Median reprojection error of the last imported shot's camera solve, "
        "in plate pixels (below 0.3 is good); negative when the shot has no solve",
        default=-1.0,
        precision=3,
    )
    solve_worst: StringProperty(
        name="Worst Frames", description="Frames with the largest mean solve error"
    )
    solve_coverage: StringProperty(
        name="Solve Coverage",
        description="Frames the last imported shot's solve could not tie to the rest, which "
        "keep the network camera; empty when it solved every frame",
    )
    solve_lens: StringProperty(
        name="Solve Lens",
        description="Whether the last imported shot, solved without a lens model, looks "
        "lens-distorted and should be re-solved with one; empty otherwise",
    )
    solve_smoothing: StringProperty(
        name="Smoothing",
        description="What the temporal smoothing did to the last imported shot's camera path",
    )


class VGGT4D_PG_backend_status(bpy.types.PropertyGroup):
    """Backend setup and check results, per session (lives on the window manager)."""

    busy: BoolProperty(name="Busy")
    progress: FloatProperty(name="Progress", subtype="FACTOR", min=0.0, max=1.0)
    report: StringProperty(name="Report")


_CLASSES = (VGGT4D_PG_settings, VGGT4D_PG_backend_status)


def classes() -> tuple[type, ...]:
    """The classes this module registers, in order."""
    return _CLASSES


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.vggt4d = PointerProperty(type=VGGT4D_PG_settings)
    bpy.types.WindowManager.vggt4d_backend = PointerProperty(type=VGGT4D_PG_backend_status)


def unregister() -> None:
    del bpy.types.WindowManager.vggt4d_backend
    del bpy.types.Scene.vggt4d
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
