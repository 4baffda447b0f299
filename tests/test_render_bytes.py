"""One grid builder (render.sheets.tile_grid) and one encoder (render.pictures.image_bytes):
every sheet, the image map, the bundle's gallery and the packed image shards are built and
encoded by them."""
import base64
import io
import pathlib
import re

import numpy as np
import pytest
from PIL import Image

from explorer.app.live_decoder import png_data_url
from explorer.bundle.write import gallery_to_webp
from explorer.data.imagestore import ImageStore, write_images
from explorer.render.map_images import grid_image, to_jpeg
from explorer.render.pictures import data_url, image_bytes, png_bytes
from explorer.render.sheets import image_grid, tile_grid

ROOT = pathlib.Path(__file__).resolve().parents[1]


def blocks(n, s=6, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, s, s, 3), dtype=np.uint8)


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def test_tile_grid_puts_tiles_in_their_cells():
    imgs = blocks(3)
    tiles = [Image.fromarray(a) for a in imgs]
    sheet, corners = tile_grid(tiles, cols=3, rows=2, tile_size=(6, 6), cells=[4, 0, 2], pad=1,
                               margin=(5, 2), gap_below=3)
    assert sheet.size == (5 + 1 + 3 * 7, 2 + 1 + 2 * (6 + 3 + 1))
    assert corners == [(5 + 1 + 7, 2 + 1 + 10), (6, 3), (6 + 14, 3)]
    a = np.asarray(sheet)
    for (x, y), img in zip(corners, imgs):
        np.testing.assert_array_equal(a[y:y + 6, x:x + 6], img)
    assert (a[3:9, 6 + 7:6 + 13] == 255).all()   # cell 1 left empty: background


def test_every_grid_is_the_same_builder():
    imgs = blocks(5)
    direct, _ = tile_grid([Image.fromarray(a) for a in imgs], 3, 2, (6, 6), pad=2)
    np.testing.assert_array_equal(np.asarray(image_grid(imgs, cols=3)), np.asarray(direct))
    on_map = grid_image(imgs, np.arange(5), rows=2, cols=3, thumb=6, pad=2)
    np.testing.assert_array_equal(np.asarray(on_map), np.asarray(direct))


@pytest.mark.parametrize("fmt,options", [("PNG", {}), ("WEBP", {"lossless": True}),
                                         ("PNG", {"compress_level": 1})])
def test_image_bytes_round_trip_lossless(fmt, options):
    img = blocks(1, 9)[0]
    data = image_bytes(img, fmt, **options)
    np.testing.assert_array_equal(decode(data), img)
    assert data == image_bytes(Image.fromarray(img), fmt, **options)   # array or PIL alike


def test_png_jpeg_and_data_urls():
    img = blocks(1, 16)[0]
    assert png_bytes(img)[:8] == b"\x89PNG\r\n\x1a\n"
    assert to_jpeg(Image.fromarray(img))[:2] == b"\xff\xd8"
    url = png_data_url(img)
    assert url.startswith("data:image/png;base64,") and url == data_url(img, compress_level=1)
    np.testing.assert_array_equal(decode(base64.b64decode(url.split(",", 1)[1])), img)


def test_gallery_and_image_shards_round_trip(tmp_path):
    gallery = blocks(12).reshape(3, 4, 6, 6, 3)
    atlas = decode(gallery_to_webp(gallery))
    assert atlas.shape == (3 * 6, 4 * 6, 3)
    np.testing.assert_array_equal(atlas[6:12, 18:24], gallery[1, 3])   # row = epoch
    imgs = blocks(40)
    write_images(imgs, tmp_path)
    np.testing.assert_array_equal(ImageStore(tmp_path, 40, 6).get(np.arange(40)), imgs)


def test_pil_pictures_are_encoded_in_one_place():
    pattern = re.compile(r"\.save\(\s*buf\s*,\s*format=")
    found = [str(p.relative_to(ROOT)) for d in ("explorer", "pages")
             for p in (ROOT / d).rglob("*.py") if pattern.search(p.read_text())]
    assert found == ["explorer/render/pictures.py"], found
