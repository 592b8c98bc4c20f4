"""The 4.2-4.5 compat layer takes the newer API on bpy 5.0.1 (its fallbacks cannot run here)."""

from vggt4d_blender.importers import compat
from vggt4d_blender.importers.datablocks import tag


def test_this_blender_has_the_newer_apis(factory_blender):
    bpy = factory_blender
    assert bpy.app.version >= (5, 0, 0)
    assert compat.COMPOSITOR_GROUPS
    # The older APIs the fallbacks call are gone, so only the newer paths can run here.
    assert not hasattr(bpy.context.scene, "node_tree")
    assert not hasattr(bpy.data.actions.new("probe"), "fcurves")


def test_ensure_fcurve_uses_a_slot_of_a_layered_action(factory_blender):
    bpy = factory_blender
    camera = bpy.data.objects.new("camera", None)
    action = bpy.data.actions.new("motion")
    camera.animation_data_create()
    camera.animation_data.action = action
    fcurve = compat.ensure_fcurve(action, camera, "location", 2)
    assert (fcurve.data_path, fcurve.array_index, fcurve.group) == ("location", 2, None)
    assert camera.animation_data.action_slot == action.slots[0]
    channelbag = action.layers[0].strips[0].channelbag(action.slots[0])
    assert list(channelbag.fcurves) == [fcurve]
    assert compat.ensure_fcurve(action, camera, "location", 2) == fcurve


def test_material_node_tree_is_the_one_a_new_material_has(factory_blender):
    bpy = factory_blender
    material = bpy.data.materials.new("points")
    tree = material.node_tree
    assert tree is not None
    assert compat.material_node_tree(material) == tree


def test_compositor_is_a_node_group_set_on_the_scene(factory_blender):
    bpy = factory_blender
    scene = bpy.context.scene
    assert compat.scene_compositor(scene) is None
    tree = tag(compat.new_compositor_tree(scene, "shot_matte"), "shot")
    assert bpy.data.node_groups["shot_matte"] == tree
    assert [item.name for item in tree.interface.items_tree] == ["Image"]
    output = compat.compositor_output(tree)
    assert output.node.bl_idname == "NodeGroupOutput"
    assert output == tree.nodes[0].inputs[0]
    assert compat.scene_compositor(scene) is None
    compat.set_scene_compositor(scene, tree)
    assert scene.compositing_node_group == tree
    assert compat.scene_compositor(scene) == tree


def test_set_alpha_replace_sets_the_type_menu(factory_blender):
    bpy = factory_blender
    tree = bpy.data.node_groups.new("matte", "CompositorNodeTree")
    set_alpha = tree.nodes.new("CompositorNodeSetAlpha")
    compat.set_alpha_replace(set_alpha)
    assert set_alpha.inputs["Type"].default_value == "Replace Alpha"
    assert not hasattr(set_alpha, "mode")
