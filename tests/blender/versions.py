"""Test helpers for the few Blender APIs that differ between 4.2 LTS and 5.3, so that one test
runs on every Blender in the matrix (scripts/blender-matrix.txt). The add-on's own differences
live in ``vggt4d_blender.importers.compat``; these are the ones only the tests need.
"""

import bpy

OBJECT_INDEX_CHANNELS = ("Object Index.X", "IndexOB.X")
"""How the object-index pass's channel ends in a multilayer EXR (5.0; before, ``IndexOB``)."""


def action_fcurves(action: bpy.types.Action) -> list[bpy.types.FCurve]:
    """Every F-curve of ``action``: of all its layers' channelbags (layered actions: 4.4),
    else the legacy ``Action.fcurves``."""
    if not hasattr(action, "layers"):
        return list(action.fcurves)
    return [
        fcurve
        for layer in action.layers
        for strip in layer.strips
        for channelbag in strip.channelbags
        for fcurve in channelbag.fcurves
    ]


def write_multilayer_exr(settings: bpy.types.ImageFormatSettings) -> None:
    """Render output as one uncompressed float multilayer OpenEXR (``media_type``: 5.0)."""
    if hasattr(settings, "media_type"):
        settings.media_type = "MULTI_LAYER_IMAGE"
    else:
        settings.file_format = "OPEN_EXR_MULTILAYER"
    settings.exr_codec = "NONE"
    settings.color_depth = "32"


def set_mask_feather(node: bpy.types.Node, feather: bool) -> None:
    """Feather on the compositor Mask node (its ``Feather`` input: 5.0; before, ``use_feather``)."""
    if "Feather" in node.inputs:
        node.inputs["Feather"].default_value = feather
    else:
        node.use_feather = feather
