"""Panel draw code against the real RNA definitions.

Headless bpy never redraws, so Blender never calls ``Panel.draw``. These tests call the draw
functions with a stand-in layout that checks every call against ``UILayout``'s real RNA
functions and properties, every ``prop`` against the real property group and every
``operator`` against the registered operators: a typo fails here instead of in a user's UI.
"""

import importlib

import pytest


class CheckedLayout:
    """Records UILayout calls; raises if a function, argument, property or operator is unknown."""

    def __init__(self, bpy, calls):
        object.__setattr__(self, "_bpy", bpy)
        object.__setattr__(self, "calls", calls)

    def __setattr__(self, name, value):
        assert name in self._bpy.types.UILayout.bl_rna.properties, f"UILayout has no {name}"

    def __getattr__(self, name):
        functions = self._bpy.types.UILayout.bl_rna.functions
        assert name in functions, f"UILayout has no function {name}"
        parameters = [parameter.identifier for parameter in functions[name].parameters]

        def call(*args, **kwargs):
            unknown = set(kwargs) - set(parameters)
            assert not unknown, f"UILayout.{name} has no parameters {unknown}"
            if "icon" in kwargs:
                icons = functions[name].parameters["icon"].enum_items
                assert kwargs["icon"] in icons, f"Blender has no icon {kwargs['icon']}"
            if name == "prop":
                data, prop = args[:2]
                assert prop in data.bl_rna.properties, f"{data} has no property {prop}"
            self.calls.append((name, args[1:] if name == "prop" else args, kwargs))
            if name == "operator":
                category, operator = args[0].split(".")
                assert hasattr(getattr(self._bpy.ops, category), operator), args[0]
                rna = getattr(getattr(self._bpy.ops, category), operator).get_rna_type()
                return CheckedOperatorProperties(rna, self.calls)
            return CheckedLayout(self._bpy, self.calls)

        return call


class CheckedOperatorProperties:
    """What ``layout.operator`` returns: only the operator's real properties can be set."""

    def __init__(self, rna, calls):
        object.__setattr__(self, "_rna", rna)
        object.__setattr__(self, "_calls", calls)

    def __setattr__(self, name, value):
        assert name in self._rna.properties, f"{self._rna.identifier} has no property {name}"
        self._calls.append(("operator_property", (name, value), {}))


@pytest.mark.parametrize("state", ["idle", "running", "failed"])
def test_every_panel_draws_with_real_properties_and_operators(addon, state):
    import bpy

    panels = importlib.import_module(f"{addon}.ui.panels")
    settings = bpy.context.scene.vggt4d
    settings.status_state = state
    settings.status_message = "pass1 40%"
    settings.bundle_path = "/cache/shot.vggt4d"
    settings.solve_error = 0.12
    settings.solve_coverage = "Solved 14 of 16 frames; frames 1008, 1009 keep the network camera."
    lens = "the plate looks lens-distorted: with --distortion polynomial the median solve error"
    settings.solve_lens = "" if state == "idle" else lens  # idle: a solve without the warning
    calls = []
    for kind in ("FILE", "SEQUENCE", "CLIP"):
        settings.footage_kind = kind
        for panel in panels.classes:
            holder = type("Holder", (), {})()
            holder.layout = CheckedLayout(bpy, calls)
            panel.draw(holder, bpy.context)
            if hasattr(panel, "draw_header"):
                panel.draw_header(holder, bpy.context)
    operators = {args[0] for name, args, _ in calls if name == "operator"}
    running = state == "running"
    assert ("vggt4d.cancel" in operators) == running
    assert ("vggt4d.reconstruct" in operators) != running
    assert "vggt4d.rerun_with_masks" in operators
    scene_tools = {"vggt4d.import_bundle", "vggt4d.import_batch", "vggt4d.set_floor"}
    assert scene_tools | {"vggt4d.set_origin", "vggt4d.set_scale"} <= operators
    assert any(name == "progress" for name, _, _ in calls) == (state != "idle")
    drawn = {args[0] for name, args, _ in calls if name == "prop"}
    assert {"footage_path", "sequence_path", "clip", "refine", "artist_mask"} <= drawn
    labels = [kwargs for name, _, kwargs in calls if name == "label"]
    assert {"text": settings.solve_coverage, "icon": "ERROR"} in labels
    assert ({"text": lens, "icon": "ERROR"} in labels) == (state != "idle")


def test_preferences_draw_with_real_properties_and_operators(addon):
    import bpy

    preferences = bpy.context.preferences.addons[addon].preferences
    bpy.context.window_manager.vggt4d_backend.report = "version: 0.1.0\ndevice: cpu"
    preferences.setup_python = "/usr/bin/python3.12"
    calls = []
    holder = type("Holder", (), {})()
    holder.layout = CheckedLayout(bpy, calls)
    type(preferences).draw(_Bound(preferences, holder.layout), bpy.context)
    labels = [kwargs.get("text") for name, _, kwargs in calls if name == "label"]
    assert "version: 0.1.0" in labels and "device: cpu" in labels
    assert any("Online access is off" in (label or "") for label in labels)
    assert ("operator_property", ("base_python", "/usr/bin/python3.12"), {}) in calls


class _Bound:
    """The preferences instance with its ``layout`` replaced by the checked stand-in."""

    def __init__(self, preferences, layout):
        self._preferences = preferences
        self.layout = layout

    def __getattr__(self, name):
        return getattr(self._preferences, name)
