"""Refined masks as a movie clip and a compositor matte that a roto artist can use directly."""

from __future__ import annotations

import bpy

from ..bundle_format import Bundle
from . import compat
from .camera import clip_is_distorted
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


MATTE_DIRECTORY = "//vggt4d_matte/"
"""Where renders write the matte (relative to the .blend; the artist may change it)."""


def build_matte_compositor(
    scene: bpy.types.Scene,
    shot: str,
    mask_clip: bpy.types.MovieClip,
    plate_clip: bpy.types.MovieClip | None,
) -> bpy.types.NodeTree | None:
    """The matchmove check as the render result, and the matte as its own output.

    F12 gives the normal render over the plate (Alpha Over, film transparent), so CG sits on
    the footage it was tracked to; a plate with a solved lens is undistorted first (Movie
    Distortion node), like the camera background. The matte (the plate with the mask as its
    alpha, or the mask alone without a plate) goes to a File Output node writing
    ``MATTE_DIRECTORY`` and to the Viewer; it stays in the original plate's pixels. The
    scene's own compositor is left alone unless it is empty or was made by an earlier VGGT4D
    import; returns None in that case.
    """
    current = compat.scene_compositor(scene)
    if current is not None and current.get(SHOT_TAG) is None:
        return None
    group = tag(compat.new_compositor_tree(scene, f"{shot}_matte"), shot)
    nodes, links = group.nodes, group.links
    render = nodes.new("CompositorNodeRLayers")
    render.scene = scene
    mask = nodes.new("CompositorNodeMovieClip")
    mask.clip = mask_clip
    mask.label = "Mask"
    result, matte = render.outputs["Image"], mask.outputs["Image"]
    if plate_clip is not None:
        plate = nodes.new("CompositorNodeMovieClip")
        plate.clip = plate_clip
        plate.label = "Plate"
        behind = plate.outputs["Image"]
        if clip_is_distorted(plate_clip):  # CG is pinhole: put it on the undistorted plate
            undistort = nodes.new("CompositorNodeMovieDistortion")  # Undistort by default
            undistort.clip = plate_clip
            links.new(behind, undistort.inputs["Image"])
            behind = undistort.outputs["Image"]
        over = nodes.new("CompositorNodeAlphaOver")
        links.new(behind, compat.alpha_over_inputs(over)[0])
        links.new(render.outputs["Image"], compat.alpha_over_inputs(over)[1])
        result = over.outputs["Image"]
        set_alpha = nodes.new("CompositorNodeSetAlpha")
        compat.set_alpha_replace(set_alpha)
        links.new(plate.outputs["Image"], set_alpha.inputs["Image"])
        links.new(mask.outputs["Image"], set_alpha.inputs["Alpha"])
        matte = set_alpha.outputs["Image"]
    links.new(result, compat.compositor_output(group))
    links.new(matte, compat.file_output_input(group, MATTE_DIRECTORY, f"{shot}_matte"))
    links.new(matte, nodes.new("CompositorNodeViewer").inputs["Image"])
    compat.set_scene_compositor(scene, group)
    scene.render.use_compositing = True
    scene.render.film_transparent = True  # CG over the plate needs the render's alpha
    return group
