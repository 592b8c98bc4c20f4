"""The import operator (also in File > Import): thin, reports counts or the bundle's problem."""

from __future__ import annotations

import logging

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from ..properties import DEFAULT_TRACK_MARKERS, TRACK_MARKERS_DESCRIPTION

logger = logging.getLogger(__name__)


class VGGT4D_OT_import_bundle(bpy.types.Operator, ImportHelper):
    """Import a VGGT4D result bundle: keyed camera, point clouds, masks and a matte"""

    bl_idname = "vggt4d.import_bundle"
    bl_label = "Import VGGT4D Bundle"
    bl_options = {"REGISTER", "UNDO", "PRESET"}  # noqa: RUF012 (Blender reads a plain set)

    filename_ext = ".json"
    filter_glob: StringProperty(default="manifest.json", options={"HIDDEN"})
    confidence_threshold: FloatProperty(
        name="Confidence Threshold",
        description="Skip static points whose confidence is below this value",
        default=0.0,
        min=0.0,
    )
    point_budget: IntProperty(
        name="Point Budget",
        description="Keep at most this many static points, the most confident first (0: all)",
        default=0,
        min=0,
    )
    import_static: BoolProperty(name="Static Cloud", default=True)
    import_dynamic: BoolProperty(name="Moving Points", default=True)
    import_masks: BoolProperty(name="Masks and Matte", default=True)
    plate_background: BoolProperty(name="Plate as Camera Background", default=True)
    set_scene: BoolProperty(
        name="Set Scene",
        description="Frame rate, frame range, render size and active camera from the plate",
        default=True,
    )
    track_markers: IntProperty(
        name="Track Markers",
        description=TRACK_MARKERS_DESCRIPTION,
        default=DEFAULT_TRACK_MARKERS,
        min=0,
    )

    def execute(self, context: bpy.types.Context) -> set[str]:
        from .shot import ImportSettings, import_bundle, import_failure

        settings = ImportSettings(
            confidence_threshold=self.confidence_threshold,
            point_budget=self.point_budget,
            import_static=self.import_static,
            import_dynamic=self.import_dynamic,
            import_masks=self.import_masks,
            plate_background=self.plate_background,
            set_scene=self.set_scene,
            track_markers=self.track_markers,
        )
        try:
            result = import_bundle(context, self.filepath, settings)
        except Exception as error:  # a bug: logged, reported in one sentence
            logger.exception("VGGT4D import of %s failed", self.filepath)
            self.report({"ERROR"}, import_failure(self.filepath, error))
            return {"CANCELLED"}
        for warning in result.import_warnings():
            self.report({"WARNING"}, warning)
        self.report({"INFO"}, result.summary())
        return {"FINISHED"}


class VGGT4D_OT_import_batch(bpy.types.Operator):
    """Import every finished shot of a vggt4d batch folder, one scene or collection per shot"""

    bl_idname = "vggt4d.import_batch"
    bl_label = "Import VGGT4D Batch"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender reads a plain set)

    directory: StringProperty(name="Batch Folder", subtype="DIR_PATH")
    filter_folder: BoolProperty(default=True, options={"HIDDEN"})
    layout_mode: EnumProperty(
        name="One Per Shot",
        items=(
            ("SCENE", "Scene", "A scene per shot, set from its plate"),
            ("COLLECTION", "Collection", "A collection per shot in the current scene"),
        ),
        default="SCENE",
    )

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        from ..bundle_format import BundleError
        from .batch import import_batch

        try:
            result = import_batch(self.directory, one_scene_per_shot=self.layout_mode == "SCENE")
        except BundleError as error:
            self.report({"ERROR"}, f"Cannot import the batch {self.directory}: {error}")
            return {"CANCELLED"}
        for shot, sentence in result.failed:
            self.report({"WARNING"}, f"{shot}: {sentence}")
        for shot, problem in result.unfinished:
            self.report({"WARNING"}, f"{shot} was not imported: the batch says {problem}")
        for imported in result.imported:
            for warning in imported.import_warnings():
                self.report({"WARNING"}, f"{imported.shot}: {warning}")
        self.report({"INFO"} if result.imported else {"ERROR"}, result.summary())
        return {"FINISHED"} if result.imported else {"CANCELLED"}


def menu_import(self, context: bpy.types.Context) -> None:
    self.layout.operator(VGGT4D_OT_import_bundle.bl_idname, text="VGGT4D Bundle (manifest.json)")
    self.layout.operator(VGGT4D_OT_import_batch.bl_idname, text="VGGT4D Batch Folder")
