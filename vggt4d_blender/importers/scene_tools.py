"""Scene tools like the built-in tracker's: set floor, origin and scale on the shot root.

They move the root empty that parents the camera and clouds, so the camera animation and
the point data stay untouched. Points come from the selected vertices of a shot's cloud in
edit mode (or the selected vertices stored when leaving edit mode).
"""

from __future__ import annotations

import bpy
import numpy as np
from bpy.props import FloatProperty

from .datablocks import ROOT_TAG, SHOT_TAG


def shot_root(obj: bpy.types.Object | None) -> bpy.types.Object | None:
    """The root empty above ``obj`` (or ``obj`` itself)."""
    while obj is not None and not obj.get(ROOT_TAG):
        obj = obj.parent
    return obj


def selected_points(obj: bpy.types.Object) -> np.ndarray:
    """World positions float64 [K, 3] of the selected vertices of a mesh object."""
    if obj.mode == "EDIT":
        obj.update_from_editmode()
    mesh = obj.data
    count = len(mesh.vertices)
    selected = np.zeros(count, dtype=bool)
    mesh.vertices.foreach_get("select", selected)
    local = np.empty(count * 3, dtype=np.float32)
    # Not the ``position`` attribute: in edit mode attributes are the BMesh's layers.
    mesh.vertices.foreach_get("co", local)
    local = local.reshape(-1, 3)[selected].astype(np.float64)
    matrix = np.array(obj.matrix_world)
    return local @ matrix[:3, :3].T + matrix[:3, 3]


def apply_to_root(root: bpy.types.Object, transform: np.ndarray) -> None:
    """Left-multiply the root's world matrix by a world-space transform [4, 4]."""
    from mathutils import Matrix

    root.matrix_world = Matrix(transform.tolist()) @ root.matrix_world


class _ShotTool:
    """Shared poll: the active object belongs to an imported shot."""

    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender reads a plain set)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        obj = context.active_object
        return obj is not None and obj.get(SHOT_TAG) is not None and shot_root(obj) is not None

    def _points(
        self, context: bpy.types.Context, minimum: int, with_cursor: bool = False
    ) -> np.ndarray | None:
        """Selected cloud points; with_cursor adds the 3D cursor when fewer than minimum."""
        obj = context.active_object
        points = selected_points(obj) if obj.type == "MESH" else np.empty((0, 3))
        if with_cursor and len(points) < minimum:
            points = np.vstack([points, np.array(context.scene.cursor.location)])
        if len(points) < minimum:
            self.report({"ERROR"}, f"Select at least {minimum} points of the cloud in edit mode")
            return None
        return points


class VGGT4D_OT_set_floor(_ShotTool, bpy.types.Operator):
    """Fit a plane to the selected points (plus the 3D cursor when only two are selected) and
    turn the shot so that plane is the Z=0 floor"""

    bl_idname = "vggt4d.set_floor"
    bl_label = "Set Floor"

    def execute(self, context: bpy.types.Context) -> set[str]:
        from .point_math import floor_transform

        points = self._points(context, 3, with_cursor=True)
        if points is None:
            return {"CANCELLED"}
        root = shot_root(context.active_object)
        camera = context.scene.camera
        above = np.array(camera.matrix_world.translation) if camera else points.mean(0)
        if camera is None:
            above[2] += 1.0
        apply_to_root(root, floor_transform(points, above))
        return {"FINISHED"}


class VGGT4D_OT_set_origin(_ShotTool, bpy.types.Operator):
    """Move the shot so the selected points' centre (or the 3D cursor) is the world origin"""

    bl_idname = "vggt4d.set_origin"
    bl_label = "Set Origin"

    def execute(self, context: bpy.types.Context) -> set[str]:
        obj = context.active_object
        points = selected_points(obj) if obj.type == "MESH" else np.empty((0, 3))
        centre = points.mean(0) if len(points) else np.array(context.scene.cursor.location)
        transform = np.eye(4)
        transform[:3, 3] = -centre
        apply_to_root(shot_root(obj), transform)
        return {"FINISHED"}


class VGGT4D_OT_set_scale(_ShotTool, bpy.types.Operator):
    """Scale the shot so the two selected points are the given distance apart"""

    bl_idname = "vggt4d.set_scale"
    bl_label = "Set Scale"

    distance: FloatProperty(name="Distance", default=1.0, min=1e-6, unit="LENGTH")

    def execute(self, context: bpy.types.Context) -> set[str]:
        from .point_math import scale_transform

        points = self._points(context, 2)
        if points is None:
            return {"CANCELLED"}
        if len(points) != 2:
            self.report({"ERROR"}, "Select exactly two points of the cloud")
            return {"CANCELLED"}
        try:
            transform = scale_transform(points[0], points[1], self.distance)
        except ValueError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        apply_to_root(shot_root(context.active_object), transform)
        return {"FINISHED"}
