"""The Interpolation page's map picture (explorer.render.path_map): the catalogue's dots drawn
once, the path drawn on a copy, the anchors where the map puts them."""
from __future__ import annotations

import numpy as np
import pytest

from explorer.render.path_map import END_COLOUR, STAR_COLOUR, START_COLOUR, backdrop, path_picture


def _catalogue(n=5000, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal((-3, 0), 0.7, (n // 2, 2)),
                           rng.normal((3, 1), 0.7, (n - n // 2, 2))])


def test_the_backdrop_shades_every_product_darker_where_many_overlap():
    xy = _catalogue()
    frame = backdrop(xy, width=300, height=200)
    px = frame.pixels
    assert px.shape == (200, 300, 3) and (px[..., 0] == px[..., 1]).all()   # grey
    inked = px[..., 0] < 255
    assert 500 < inked.sum() < 300 * 200 * 0.5
    # the two blobs' centres are dark, the empty middle between them white
    cx = frame.to_pixels(np.array([[-3, 0], [3, 1], [0, -2.5]])).round().astype(int)
    near = [px[y - 3:y + 4, x - 3:x + 4, 0].mean() for x, y in cx]
    assert near[0] < 230 and near[1] < 230 and near[2] == 255, near
    # darker where more products fall on one pixel
    counts = np.zeros(px.shape[:2])
    p = frame.to_pixels(xy).round().astype(int)
    np.add.at(counts, (p[:, 1], p[:, 0]), 1)
    assert px[counts >= 3, 0].mean() < px[counts == 1, 0].mean()


def test_the_path_is_drawn_on_a_copy_with_its_ends_where_the_map_puts_them():
    xy = _catalogue()
    frame = backdrop(xy, width=300, height=200)
    before = frame.pixels.copy()
    pxy = np.linspace([-3, 0], [3, 1], 6)
    img = np.asarray(path_picture(frame, pxy, "start", "end").convert("RGB"))
    assert np.array_equal(frame.pixels, before)          # the cached backdrop is untouched
    ends = frame.to_pixels(pxy[[0, -1]]).round().astype(int)
    for x, y in ends:
        assert tuple(img[y, x]) == STAR_COLOUR
    # the steps between are dots shaded from the start's colour to the end's
    mid = frame.to_pixels(pxy[1:-1]).round().astype(int)
    colours = np.array([img[y, x] for x, y in mid], float)
    toward_end = np.linalg.norm(colours - START_COLOUR, axis=1)
    assert (np.diff(toward_end) > 0).all(), colours
    assert np.linalg.norm(colours[-1] - END_COLOUR) < np.linalg.norm(colours[0] - END_COLOUR)
    # the labels are text on the picture: dark pixels above the ends, not in the backdrop
    x, y = ends[0]
    assert (img[max(0, y - 25):y - 8, max(0, x - 20):x + 20] < 90).all(2).any()


def test_points_off_the_frame_sit_on_its_edge_and_bad_input_is_refused():
    frame = backdrop(_catalogue(), width=200, height=120, pad=10)
    far = frame.to_pixels(np.array([[1e6, -1e6], [np.nan, 0.0]]))
    assert far[0].tolist() == [200 - 10 - 1, 120 - 10 - 1]
    assert np.isfinite(far).all()
    with pytest.raises(ValueError, match="at least 2 steps"):
        path_picture(frame, np.zeros((1, 2)))
    with pytest.raises(ValueError, match="no room"):
        backdrop(_catalogue(), width=20, height=20, pad=10)
    empty = backdrop(np.zeros((0, 2)), width=100, height=80)
    assert (empty.pixels == 255).all()


def test_a_photos_place_is_a_labelled_marker_in_its_colour():
    from explorer.render.path_map import UNLIKE_COLOUR, place_picture
    frame = backdrop(_catalogue(), width=260, height=160)
    where = np.array([[3.0, 1.0]])
    img = np.asarray(place_picture(frame, where, ["your photo"], UNLIKE_COLOUR).convert("RGB"))
    x, y = frame.to_pixels(where).round().astype(int)[0]
    assert tuple(img[y, x]) == UNLIKE_COLOUR
    assert (img == UNLIKE_COLOUR).all(-1).sum() >= 100          # a marker, not a dot
    assert not (frame.pixels == UNLIKE_COLOUR).all(-1).any()    # drawn on a copy
    with pytest.raises(ValueError, match="1 places but 2 labels"):
        place_picture(frame, where, ["a", "b"])
