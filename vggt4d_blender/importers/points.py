"""Point clouds as meshes drawn as points: bulk attribute writes, geometry nodes, a material.

Blender 5.0's PointCloud datablock cannot be resized from Python, so a cloud is a mesh of
loose vertices (which also lets the scene tools read selected vertices in edit mode) with a
Mesh to Points modifier for display and rendering.
"""

from __future__ import annotations

import bpy
import numpy as np

from ..bundle_format import Bundle
from . import camera_math, point_math
from .compat import material_node_tree, set_modifier_input
from .datablocks import link_object, tag

COLOR_ATTRIBUTE = "vggt4d_color"
"""Not ``color``: Cycles renders an attribute of that name black."""

_LEVELS = np.arange(256) / 255.0
_SRGB_TO_LINEAR = np.where(
    _LEVELS <= 0.04045, _LEVELS / 12.92, ((_LEVELS + 0.055) / 1.055) ** 2.4
).astype(np.float32)
"""The sRGB transfer function for every 8-bit level (IEC 61966-2-1)."""


def import_static_cloud(
    bundle: Bundle,
    static: tuple[np.ndarray, np.ndarray, np.ndarray],
    collection: bpy.types.Collection,
    root: bpy.types.Object,
    confidence_threshold: float,
    point_budget: int,
) -> bpy.types.Object:
    """The static cloud (``read_static_points``), filtered by confidence and budget, parented
    to the shot root."""
    positions, colors, confidence = static
    keep = point_math.select_points(confidence, confidence_threshold, point_budget)
    if len(keep) < len(positions):  # copying 2M points for nothing costs ~50 ms
        positions, colors = positions[keep], colors[keep]
    shot = bundle.shot_name
    mesh = point_mesh(f"{shot}_static", camera_math.points_to_blender(positions), colors)
    tag(mesh, shot)
    cloud = link_object(f"{shot}_static", mesh, collection, shot)
    cloud.parent = root
    add_point_display(cloud, shot, radius=default_radius(positions))
    return cloud


def point_mesh(name: str, positions: np.ndarray, colors: np.ndarray) -> bpy.types.Mesh:
    """Mesh of loose vertices: positions float32 [N, 3], colours uint8 [N, 3] (sRGB).

    Colours are stored as a linear FLOAT_COLOR attribute, converted through a 256-entry
    table in numpy: Blender's own per-element sRGB conversion (``color_srgb`` or a
    BYTE_COLOR attribute) is about 30x slower on millions of points.
    """
    mesh = bpy.data.meshes.new(name)
    if len(positions) == 0:  # an empty mesh has no position attribute to write
        return mesh
    mesh.vertices.add(len(positions))
    mesh.attributes["position"].data.foreach_set(
        "vector", np.ascontiguousarray(positions, dtype=np.float32).ravel()
    )
    rgba = np.empty((len(colors), 4), dtype=np.float32)
    rgba[:, :3] = _SRGB_TO_LINEAR[colors]
    rgba[:, 3] = 1.0
    attribute = mesh.color_attributes.new(COLOR_ATTRIBUTE, "FLOAT_COLOR", "POINT")
    attribute.data.foreach_set("color", rgba.ravel())
    mesh.color_attributes.active_color = attribute
    mesh.color_attributes.render_color_index = mesh.color_attributes.active_color_index
    mesh.update()
    return mesh


def add_point_display(
    obj: bpy.types.Object,
    shot: str,
    radius: float,
    frame_attribute: str | None = None,
) -> bpy.types.NodesModifier:
    """Add the Mesh to Points modifier; with ``frame_attribute``, only points of this frame.

    The filter compares an integer point attribute with Scene Time's frame (within half a
    frame), so it follows playback, renders and sub-frames without any keyframes.
    """
    group = tag(bpy.data.node_groups.new(f"{obj.name}_display", "GeometryNodeTree"), shot)
    group.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    radius_socket = group.interface.new_socket(
        "Radius", in_out="INPUT", socket_type="NodeSocketFloat"
    )
    group.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    nodes, links = group.nodes, group.links
    group_in = nodes.new("NodeGroupInput")
    group_out = nodes.new("NodeGroupOutput")
    to_points = nodes.new("GeometryNodeMeshToPoints")
    set_material = nodes.new("GeometryNodeSetMaterial")
    set_material.inputs["Material"].default_value = _point_material(shot)
    links.new(group_in.outputs["Geometry"], to_points.inputs["Mesh"])
    links.new(group_in.outputs["Radius"], to_points.inputs["Radius"])
    links.new(to_points.outputs["Points"], set_material.inputs["Geometry"])
    links.new(set_material.outputs["Geometry"], group_out.inputs["Geometry"])
    if frame_attribute is not None:
        attribute = nodes.new("GeometryNodeInputNamedAttribute")
        attribute.data_type = "INT"
        attribute.inputs["Name"].default_value = frame_attribute
        scene_time = nodes.new("GeometryNodeInputSceneTime")
        compare = nodes.new("FunctionNodeCompare")
        compare.data_type = "FLOAT"
        compare.operation = "EQUAL"
        compare.inputs["Epsilon"].default_value = 0.5
        links.new(attribute.outputs["Attribute"], compare.inputs[0])
        links.new(scene_time.outputs["Frame"], compare.inputs[1])
        links.new(compare.outputs["Result"], to_points.inputs["Selection"])
    modifier = obj.modifiers.new("VGGT4D points", "NODES")
    modifier.node_group = group
    set_modifier_input(modifier, radius_socket.identifier, radius)
    modifier.show_in_editmode = False
    return modifier


def _point_material(shot: str) -> bpy.types.Material:
    """One material per shot that shows the colour attribute (emission: the colours are
    already lit, so scene lights should not shade them again)."""
    name = f"{shot}_points"
    existing = bpy.data.materials.get(name)
    if existing is not None and existing.get("vggt4d_shot") == shot:
        return existing
    material = tag(bpy.data.materials.new(name), shot)
    tree = material_node_tree(material)
    nodes, links = tree.nodes, tree.links
    nodes.clear()
    attribute = nodes.new("ShaderNodeAttribute")
    attribute.attribute_type = "GEOMETRY"
    attribute.attribute_name = COLOR_ATTRIBUTE
    emission = nodes.new("ShaderNodeEmission")
    output = nodes.new("ShaderNodeOutputMaterial")
    links.new(attribute.outputs["Color"], emission.inputs["Color"])
    links.new(emission.outputs["Emission"], output.inputs["Surface"])
    return material


def default_radius(positions: np.ndarray) -> float:
    """About 1/1000 of the typical distance to the first camera (world origin)."""
    if len(positions) == 0:
        return 0.01
    sample = positions[:: max(1, len(positions) // 10000)]
    return float(max(np.median(np.linalg.norm(sample, axis=1)), 1e-6) * 1e-3)
