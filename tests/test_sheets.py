"""Contact sheets: layout, labels, scaling and PNG bytes."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from explorer.render.sheets import image_grid, row_labelled_grid, to_png_bytes


def tiles(n: int, h: int = 8, w: int = 8) -> np.ndarray:
    """n flat-coloured tiles [n, h, w, 3], tile i has colour (i, 2i, 3i) + 10."""
    colours = np.array([(10 + i, 10 + 2 * i, 10 + 3 * i) for i in range(n)], dtype=np.uint8)
    return np.broadcast_to(colours[:, None, None, :], (n, h, w, 3)).copy()


def test_image_grid_layout_and_tile_placement():
    imgs = tiles(10)
    sheet = image_grid(imgs, cols=4, pad=2)
    assert isinstance(sheet, Image.Image) and sheet.mode == "RGB"
    assert sheet.size == (2 + 4 * 10, 2 + 3 * 10)  # 3 rows for 10 tiles
    a = np.asarray(sheet)
    for i in range(10):
        r, c = divmod(i, 4)
        y, x = 2 + r * 10, 2 + c * 10
        assert np.array_equal(a[y:y + 8, x:x + 8], imgs[i])
    assert (a[0] == 255).all() and (a[:, 0] == 255).all()  # padding is the background
    assert (a[-10:, -10:] == 255).all()  # the empty cells of the last row too


def test_image_grid_background_scale_and_few_images():
    sheet = image_grid(tiles(2), cols=8, pad=1, bg=(0, 0, 0), scale=3)
    assert sheet.size == (1 + 2 * 25, 1 + 25)  # only as many columns as images
    a = np.asarray(sheet)
    assert (a[0, 0] == 0).all()
    assert np.array_equal(a[1:25, 1:25], np.broadcast_to(tiles(1)[0, 0, 0], (24, 24, 3)))


def test_image_grid_labels_add_a_line_under_each_tile():
    imgs = tiles(4, 32, 32)
    plain = image_grid(imgs, cols=2)
    labelled = image_grid(imgs, cols=2, labels=["a", "b", "c", "a very long label indeed"])
    assert labelled.width == plain.width and labelled.height > plain.height
    a = np.asarray(labelled)
    below = a[2 + 32:2 + 32 + 8, 2:2 + 32]  # the label strip of the first tile
    assert (below < 128).any()  # some text pixels were drawn


def test_image_grid_accepts_floats_and_grey():
    grey = np.linspace(0, 1, 2 * 4 * 4).reshape(2, 4, 4)
    a = np.asarray(image_grid(grey, cols=2, pad=0))
    assert a.shape == (4, 8, 3) and a[0, 0, 0] == 0 and a[-1, -1, 0] == 255
    assert (a[..., 0] == a[..., 2]).all()


@pytest.mark.parametrize("bad", [np.zeros((2, 4, 4, 4), np.uint8), np.zeros((4, 4), np.uint8),
                                 np.zeros((2, 4, 4, 3), np.int64)])
def test_image_grid_rejects_bad_arrays(bad):
    with pytest.raises(ValueError):
        image_grid(bad, cols=2)


def test_image_grid_rejects_label_count_mismatch():
    with pytest.raises(ValueError):
        image_grid(tiles(3), cols=2, labels=["x"])


def test_row_labelled_grid_layout():
    rows = tiles(6, 8, 8).reshape(2, 3, 8, 8, 3)
    sheet = row_labelled_grid(rows, ["z0", "z1 longer"], ["-2", "0", "+2"], scale=2)
    no_cols = row_labelled_grid(rows, ["z0", "z1 longer"], None, scale=2)
    assert sheet.width == no_cols.width and sheet.height > no_cols.height
    a = np.asarray(no_cols)
    # the last tile of each row sits at the right edge, pad 2, tiles 16 px
    for r in range(2):
        y = 2 + r * 18
        tile = a[y:y + 16, -18:-2]
        assert np.array_equal(tile, np.broadcast_to(rows[r, 2, 0, 0], (16, 16, 3)))
    left = a[:, :a.shape[1] - 3 * 18 - 2]  # the row-label column
    assert (left < 128).any()


def test_row_labelled_grid_rejects_mismatched_labels():
    rows = tiles(6).reshape(2, 3, 8, 8, 3)
    with pytest.raises(ValueError):
        row_labelled_grid(rows, ["only one"], None)
    with pytest.raises(ValueError):
        row_labelled_grid(rows, ["a", "b"], ["1", "2"])


def test_to_png_bytes_round_trip():
    sheet = image_grid(tiles(3), cols=3)
    data = to_png_bytes(sheet)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    back = Image.open(io.BytesIO(data))
    assert back.size == sheet.size and np.array_equal(np.asarray(back), np.asarray(sheet))


def test_a_wide_strip_wraps_into_even_blocks_never_wider_than_the_page():
    from explorer.render.sheets import wrapped_grid
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 255, (2, 24, 64, 64, 3), dtype=np.uint8)
    labels = [str(i + 1) for i in range(24)]
    few = wrapped_grid(rows[:, :4], ["decoded", "closest"], labels[:4], max_width=820)
    assert few.width <= 820 and few.height > 2 * 128      # 4 steps fit at x2: one block
    px = np.asarray(few)
    tile = px[few.height - 2 - 128:few.height - 2, few.width - 2 - 128:few.width - 2]
    assert np.array_equal(tile[0::2, 0::2], tile[1::2, 1::2])   # nearest neighbour, x2
    many = wrapped_grid(rows, ["decoded", "closest"], labels, max_width=820)
    assert many.width <= 820
    # 24 steps at x1: 11 fit across, so three blocks of 8 (not 11 + 11 + 2), each two rows
    # of 64 px under its own column labels
    assert 3 * 2 * 64 < many.height < 3 * (2 * 66 + 30)
    assert 8 * 66 <= many.width < 9 * 66 + 80
    one = wrapped_grid(rows[:, :5], ["decoded", "closest"], labels[:5], max_width=10_000)
    assert one.width > 5 * 128                             # room enough: x2 in one block
