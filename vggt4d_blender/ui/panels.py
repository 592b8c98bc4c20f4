"""The "VGGT4D" sidebar tab, in the 3D View and in the Movie Clip editor.

Both editors show the same panels; the classes differ only in ``bl_space_type``, so they are
made by one factory instead of written twice.
"""

from __future__ import annotations

import bpy

from .icons import icon_id

RUNNING_STATES = frozenset({"running", "cancelling"})


def _draw_footage(layout: bpy.types.UILayout, settings: bpy.types.PropertyGroup) -> None:
    layout.row().prop(settings, "footage_kind", expand=True)
    if settings.footage_kind == "FILE":
        layout.prop(settings, "footage_path")
    elif settings.footage_kind == "SEQUENCE":
        layout.prop(settings, "sequence_path")
    else:
        layout.prop(settings, "clip")
    layout.prop(settings, "use_frame_range")
    row = layout.row(align=True)
    row.active = settings.use_frame_range
    row.prop(settings, "frame_start")
    row.prop(settings, "frame_end")
    row = layout.row(align=True)
    row.prop(settings, "frame_stride")
    row.prop(settings, "max_frames")


def _draw_quality(layout: bpy.types.UILayout, settings: bpy.types.PropertyGroup) -> None:
    layout.prop(settings, "preprocess_mode")
    layout.prop(settings, "refine")
    layout.prop(settings, "confidence_percentile")
    layout.prop(settings, "point_budget")
    layout.prop(settings, "track_markers")
    layout.prop(settings, "smooth_camera")
    row = layout.row(align=True)
    row.prop(settings, "chunk_mode")
    size = row.row(align=True)
    size.active = settings.chunk_mode == "FIXED"
    size.prop(settings, "chunk_size", text="Size")
    layout.prop(settings, "overlap")


def _draw_run(layout: bpy.types.UILayout, settings: bpy.types.PropertyGroup) -> None:
    running = settings.status_state in RUNNING_STATES
    row = layout.row(align=True)
    row.scale_y = 1.4
    if running:
        row.operator("vggt4d.cancel", icon_value=icon_id("cancel"))
    else:
        row.operator("vggt4d.reconstruct", icon_value=icon_id("reconstruct"))
    if settings.status_state == "idle":
        return
    text = f"{settings.status_stage} {settings.status_progress:.0%}".strip()
    layout.progress(factor=settings.status_progress, type="BAR", text=text)
    column = layout.column(align=True)
    column.label(text=f"State: {settings.status_state}")
    if settings.status_message:
        column.label(text=settings.status_message)
    if settings.bundle_path:
        column.label(text=f"Bundle: {bpy.path.basename(settings.bundle_path.rstrip('/'))}")


def _draw_solve(layout: bpy.types.UILayout, settings: bpy.types.PropertyGroup) -> None:
    """The camera solve's error as Blender's tracker shows it: overall, then the worst frames."""
    if settings.solve_error < 0.0:
        return
    column = layout.column(align=True)
    good = settings.solve_error <= 0.3
    column.label(
        text=f"Solve error: {settings.solve_error:.3f} px",
        icon="CHECKMARK" if good else "ERROR",
    )
    if settings.solve_worst:
        column.label(text=f"Worst: {settings.solve_worst}")
    if settings.solve_smoothing:
        column.label(text=f"Smoothed: {settings.solve_smoothing}")
    if settings.solve_coverage:
        column.label(text=settings.solve_coverage, icon="ERROR")
    if settings.solve_lens:
        column.label(text=settings.solve_lens, icon="ERROR")


def _draw_masks(layout: bpy.types.UILayout, settings: bpy.types.PropertyGroup) -> None:
    layout.prop(settings, "artist_mask_clip")
    layout.prop(settings, "artist_mask_image")
    layout.prop(settings, "artist_mask")
    row = layout.row(align=True)
    row.enabled = settings.status_state not in RUNNING_STATES
    row.operator("vggt4d.rerun_with_masks", icon_value=icon_id("masks"))
    row.operator("vggt4d.resolve_with_masks", icon="TRACKING_REFINE_FORWARDS")


def _draw_scene(layout: bpy.types.UILayout, settings: bpy.types.PropertyGroup) -> None:
    """Import a bundle (or a batch folder) from disk, and orient the shot like the tracker's
    Solve tools do."""
    row = layout.row(align=True)
    row.operator("vggt4d.import_bundle", icon="IMPORT")
    row.operator("vggt4d.import_batch", text="Batch", icon="FILE_FOLDER")
    column = layout.column(align=True)
    column.label(text="Orientation (select cloud points in Edit Mode):")
    column.operator("vggt4d.set_floor", icon="VIEW_PERSPECTIVE")
    column.operator("vggt4d.set_origin", icon="OBJECT_ORIGIN")
    column.operator("vggt4d.set_scale", icon="DRIVER_DISTANCE")


def _panel_classes(space_type: str, prefix: str) -> tuple[type, ...]:
    """The main panel and its sub-panels for one editor."""
    main_id = f"{prefix}_PT_vggt4d"

    def main_draw(self: bpy.types.Panel, context: bpy.types.Context) -> None:
        _draw_run(self.layout, context.scene.vggt4d)
        _draw_solve(self.layout, context.scene.vggt4d)

    def header(self: bpy.types.Panel, context: bpy.types.Context) -> None:
        self.layout.label(icon_value=icon_id("vggt4d"))

    def sub_panel(name: str, label: str, draw_body, closed: bool) -> type:
        def draw(self: bpy.types.Panel, context: bpy.types.Context) -> None:
            self.layout.use_property_split = True
            self.layout.use_property_decorate = False
            draw_body(self.layout, context.scene.vggt4d)

        attributes = {
            "bl_space_type": space_type,
            "bl_region_type": "UI",
            "bl_category": "VGGT4D",
            "bl_label": label,
            "bl_parent_id": main_id,
            "draw": draw,
        }
        if closed:
            attributes["bl_options"] = {"DEFAULT_CLOSED"}
        return type(f"{prefix}_PT_vggt4d_{name}", (bpy.types.Panel,), attributes)

    main = type(
        main_id,
        (bpy.types.Panel,),
        {
            "bl_space_type": space_type,
            "bl_region_type": "UI",
            "bl_category": "VGGT4D",
            "bl_label": "VGGT4D",
            "draw_header": header,
            "draw": main_draw,
        },
    )
    return (
        main,
        sub_panel("footage", "Footage", _draw_footage, closed=False),
        sub_panel("quality", "Quality", _draw_quality, closed=True),
        sub_panel("masks", "Artist Masks", _draw_masks, closed=True),
        sub_panel("scene", "Scene", _draw_scene, closed=True),
    )


classes = _panel_classes("VIEW_3D", "VIEW3D") + _panel_classes("CLIP_EDITOR", "CLIP")
