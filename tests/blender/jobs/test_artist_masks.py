"""Artist masks to per-frame PNGs in real bpy: edited mask clip, painted image, Mask datablock."""

import importlib

import numpy as np
import pytest
from PIL import Image

from tests.blender.versions import set_mask_feather
from tests.importers.bundle_factory import write_synthetic_bundle
from vggt4d_blender.importers import compat
from vggt4d_blender.jobs.png import write_grey_png

FRAMES = [1001, 1003, 1005]
WIDTH, HEIGHT = 96, 64


@pytest.fixture
def bundle(tmp_path):
    return write_synthetic_bundle(
        tmp_path / "cache" / "shot.vggt4d", frames=FRAMES, width=WIDTH, height=HEIGHT
    )


def _read(path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.mode == "L" and image.size == (WIDTH, HEIGHT)
        return np.asarray(image)


def _square_mask(bpy, x0, x1, y0, y1):
    """A filled, closed square spline in mask space (straight edges)."""
    mask = bpy.data.masks.new(name="Garbage")
    spline = mask.layers.new(name="Layer").splines.new()
    spline.use_cyclic = True
    spline.points.add(3)
    for point, (x, y) in zip(spline.points, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], strict=True):
        point.co = point.handle_left = point.handle_right = (x, y)
    return mask


def test_edited_clip_and_mask_datablock_become_plate_pngs_per_frame(addon, bundle, tmp_path):
    import bpy

    artist_masks = importlib.import_module(f"{addon}.jobs.artist_masks")
    scene = bpy.context.scene
    scene.frame_set(7)
    refined = bundle / "masks" / "refined"
    edited = np.zeros((HEIGHT, WIDTH), dtype=bool)
    edited[2:10, 3:20] = True
    write_grey_png(refined / "mask.001003.png", edited)  # the artist's edit of one frame
    settings = scene.vggt4d
    settings.bundle_path = str(bundle)
    settings.artist_mask_clip = bpy.data.movieclips.load(str(refined / "mask.001001.png"))
    # Mask space: x over the plate width, y centred with 1 unit = plate width (96 / 64 = 1.5).
    settings.artist_mask = _square_mask(bpy, 0.25, 0.75, 0.5 - 1 / 6, 0.5 + 1 / 6)

    folder, count = artist_masks.export_artist_masks(bpy.context, settings)

    assert count == 3 and folder.parent == bundle.parent
    assert sorted(path.name for path in folder.iterdir()) == [
        f"mask.{frame:06d}.png" for frame in FRAMES
    ]
    square = np.zeros((HEIGHT, WIDTH), dtype=bool)
    square[16:48, 24:72] = True
    for frame in FRAMES:
        clip_frame = _read(refined / f"mask.{frame:06d}.png") > 127
        written = _read(folder / f"mask.{frame:06d}.png")
        assert set(np.unique(written)) <= {0, 255}
        np.testing.assert_array_equal(written > 127, clip_frame | square)
    assert (_read(folder / "mask.001003.png") > 127)[2:10, 3:20].all()
    assert scene.frame_current == 7


