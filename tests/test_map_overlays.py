"""explorer.render.map_overlays: density contours by marching squares on a smoothed 2-D
histogram, and the star / path overlays the catalogue map draws on top of its points."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from explorer.render import map_overlays as mo


def _two_blobs(n: int = 2000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal([-3, 0], 0.5, (n, 2)), rng.normal([3, 1], 0.5, (n, 2))])


def test_contours_enclose_both_blobs_and_not_the_empty_middle():
    contours = mo.density_contours(_two_blobs())
    assert [c["label"] for c in contours] == ["25%", "50%", "75%", "90%"]
    for c in contours:
        seg = c["segments"]
        assert mo.crossings(seg, -3, 0) % 2 == 1, c["label"]        # inside: odd
        assert mo.crossings(seg, 3, 1) % 2 == 1, c["label"]
        assert mo.crossings(seg, 0, 0.5) % 2 == 0, c["label"]       # the gap: outside
        assert mo.crossings(seg, 0, 6) == 0
        s = np.asarray(seg).reshape(-1, 2, 2)
        assert s[..., 0].min() > -6 and s[..., 0].max() < 6        # hugs the blobs
    # a larger share encloses more: its contour reaches further from the blob's centre
    reach = [np.abs(np.asarray(c["segments"]).reshape(-1, 2)[:, 0]).max() for c in contours]
    assert reach == sorted(reach)


def test_marching_squares_closes_every_contour():
    g = np.zeros((12, 12))
    g[3:6, 3:6] = 1.0
    g[7:10, 6:9] = 1.0
    g[6, 6] = 1.0                                 # a saddle between the two squares
    seg = mo.marching_squares(g, 0.5)
    ends = Counter(tuple(np.round(p, 6)) for p in seg.reshape(-1, 2))
    assert set(ends.values()) == {2}              # each end joins exactly two segments
    assert mo.crossings(seg.reshape(-1).tolist(), 4, 4) % 2 == 1
    assert mo.crossings(seg.reshape(-1).tolist(), 1, 1) % 2 == 0


def test_mass_levels_hold_their_share():
    rng = np.random.default_rng(1)
    dens, _, _ = mo.density_grid(rng.normal(size=(20_000, 2)))
    for share, level in zip(mo.SHARES, mo.mass_levels(dens)):
        held = dens[dens >= level].sum() / dens.sum()
        assert share <= held < share + 0.02


def test_star_and_path_overlays_and_bad_input():
    star = mo.photo_overlay(np.array([[1.5, -2.0]]), "<b>me</b>", flagged=True)
    assert star == {"kind": "star", "x": [1.5], "y": [-2.0], "labels": ["<b>me</b>"],
                    "color": mo.UNLIKE_COLOUR}
    assert mo.photo_overlay(np.array([0.0, 0.0]), "x")["color"] == mo.PHOTO_COLOUR
    long = mo.photo_overlay(np.array([0.0, 0.0]), "a\nb " * 40)["labels"][0]
    assert len(long) == mo.LABEL_CHARS and long.endswith("…") and "\n" not in long
    path, ends = mo.path_overlays(np.array([[0, 0], [1, 1], [2, 0]], float), "A", "B")
    assert path["kind"] == "path" and path["x"] == [0.0, 1.0, 2.0]
    assert ends["x"] == [0.0, 2.0] and ends["labels"] == ["A", "B"]
    with pytest.raises(ValueError, match="at least 2 steps"):
        mo.path_overlays(np.array([[0.0, 0.0]]))
    with pytest.raises(ValueError, match="finite"):
        mo.photo_overlay(np.array([[np.nan, 0.0]]), "x")
    with pytest.raises(ValueError, match="at least 2 points"):
        mo.density_contours(np.zeros((1, 2)))
