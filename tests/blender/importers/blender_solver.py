"""Blender's own camera solver (the Clip editor's Solve Camera Motion), run headless."""


def solve_with_blender(bpy, clip) -> float:
    """Solve ``clip``'s camera from its markers with the clip's settings and lens as they are;
    return Blender's solve error (px). The operator needs a Clip editor, so the first area of
    the (headless) window becomes one showing ``clip``."""
    window = bpy.context.window_manager.windows[0]
    area = window.screen.areas[0]
    area.type = "CLIP_EDITOR"
    area.spaces.active.clip = clip
    region = next(region for region in area.regions if region.type == "WINDOW")
    override = {"window": window, "area": area, "region": region}
    with bpy.context.temp_override(**override, space_data=area.spaces.active):
        assert bpy.ops.clip.solve_camera() == {"FINISHED"}
    assert clip.tracking.reconstruction.is_valid
    return clip.tracking.reconstruction.average_error
