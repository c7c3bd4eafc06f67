"""Lazy slide reading: region reads match the pixels, pyramid levels, decode-once, backend errors."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from omicsfusion.data.spatial import SlideBackendError, open_slide
from omicsfusion.data.spatial.wsi import RegionTiffWSIReader


@pytest.fixture(scope="module")
def pyramid(tmp_path_factory):
    """A 2-level tiled JPEG TIFF and a strip-based zlib TIFF of the same random image."""
    folder = tmp_path_factory.mktemp("wsi")
    rng = np.random.default_rng(0)
    image = (rng.integers(0, 8, (600, 700, 3)) * 32).astype(np.uint8)
    path = folder / "slide.tif"
    with tifffile.TiffWriter(path) as tif:
        tif.write(
            image,
            tile=(128, 128),
            compression="zlib",
            photometric="rgb",
            resolution=(2e4, 2e4),
            resolutionunit="CENTIMETER",
            metadata=None,
        )
        tif.write(
            image[::2, ::2],
            tile=(128, 128),
            compression="zlib",
            photometric="rgb",
            subfiletype=1,
            resolution=(1e4, 1e4),
            resolutionunit="CENTIMETER",
            metadata=None,
        )
    strips = folder / "strips.tif"
    tifffile.imwrite(strips, image, rowsperstrip=50, compression="zlib", photometric="rgb")
    return image, path, strips


def test_region_read_matches_pixels_and_pads_outside(pyramid):
    image, path, strips = pyramid
    for file in (path, strips):
        reader = RegionTiffWSIReader()
        wsi = reader.read(str(file))
        patch, _meta = reader.get_data(wsi, location=(250, 300), size=(200, 190), level=0)
        assert np.array_equal(np.moveaxis(patch, 0, -1), image[250:450, 300:490])
        edge, _ = reader.get_data(wsi, location=(550, 650), size=(100, 100), level=0)
        edge = np.moveaxis(edge, 0, -1)
        assert np.array_equal(edge[:50, :50], image[550:, 650:]) and (edge[50:] == 255).all()


def test_pyramid_level_and_mpp(pyramid, monkeypatch):
    _, path, _ = pyramid
    slide = open_slide(path)
    assert slide.backend == "tifffile" and slide.sizes == [(600, 700), (300, 350)]
    assert slide.mpp == pytest.approx(0.5)
    assert slide.level_for(0.5) == 0 and slide.level_for(1.0) == 1 and slide.level_for(4.0) == 1
    calls = []
    original = slide.reader.get_data
    monkeypatch.setattr(slide.reader, "get_data", lambda *a, **k: calls.append(k["level"]) or original(*a, **k))
    patch = slide.read_region(350, 300, size_um=50.0, out_px=50)  # 1 um/px wanted -> level 1, no resampling
    assert patch.shape == (3, 50, 50) and calls == [1]


def test_tiff_is_never_decoded_whole(pyramid, monkeypatch):
    _, path, _ = pyramid
    monkeypatch.setattr(tifffile.TiffFile, "asarray", lambda *a, **k: pytest.fail("whole-image decode"))
    monkeypatch.setattr(tifffile.TiffPage, "asarray", lambda *a, **k: pytest.fail("whole-page decode"))
    slide = open_slide(path)
    for x in range(50, 700, 100):
        slide.read_region(x, 300, size_um=40.0, out_px=32)


def test_jpeg_is_decoded_once_per_process(tmp_path, monkeypatch):
    path = tmp_path / "he.jpg"
    Image.fromarray(np.full((1200, 1100, 3), 200, np.uint8)).save(path)
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    for _ in range(3):
        slide = open_slide(path, mpp=0.5)
        slide.read_region(500, 500, size_um=100.0, out_px=64)
    assert len(opened) == 1 and slide.backend == "pil" and slide.n_levels == 2


def test_unopenable_image_lists_backends_and_install_hint(tmp_path):
    path = tmp_path / "broken.svs"
    path.write_bytes(b"not a slide" * 10)
    with pytest.raises(SlideBackendError) as info:
        open_slide(path)
    message = str(info.value)
    assert "tifffile:" in message and "openslide" in message and "pip install" in message
