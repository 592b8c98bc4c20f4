"""Artist masks from a folder: one image per plate frame, matched by frame number.

The add-on exports the masks an artist painted or rotoscoped (docs/addon.md, "Re-run with my
masks"); the command line takes any folder of mask images (``--masks``). A file stands for the
plate frame its name ends in (``mask.001001.png``; ``bundle_format.frame_number``).
"""

from pathlib import Path

import cv2
import numpy as np

from vggt4d.errors import InputError
from vggt4d.io.bundle_format import frame_number

MASK_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def numbered_files(folder: str | Path, extensions: tuple[str, ...]) -> dict[int, Path]:
    """{frame number: file} for the files of ``folder`` with one of ``extensions`` (lower
    case, with the dot) whose names carry a frame number; two files for one frame raise
    InputError. A missing folder gives {}."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    files: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        number = frame_number(path.name)
        if path.suffix.lower() not in extensions or number is None:
            continue
        if number in files:
            raise InputError(f"{files[number].name} and {path.name} are both frame {number}.")
        files[number] = path
    return files


def read_artist_masks(
    folder: str | Path, frame_numbers: list[int], width: int, height: int
) -> dict[int, np.ndarray]:
    """{index into ``frame_numbers``: bool [height, width] plate mask} for the frames that
    have a mask in ``folder``. Raises InputError for a missing folder or a bad mask."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"The mask folder {folder} does not exist.")
    files = numbered_files(folder, MASK_EXTENSIONS)
    return {
        index: read_mask_image(files[number], width, height)
        for index, number in enumerate(frame_numbers)
        if number in files
    }


def read_mask_image(path: Path, width: int, height: int) -> np.ndarray:
    """A mask image -> bool [height, width]: alpha if it has one, else the brightest channel,
    above half its range."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InputError(f"Cannot read the mask {path}.")
    if image.ndim == 3:
        image = image[..., 3] if image.shape[2] == 4 else image[..., :3].max(axis=2)
    if image.shape != (height, width):
        raise InputError(
            f"The mask {path} is {image.shape[1]}x{image.shape[0]}; the plate is {width}x{height}."
        )
    limit = np.iinfo(image.dtype).max if np.issubdtype(image.dtype, np.integer) else 1.0
    return image > limit / 2
