"""The shots file: text and JSON forms, per-shot options, names, and its errors."""

import json
import re
from pathlib import Path

import pytest

from vggt4d.batch.shots import default_shot_name, read_shots
from vggt4d.errors import InputError
from vggt4d.job import JobOptions


def test_text_file_skips_comments_and_resolves_against_its_folder(tmp_path: Path) -> None:
    shots_file = tmp_path / "queue" / "shots.txt"
    shots_file.parent.mkdir()
    shots_file.write_text("# today\n\nplates/sh010.mp4\n  /abs/sh020.mov  \nsh030/plate.%04d.exr\n")
    shots = read_shots(shots_file, JobOptions(max_frames=8))
    assert [shot.name for shot in shots] == ["sh010", "sh020", "sh030"]
    assert [shot.footage for shot in shots] == [
        str(tmp_path / "queue" / "plates" / "sh010.mp4"),
        "/abs/sh020.mov",
        str(tmp_path / "queue" / "sh030" / "plate.%04d.exr"),
    ]
    assert all(shot.options.max_frames == 8 for shot in shots)
    assert shots[0].bundle_path(tmp_path) == tmp_path / "sh010.vggt4d"


def test_json_options_override_the_command_line_per_shot(tmp_path: Path) -> None:
    shots_file = tmp_path / "shots.json"
    shots_file.write_text(
        json.dumps(
            [
                "a.mp4",
                {
                    "footage": "b.mp4",
                    "name": "b_first_half",
                    "frames": "1:48:2",
                    "masks_dir": "roto/b",
                    "reconstruct": {"refine": False},
                },
            ]
        )
    )
    defaults = JobOptions(max_frames=16, weights="facebook/VGGT-1B")
    first, second = read_shots(shots_file, defaults)
    assert first.options == defaults
    assert second.name == "b_first_half"
    assert second.options.frames == "1:48:2" and second.options.max_frames == 16
    assert second.options.masks_dir == str(tmp_path / "roto" / "b")
    assert second.options.reconstruct.refine is False
    assert second.options.weights == "facebook/VGGT-1B"  # a hub id, not a path


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("", "lists no shot"),
        ("[1, 2", "not valid JSON"),
        ('[{"name": "x"}]', '"footage" path'),
        ('[{"footage": "a.mp4", "max_frame": 3}]', "max_frame"),
        ('[{"footage": "a.mp4", "max_frames": 0}]', "max_frames"),
        ('[{"footage": "a.mp4", "name": "../escape"}]', "cannot name a bundle"),
        ("x/a.mp4\ny/a.mp4\n", "two shots are named 'a'"),
    ],
)
def test_bad_shots_files_name_the_problem(tmp_path: Path, content: str, words: str) -> None:
    shots_file = tmp_path / "shots.json"
    shots_file.write_text(content)
    with pytest.raises(InputError, match=re.escape(words)):
        read_shots(shots_file, JobOptions())


def test_missing_shots_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="Cannot read the shots file"):
        read_shots(tmp_path / "nope.txt", JobOptions())


def test_default_names_come_from_the_video_or_the_sequence_folder() -> None:
    assert default_shot_name("/s/SH 010 v2.mov") == "SH_010_v2"
    assert default_shot_name("/s/sh020/plate.####.exr") == "sh020"
    assert default_shot_name("/s/sh030/") == "sh030"


def test_a_folder_of_shots_is_its_videos_and_image_folders(tmp_path: Path) -> None:
    for name in ("sh020.mov", "sh010.mp4", "notes.txt", ".hidden.mp4"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sh030").mkdir()
    (tmp_path / "sh030" / "plate.1001.exr").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    shots = read_shots(tmp_path, JobOptions())
    assert [shot.name for shot in shots] == ["sh010", "sh020", "sh030"]
    assert shots[2].footage == str(tmp_path / "sh030")
