"""Seams of a chunked shot become timeline markers at their plate frames, replaced on
re-import; a shot run in one pass adds none."""

from tests.importers.bundle_factory import make_bundle_data
from vggt4d.io.bundle import write_bundle
from vggt4d_blender.importers.shot import import_bundle


def _seam(frame: int, relative_residual: float) -> dict:
    return {
        "frame": frame,
        "residual": relative_residual * 2.0,
        "relative_residual": relative_residual,
        "inlier_fraction": 0.9,
        "points": 20000,
        "camera_jump": 0.001,
        "rotation_jump_deg": 0.05,
    }


def _chunk(first: int, last: int, owned_first: int, owned_last: int) -> dict:
    identity = {"scale": 1.0, "rotation": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "translation": [0] * 3}
    return {
        "first_frame": first,
        "last_frame": last,
        "owned_first_frame": owned_first,
        "owned_last_frame": owned_last,
        "similarity": identity,
    }


def test_seams_are_timeline_markers_and_reimport_replaces_them(factory_blender, tmp_path):
    bpy = factory_blender
    data = make_bundle_data(frames=list(range(1001, 1021)))
    data.chunking = {
        "chunk_size": 8,
        "overlap": 2,
        "chunks": [
            _chunk(1001, 1008, 1001, 1007),
            _chunk(1007, 1014, 1008, 1013),
            _chunk(1013, 1020, 1014, 1020),
        ],
        "seams": [_seam(1008, 0.004), _seam(1014, 0.031)],
    }
    path = write_bundle(tmp_path / "sh010.vggt4d", data)
    scene = bpy.context.scene
    scene.timeline_markers.new("artist note", frame=1010)

    result = import_bundle(bpy.context, path)
    import_bundle(bpy.context, path)

    markers = sorted((m.frame, m.name) for m in scene.timeline_markers)
    assert markers == [
        (1008, "sh010 seam 1 0.4%"),
        (1010, "artist note"),
        (1014, "sh010 seam 2 3.1%"),
    ]
    assert result.seams == 2 and "2 seam markers" in result.summary()


def test_a_single_pass_shot_adds_no_marker(factory_blender, tmp_path):
    bpy = factory_blender
    path = write_bundle(tmp_path / "one.vggt4d", make_bundle_data(frames=[1, 2, 3]))
    assert import_bundle(bpy.context, path).seams == 0
    assert len(bpy.context.scene.timeline_markers) == 0
