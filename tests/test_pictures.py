"""Generated pictures: one bundled font that has every glyph they draw, and pixels enlarged
only by whole powers of two with nearest neighbour (never smeared)."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from explorer.render import pictures

from explorer.render import sheets
from explorer.render.pictures import (FONT_PATH, equation_picture, font, gif_bytes, pixel_scale,
                                      sharp)

MISSING = "\uffff"   # a noncharacter: every font draws its missing-glyph box for it


def _glyph(f, ch: str) -> np.ndarray:
    mask = f.getmask(ch)
    return np.array(mask, dtype=np.uint8).reshape(mask.size[1], mask.size[0])


@pytest.mark.parametrize("ch", list("×−↑↓→…·±") + ["A", "é"])
def test_the_bundled_font_draws_every_needed_glyph(ch):
    f = font(20)
    box = _glyph(f, MISSING)
    got = _glyph(f, ch)
    assert got.size and got.max() > 0, f"{ch!r} draws nothing"
    assert got.shape != box.shape or not np.array_equal(got, box), \
        f"{ch!r} is drawn as the missing-glyph box"


def test_the_font_is_vendored_with_its_licence():
    assert FONT_PATH.is_file() and FONT_PATH.stat().st_size > 100_000
    assert (FONT_PATH.parent / "LICENSE-DejaVu.txt").is_file()


def test_sheets_draw_with_the_bundled_font():
    assert sheets._font().path == str(FONT_PATH)
    assert pictures.font(30).path == str(FONT_PATH)


def _dark_rows(pic: Image.Image, box) -> np.ndarray:
    a = np.asarray(pic.crop(box).convert("L"))
    return np.flatnonzero((a < 128).any(axis=1))


def test_the_equation_reads_a_minus_b_plus_c():
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(4)]
    pic = equation_picture([("", imgs[0], "A"), ("−", imgs[1], "B"), ("+", imgs[2], "C")],
                           imgs[3], tile=160)
    tile, pad, op_w = 128, 16, 90        # 64 px shown x2
    x_minus = pad + tile + pad           # the operator cell after A
    rows = _dark_rows(pic, (x_minus, pad, x_minus + op_w, pad + tile))
    assert 0 < len(rows) <= 4, "the minus sign is not a thin bar (a missing-glyph box?)"
    x_plus = x_minus + op_w + tile + pad
    rows = _dark_rows(pic, (x_plus, pad, x_plus + op_w, pad + tile))
    assert len(rows) > 10, "the plus sign is missing"
    caption_rows = _dark_rows(pic, (0, pad + tile + 2, pic.width, pic.height))
    assert len(caption_rows) > 0


def test_weights_are_written_with_a_real_times_sign():
    """'0.5 × A' in the caption: the × is drawn, not a box."""
    f = font(13)
    assert not np.array_equal(_glyph(f, "×"), _glyph(f, MISSING))


@pytest.mark.parametrize("source,target,k", [(64, 384, 4), (64, 160, 2), (64, 110, 2),
                                             (64, 64, 1), (128, 160, 1), (128, 384, 2),
                                             (128, 96, 1)])
def test_pixel_scale_is_a_power_of_two(source, target, k):
    assert pixel_scale(source, target) == k


def test_enlarging_is_nearest_neighbour_in_whole_steps():
    img = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    big = sharp(img, 256)
    assert big.shape == (256, 256, 3)
    assert np.array_equal(big[::4, ::4], img)          # every pixel a 4 x 4 block
    assert np.array_equal(big[3::4, 3::4], img)
    up = pictures.upscale(img, 160)
    assert up.size == (128, 128)
    assert np.array_equal(np.asarray(up)[1::2, 1::2], img)


def test_gif_frames_are_crisp():
    frames = np.random.default_rng(2).integers(0, 255, (3, 64, 64, 3), dtype=np.uint8)
    gif = Image.open(io.BytesIO(gif_bytes(frames, size=192, bounce=False)))
    assert gif.size == (128, 128)
    first = np.asarray(gif.convert("RGB"))
    # nearest neighbour: each 2 x 2 block holds one colour (GIF palettes may requantise)
    assert np.array_equal(first[::2, ::2], first[1::2, 1::2])


def test_the_browsers_equation_has_the_servers_layout_font_and_pictures():
    """The live component draws equation_picture itself (explorer.app.live_equation): the spec
    carries the same layout numbers, font and pictures, and a picture of the same size."""
    import base64
    from explorer.app.live_equation import equation_spec
    rng = np.random.default_rng(2)
    imgs = [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(3)]
    spec = equation_spec([("", imgs[0], "A", 0), ("+", imgs[1], "<b>B</b>", None)])
    assert [(t["op"], t["label"], t["weight"]) for t in spec["terms"]] == \
        [("", "A", 0), ("+", "<b>B</b>", None)]   # labels are drawn as text, never markup
    for t, img in zip(spec["terms"], imgs):
        head, data = t["image"].split(",", 1)
        assert head == "data:image/png;base64"
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(base64.b64decode(data)))), img)
    L = spec["layout"]
    assert L == pictures.EQUATION_LAYOUT and (FONT_PATH.parent / spec["font"]).is_file()
    assert spec["ascent"] == [font(L["op_size"]).getmetrics()[0],
                              font(L["cap_size"]).getmetrics()[0]]
    T = 64 * spec["scale"]                    # what equation.js computes
    pic = equation_picture([("", imgs[0], "A"), ("+", imgs[1], "B")], imgs[2])
    assert pic.size == (L["pad"] + 3 * (T + L["pad"]) + 2 * L["op_w"],
                        2 * L["pad"] + T + L["cap_h"])
    assert equation_spec([]) is None and equation_spec(None) is None
    with pytest.raises(ValueError, match="'B'.*control index"):
        equation_spec([("", imgs[0], "A", 0), ("+", imgs[1], "B", "wb")])


def test_weights_read_the_same_in_the_browsers_equation():
    """equation.js writes a weight with JavaScript's String(v) (url_number's mirror), the
    server's picture with f"{v:g}": the same text for every value a weight slider can take."""
    from explorer.app.live_decoder import Control, snap, url_number
    c = Control("w", min=-1.0, max=2.0, step=0.05)
    for v in np.arange(-1.0, 2.0001, 0.05):
        w = snap(v, c)
        assert f"{w:g}" == url_number(w), w
    assert pictures.equation_caption("x" * 30) == "x" * 23 + "…"
    assert pictures.equation_caption("0.5 × A") == "0.5 × A"
