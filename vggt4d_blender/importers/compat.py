"""One call for each Blender API the importer uses that changed between 4.2 and 5.3.

Each function takes the newer API when this Blender has it and otherwise does the same with
the older one; the tests run every path on bpy 4.2, 4.5, 5.0 and 5.3 (scripts/test.sh). See
docs/importer.md, "Blender versions".
"""

from __future__ import annotations

import bpy

COMPOSITOR_GROUPS = bpy.app.version >= (5, 0, 0)
"""Whether the compositor is a node group set on the scene (5.0) or the scene's own tree."""

COMPOSITOR_EFFECTS = "compositor_effects" in bpy.types.Scene.bl_rna.properties
"""Whether the scene's compositor is a stack of effects, each with a node group (5.3).

``Scene.compositing_node_group`` still works there (it is the active effect's group) but is
deprecated, to be removed in 6.0.
"""


def ensure_fcurve(
    action: bpy.types.Action, datablock: bpy.types.ID, data_path: str, index: int
) -> bpy.types.FCurve:
    """The F-curve for ``data_path[index]`` (``Action.fcurve_ensure_for_datablock``: 4.4)."""
    if hasattr(action, "fcurve_ensure_for_datablock"):
        return action.fcurve_ensure_for_datablock(datablock, data_path, index=index)
    # Like the newer call (no group_name), the F-curve goes in no group.
    existing = action.fcurves.find(data_path, index=index)
    return existing if existing is not None else action.fcurves.new(data_path, index=index)


def material_node_tree(material: bpy.types.Material) -> bpy.types.ShaderNodeTree:
    """The material's shader tree (new materials have one from the start since 5.0)."""
    if material.node_tree is None:
        material.use_nodes = True
    return material.node_tree


def scene_compositor(scene: bpy.types.Scene) -> bpy.types.NodeTree | None:
    """The scene's compositor tree, if any (``Scene.compositing_node_group``: 5.0; the active
    compositor effect's node group: 5.3)."""
    if COMPOSITOR_EFFECTS:
        effect = scene.compositor_effects.active
        return effect.node_group if effect is not None else None
    if COMPOSITOR_GROUPS:
        return scene.compositing_node_group
    return scene.node_tree


def new_compositor_tree(scene: bpy.types.Scene, name: str) -> bpy.types.NodeTree:
    """An empty compositor tree with one image output (compositor node groups: 5.0).

    Before 5.0 the compositor is the scene's own tree: it is switched on and emptied, and
    ``name`` is not used.
    """
    if COMPOSITOR_GROUPS:
        group = bpy.data.node_groups.new(name, "CompositorNodeTree")
        group.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
        return group
    scene.use_nodes = True
    scene.node_tree.nodes.clear()
    return scene.node_tree


def compositor_output(tree: bpy.types.NodeTree) -> bpy.types.NodeSocket:
    """The image input of a new output node (group output replaced Composite in 5.0)."""
    if COMPOSITOR_GROUPS:
        return tree.nodes.new("NodeGroupOutput").inputs[0]
    return tree.nodes.new("CompositorNodeComposite").inputs["Image"]


def set_scene_compositor(scene: bpy.types.Scene, tree: bpy.types.NodeTree | None) -> None:
    """Make ``tree`` the scene's compositor (``Scene.compositing_node_group``: 5.0).

    From 5.3 ``tree`` goes into the active compositor effect, which is added if there is none
    (as the deprecated ``compositing_node_group`` does). Before 5.0 the tree from
    ``new_compositor_tree`` already is the scene's own.
    """
    if COMPOSITOR_EFFECTS:
        effects = scene.compositor_effects
        effect = effects.active
        if effect is None:
            if tree is None:
                return
            effect = effects.new(tree.name)
        effect.node_group = tree
    elif COMPOSITOR_GROUPS:
        scene.compositing_node_group = tree


def set_alpha_replace(node: bpy.types.Node) -> None:
    """Set Alpha to Replace Alpha (its "Type" menu input: 5.0; before, the ``mode`` property)."""
    if "Type" in node.inputs:
        node.inputs["Type"].default_value = "Replace Alpha"
    else:
        node.mode = "REPLACE_ALPHA"


def set_modifier_input(modifier: bpy.types.NodesModifier, identifier: str, value: object) -> None:
    """Set the geometry-nodes modifier input ``identifier`` (an interface socket's identifier).

    From 5.2 the inputs are RNA properties (``NodesModifier.properties.inputs``); before,
    they are ID properties of the modifier, which 5.2 refuses to set.
    """
    properties = getattr(modifier, "properties", None)
    if properties is not None:
        getattr(properties.inputs, identifier).value = value
    else:
        modifier[identifier] = value


def alpha_over_inputs(node: bpy.types.Node) -> tuple[bpy.types.NodeSocket, bpy.types.NodeSocket]:
    """(background, foreground) of an Alpha Over node (named sockets: 5.0; before, the two
    unnamed Image inputs after Fac)."""
    if "Background" in node.inputs:
        return node.inputs["Background"], node.inputs["Foreground"]
    return node.inputs[1], node.inputs[2]


def file_output_input(tree: bpy.types.NodeTree, directory: str, name: str) -> bpy.types.NodeSocket:
    """The input of a new File Output node writing RGBA PNGs named ``name`` into
    ``directory`` (``directory``/``file_output_items``: 5.0; before, ``base_path``/slots)."""
    node = tree.nodes.new("CompositorNodeOutputFile")
    node.label = "Matte"
    if hasattr(node.format, "media_type"):
        node.format.media_type = "IMAGE"
    node.format.file_format = "PNG"
    node.format.color_mode = "RGBA"
    if hasattr(node, "file_output_items"):
        node.directory = directory
        node.file_name = ""
        node.file_output_items.clear()
        item = node.file_output_items.new("RGBA", name)
        return node.inputs[item.name]
    node.base_path = directory
    node.file_slots[0].path = f"{name}."
    return node.inputs[0]
