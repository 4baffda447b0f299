"""Pictures made for people to download: equations, animated GIFs, upscaled images; and the
one place pictures become bytes (``image_bytes``: PNG, JPEG, WebP, GIF; ``png_bytes``,
``data_url``), for downloads, st.image, components and bundle files alike.

Every generated picture draws its text with one bundled font (DejaVu Sans, vendored in
explorer/render/fonts/ under its Bitstream Vera licence), so ×, −, ↑ and ↓ never turn into
missing-glyph boxes whatever fonts the machine has. Images are enlarged only by whole powers of
two with nearest-neighbour (``pixel_scale``), never smoothed: a 64 px decode stays crisp.
"""
from __future__ import annotations

import base64
import io
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_PATH = Path(__file__).resolve().parent / "fonts" / "DejaVuSans.ttf"


@lru_cache(maxsize=16)
def font(size: int = 11) -> ImageFont.FreeTypeFont:
    """The bundled DejaVu Sans at size px (the one font of every generated picture)."""
    return ImageFont.truetype(str(FONT_PATH), size=int(size))


def pixel_scale(source: int, target: int) -> int:
    """The power of two k (1, 2, 4, ...) that brings source px closest to target px."""
    if source <= 0 or target <= source:
        return 1
    k = 1
    while source * k * 2 <= target * 1.25:   # 64 -> 110..128 gives 2, 64 -> 384 gives 4
        k *= 2
    return k


def sharp(img: np.ndarray, width: int) -> np.ndarray:
    """uint8 [S, S', 3] enlarged by the whole power of two closest to width px (nearest
    neighbour: every pixel becomes a k x k block). Show it at its own size: a browser that
    rescales it smooths it again."""
    a = np.asarray(img)
    k = pixel_scale(a.shape[1], int(width))
    return a if k == 1 else np.repeat(np.repeat(a, k, axis=0), k, axis=1)


def upscale(img: np.ndarray, size: int) -> Image.Image:
    """uint8 [S, S, 3] -> PIL image enlarged by the power of two closest to size px
    (nearest neighbour, so a 64 px image asked for at 160 px comes out at 128 px)."""
    return Image.fromarray(np.ascontiguousarray(sharp(np.asarray(img, np.uint8), size)))


# the equation picture's layout, in px: the page draws it here (PIL) or, where the browser
# decodes, the live component draws the same from these numbers (static/live_decoder/equation.js)
EQUATION_LAYOUT = {"pad": 16, "op_w": 90, "cap_h": 28, "op_size": 30, "cap_size": 13,
                   "op_dy": -18, "cap_dy": 6, "cap_max": 24, "op_fill": "#282828",
                   "cap_fill": "#5a5a5a"}


def equation_caption(caption: str) -> str:
    """A term's caption as the picture shows it (at most cap_max characters)."""
    n = EQUATION_LAYOUT["cap_max"]
    return caption if len(caption) <= n else caption[:n - 1] + "…"


def equation_picture(terms: list[tuple[str, np.ndarray, str]], result: np.ndarray,
                     tile: int = 160) -> Image.Image:
    """terms [(operator, image [S,S,3], caption)], operator '' for the first, '+' or '−'
    (a weight may be part of it, e.g. '+ 0.5 ×'); then '=' and the result. One picture."""
    L = EQUATION_LAYOUT
    pad, op_w, cap_h = L["pad"], L["op_w"], L["cap_h"]
    tile = upscale(result, tile).width
    n = len(terms) + 1
    width = pad + n * (tile + pad) + (len(terms)) * op_w
    height = pad * 2 + tile + cap_h
    pic = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(pic)
    big, small = font(L["op_size"]), font(L["cap_size"])
    x = pad
    items = list(terms) + [("=", result, "result")]
    for i, (op, img, caption) in enumerate(items):
        if i > 0:
            w = draw.textlength(op, font=big)
            draw.text((x + (op_w - w) / 2, pad + tile / 2 + L["op_dy"]), op, fill=L["op_fill"],
                      font=big)
            x += op_w
        pic.paste(upscale(img, tile), (x, pad))
        cap = equation_caption(caption)
        w = draw.textlength(cap, font=small)
        draw.text((x + (tile - w) / 2, pad + tile + L["cap_dy"]), cap, fill=L["cap_fill"],
                  font=small)
        x += tile + pad
    return pic


def gif_bytes(frames: np.ndarray, size: int = 192, ms_per_frame: int = 120,
              bounce: bool = True) -> bytes:
    """uint8 [T, S, S, 3] -> an endlessly looping animated GIF (forth and back if bounce)."""
    seq = [upscale(f, size) for f in frames]   # nearest, power of two: 64 px -> 128 px
    if bounce and len(seq) > 2:
        seq = seq + seq[-2:0:-1]
    return image_bytes(seq[0], "GIF", save_all=True, append_images=seq[1:], loop=0,
                       duration=ms_per_frame, disposal=2)


# ---------------------------------------------------------------------------- bytes
def image_bytes(img: Image.Image | np.ndarray, fmt: str = "PNG", **options) -> bytes:
    """The one encoder: a PIL image or a uint8 array [H, W(, 3 | 4)] as bytes in format fmt
    ("PNG", "JPEG", "WEBP", "GIF"), with PIL's save options (quality=, lossless=, ...)."""
    pic = img if isinstance(img, Image.Image) else Image.fromarray(np.ascontiguousarray(img))
    buf = io.BytesIO()
    pic.save(buf, format=fmt, **options)
    return buf.getvalue()


def png_bytes(img: Image.Image | np.ndarray, **options) -> bytes:
    """PNG bytes of a PIL image or uint8 array (st.image, downloads, files)."""
    return image_bytes(img, "PNG", **options)


def data_url(img: Image.Image | np.ndarray, fmt: str = "PNG", **options) -> str:
    """A data: URL of the picture (for components that take an image as a string)."""
    data = image_bytes(img, fmt, **options)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(data).decode("ascii")
