"""Footage paths sent to the backend and shot names of bundles."""

from vggt4d_blender.jobs.footage_paths import sequence_pattern, shot_name


def test_one_frame_of_a_sequence_becomes_a_hash_pattern():
    assert sequence_pattern("/seq/plate.1001.png") == "/seq/plate.####.png"
    assert sequence_pattern("/seq/plate_000017.exr") == "/seq/plate_######.exr"
    assert sequence_pattern("/seq/plate.####.png") == "/seq/plate.####.png"
    assert sequence_pattern("/seq/shot.%04d.png") == "/seq/shot.%04d.png"
    assert sequence_pattern("/seq/folder") == "/seq/folder"
    assert sequence_pattern("/seq/still.png") == "/seq/still.png"


def test_shot_names_drop_extension_and_frame_numbers():
    assert shot_name("/plates/street_shot.mp4") == "street_shot"
    assert shot_name("/plates/seq/plate.1001.png") == "plate"
    assert shot_name("/plates/seq/plate.####.png") == "plate"
    assert shot_name("/plates/my plate/") == "my_plate"
    assert shot_name("/plates/0001.png") == "0001"
