"""A shot made from the untrained test weights says so, in the report and in the saved .blend."""

from tests.importers.bundle_factory import make_bundle_data
from vggt4d.io.bundle import write_bundle
from vggt4d_blender.importers.shot import import_bundle


def test_untrained_weights_are_labelled_in_the_saved_blend(factory_blender, tmp_path):
    bpy = factory_blender
    data = make_bundle_data()
    data.model = {"source": "tests/fixtures/tiny_vggt4d", "sha256": "0", "test_weights": True}
    path = write_bundle(tmp_path / "demo.vggt4d", data)
    result = import_bundle(bpy.context, path)
    assert any("UNTRAINED TEST WEIGHTS" in warning for warning in result.warnings)
    blend = tmp_path / "demo.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    note = bpy.data.texts["demo_UNTRAINED_WEIGHTS"].as_string()
    assert "UNTRAINED TEST WEIGHTS" in note and "meaningless" in note
    assert bpy.data.collections["demo"]["vggt4d_untrained_test_weights"]
    assert bpy.data.objects["demo_root"]["vggt4d_untrained_test_weights"]


def test_trained_weights_carry_no_label(factory_blender, bundle_dir):
    result = import_bundle(factory_blender.context, bundle_dir("real"))
    assert not any("UNTRAINED" in warning for warning in result.warnings)
    assert len(factory_blender.data.texts) == 0
