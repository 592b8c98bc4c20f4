"""Refined masks as a movie clip and a compositor matte that a roto artist can use directly."""

from __future__ import annotations

import bpy

from ..bundle_format import Bundle
from . import compat
from .datablocks import SHOT_TAG, tag


def import_masks(bundle: Bundle) -> bpy.types.MovieClip | None:
    """The refined mask PNGs as an image-sequence clip on the plate's frame numbers.

    The bundle's files are used in place (no copy): ``mask.NNNNNN.png`` is plate frame N, and
    a clip shows its first file at scene frame ``frame_start``. With a stride the sequence has
    gaps, and frames in between have no mask.
    """
    if not bundle.refined_masks:
        return None
    clip = bpy.data.movieclips.load(str(bundle.refined_masks[0]), check_existing=False)
    tag(clip, bundle.shot_name)
    clip.name = f"{bundle.shot_name}_mask"
    clip.colorspace_settings.name = "Non-Color"
    clip.frame_start = int(bundle.frames[0])
    return clip


def build_matte_compositor(
    scene: bpy.types.Scene,
    shot: str,
    mask_clip: bpy.types.MovieClip,
    plate_clip: bpy.types.MovieClip | None,
) -> bpy.types.NodeTree | None:
    """Plate with the mask as its alpha (Set Alpha, Replace Alpha) into the compositor output.

    Without the plate the mask alone is the output. The scene's own compositor is left alone
    unless it is empty or was made by an earlier VGGT4D import; returns None in that case.
    """
    current = compat.scene_compositor(scene)
    if current is not None and current.get(SHOT_TAG) is None:
        return None
    group = tag(compat.new_compositor_tree(scene, f"{shot}_matte"), shot)
    nodes, links = group.nodes, group.links
    mask = nodes.new("CompositorNodeMovieClip")
    mask.clip = mask_clip
    mask.label = "Mask"
    output = compat.compositor_output(group)
    viewer = nodes.new("CompositorNodeViewer")
    result = mask.outputs["Image"]
    if plate_clip is not None:
        plate = nodes.new("CompositorNodeMovieClip")
        plate.clip = plate_clip
        plate.label = "Plate"
        set_alpha = nodes.new("CompositorNodeSetAlpha")
        compat.set_alpha_replace(set_alpha)
        links.new(plate.outputs["Image"], set_alpha.inputs["Image"])
        links.new(mask.outputs["Image"], set_alpha.inputs["Alpha"])
        result = set_alpha.outputs["Image"]
    links.new(result, output)
    links.new(result, viewer.inputs["Image"])
    compat.set_scene_compositor(scene, group)
    scene.render.use_compositing = True
    return group