def test_single_painted_image_applies_to_every_frame_and_is_resized(addon, bundle):
    import bpy

    artist_masks = importlib.import_module(f"{addon}.jobs.artist_masks")
    image = bpy.data.images.new("painted", width=WIDTH // 2, height=HEIGHT // 2)
    pixels = np.zeros((HEIGHT // 2, WIDTH // 2, 4), dtype=np.float32)
    pixels[..., 3] = 1.0
    pixels[-4:, :5, :3] = 1.0  # Blender rows are bottom-up: this is the top-left corner
    image.pixels.foreach_set(pixels.ravel())
    settings = bpy.context.scene.vggt4d
    settings.bundle_path = str(bundle)
    settings.artist_mask_image = image

    folder, _ = artist_masks.export_artist_masks(bpy.context, settings)

    expected = np.zeros((HEIGHT, WIDTH), dtype=bool)
    expected[:8, :10] = True
    for frame in FRAMES:
        np.testing.assert_array_equal(_read(folder / f"mask.{frame:06d}.png") > 127, expected)


def test_rerun_without_a_backend_writes_masks_then_reports(addon, bundle, tmp_path):
    import bpy

    preferences = bpy.context.preferences.addons[addon].preferences
    preferences.python_path = str(tmp_path / "no-python")
    settings = bpy.context.scene.vggt4d
    settings.footage_path = str(tmp_path / "shot.mp4")
    settings.bundle_path = str(bundle)
    assert not bpy.ops.vggt4d.rerun_with_masks.poll()  # nothing to send yet
    settings.artist_mask = _square_mask(bpy, 0.1, 0.2, 0.4, 0.6)
    with pytest.raises(RuntimeError, match="Backend Python not found"):
        bpy.ops.vggt4d.rerun_with_masks()
    folders = list(bundle.parent.glob("shot.artist-masks-*"))
    assert len(folders) == 1 and len(list(folders[0].glob("mask.*.png"))) == 3


def test_no_mask_source_is_refused(addon, bundle):
    import bpy

    artist_masks = importlib.import_module(f"{addon}.jobs.artist_masks")
    settings = bpy.context.scene.vggt4d
    settings.bundle_path = str(bundle)
    with pytest.raises(artist_masks.ArtistMaskError, match="Choose a mask clip"):
        artist_masks.export_artist_masks(bpy.context, settings)
    assert artist_masks.sequence_frame_path("/m/mask.000001.png", 1234).name == "mask.001234.png"


@pytest.mark.parametrize(("width", "height"), [(96, 64), (48, 80)])
def test_rasteriser_matches_blenders_own_mask_node(factory_blender, tmp_path, width, height):
    """Blender's compositor Mask node renders the same spline: only edge pixels may differ."""
    from vggt4d_blender.jobs.mask_raster import LayerShape, SplineShape, rasterise_layers

    bpy = factory_blender
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.view_settings.view_transform = "Standard"
    scene.camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    scene.collection.objects.link(scene.camera)
    points = np.array(  # (left handle, point, right handle): a curved, skewed blob
        [
            [[0.15, 0.45], [0.2, 0.35], [0.3, 0.25]],
            [[0.55, 0.3], [0.7, 0.4], [0.85, 0.5]],
            [[0.85, 0.55], [0.8, 0.62], [0.7, 0.7]],
            [[0.45, 0.65], [0.3, 0.6], [0.2, 0.55]],
        ]
    )
    mask = bpy.data.masks.new(name="Blob")
    spline = mask.layers.new(name="Layer").splines.new()
    spline.use_cyclic = True
    spline.points.add(3)
    for point, (left, co, right) in zip(spline.points, points, strict=True):
        point.handle_type = "FREE"
        point.co, point.handle_left, point.handle_right = co, left, right
    tree = compat.new_compositor_tree(scene, "matte")
    node = tree.nodes.new("CompositorNodeMask")
    node.mask = mask
    set_mask_feather(node, False)
    tree.links.new(node.outputs[0], compat.compositor_output(tree))
    compat.set_scene_compositor(scene, tree)
    scene.render.use_compositing = True
    scene.render.filepath = str(tmp_path / "mask.png")
    bpy.ops.render.render(write_still=True)
    with Image.open(tmp_path / "mask.png") as image:
        blender = np.asarray(image)[..., 0] > 127

    ours = rasterise_layers([LayerShape([SplineShape(points)])], width, height)

    assert blender.sum() > 0.1 * width * height
    boundary = ours ^ np.roll(ours, 1, 0) | ours ^ np.roll(ours, 1, 1)
    differing = blender ^ ours
    assert differing.sum() <= 0.02 * blender.sum()
    assert not (differing & ~(boundary | np.roll(boundary, -1, 0) | np.roll(boundary, -1, 1))).any()
