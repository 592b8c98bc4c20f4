"""The compat layer takes the API this Blender has: each test checks the path for the running
version (scripts/test.sh runs them on 4.2, 4.5, 5.0 and 5.3)."""

import numpy as np

from tests.blender.importers.conftest import evaluated_points
from tests.blender.versions import action_fcurves
from vggt4d_blender.importers import compat
from vggt4d_blender.importers.datablocks import tag


def test_compat_flags_follow_the_running_blender(factory_blender):
    bpy = factory_blender
    scene = bpy.context.scene
    version = bpy.app.version
    assert (version >= (5, 0, 0), version >= (5, 3, 0)) == (
        compat.COMPOSITOR_GROUPS,
        compat.COMPOSITOR_EFFECTS,
    )
    # 5.0 removed the APIs the pre-5.0 fallbacks call, so only one path can run on each side.
    assert hasattr(scene, "node_tree") != compat.COMPOSITOR_GROUPS


def test_ensure_fcurve_finds_or_makes_the_one_fcurve(factory_blender):
    bpy = factory_blender
    camera = bpy.data.objects.new("camera", None)
    action = bpy.data.actions.new("motion")
    camera.animation_data_create()
    camera.animation_data.action = action
    fcurve = compat.ensure_fcurve(action, camera, "location", 2)
    assert (fcurve.data_path, fcurve.array_index, fcurve.group) == ("location", 2, None)
    assert compat.ensure_fcurve(action, camera, "location", 2) == fcurve
    assert action_fcurves(action) == [fcurve]
    if bpy.app.version >= (4, 4, 0):  # layered actions: the camera got the action's slot
        assert camera.animation_data.action_slot == action.slots[0]


def test_material_node_tree_is_the_materials_tree(factory_blender):
    bpy = factory_blender
    material = bpy.data.materials.new("points")
    tree = compat.material_node_tree(material)
    assert tree is not None and tree == material.node_tree


def test_compositor_tree_becomes_the_scenes_compositor(factory_blender):
    bpy = factory_blender
    scene = bpy.context.scene
    assert compat.scene_compositor(scene) is None
    tree = tag(compat.new_compositor_tree(scene, "shot_matte"), "shot")
    output = compat.compositor_output(tree)
    assert output == tree.nodes[0].inputs[0]
    if compat.COMPOSITOR_GROUPS:
        assert bpy.data.node_groups["shot_matte"] == tree
        assert [item.name for item in tree.interface.items_tree] == ["Image"]
        assert output.node.bl_idname == "NodeGroupOutput"
        assert compat.scene_compositor(scene) is None
    else:
        assert tree == scene.node_tree and scene.use_nodes
        assert output.node.bl_idname == "CompositorNodeComposite"
    compat.set_scene_compositor(scene, tree)
    assert compat.scene_compositor(scene) == tree
    assert compat.scene_compositor(scene).get("vggt4d_shot") == "shot"
    if compat.COMPOSITOR_EFFECTS:
        assert [effect.node_group for effect in scene.compositor_effects] == [tree]
        compat.set_scene_compositor(scene, tree)  # again: the same effect, not a second one
        assert len(scene.compositor_effects) == 1
    if compat.COMPOSITOR_GROUPS:
        compat.set_scene_compositor(scene, None)
        assert compat.scene_compositor(scene) is None


def test_set_alpha_replace(factory_blender):
    bpy = factory_blender
    tree = compat.new_compositor_tree(bpy.context.scene, "matte")
    set_alpha = tree.nodes.new("CompositorNodeSetAlpha")
    compat.set_alpha_replace(set_alpha)
    if "Type" in set_alpha.inputs:
        assert set_alpha.inputs["Type"].default_value == "Replace Alpha"
    else:
        assert set_alpha.mode == "REPLACE_ALPHA"


def test_modifier_input_reaches_the_evaluated_geometry(factory_blender):
    bpy = factory_blender
    mesh = bpy.data.meshes.new("cloud")
    mesh.vertices.add(3)
    cloud = bpy.data.objects.new("cloud", mesh)
    bpy.context.scene.collection.objects.link(cloud)
    group = bpy.data.node_groups.new("display", "GeometryNodeTree")
    group.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    radius = group.interface.new_socket("Radius", in_out="INPUT", socket_type="NodeSocketFloat")
    group.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    to_points = group.nodes.new("GeometryNodeMeshToPoints")
    group_in, group_out = group.nodes.new("NodeGroupInput"), group.nodes.new("NodeGroupOutput")
    group.links.new(group_in.outputs["Geometry"], to_points.inputs["Mesh"])
    group.links.new(group_in.outputs["Radius"], to_points.inputs["Radius"])
    group.links.new(to_points.outputs["Points"], group_out.inputs["Geometry"])
    modifier = cloud.modifiers.new("points", "NODES")
    modifier.node_group = group
    compat.set_modifier_input(modifier, radius.identifier, 0.125)
    np.testing.assert_array_equal(evaluated_points(bpy, cloud)[1], [0.125] * 3)
