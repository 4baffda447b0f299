"""Pictures made for people to download: equations, animated GIFs, upscaled images."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # very old Pillow
        return ImageFont.load_default()


def upscale(img: np.ndarray, size: int) -> Image.Image:
    """uint8 [S, S, 3] -> PIL image of size x size (Lanczos)."""
    return Image.fromarray(np.asarray(img, np.uint8)).resize((size, size), Image.LANCZOS)


def equation_picture(terms: list[tuple[str, np.ndarray, str]], result: np.ndarray,
                     tile: int = 160) -> Image.Image:
    """terms [(operator, image [S,S,3], caption)], operator '' for the first, '+' or '−'
    (a weight may be part of it, e.g. '+ 0.5 ×'); then '=' and the result. One picture."""
    pad, op_w, cap_h = 16, 90, 28
    n = len(terms) + 1
    width = pad + n * (tile + pad) + (len(terms)) * op_w
    height = pad * 2 + tile + cap_h
    pic = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(pic)
    big, small = _font(30), _font(13)
    x = pad
    items = list(terms) + [("=", result, "result")]
    for i, (op, img, caption) in enumerate(items):
        if i > 0 or op:
            if i > 0:
                w = draw.textlength(op, font=big)
                draw.text((x + (op_w - w) / 2, pad + tile / 2 - 18), op, fill=(40, 40, 40),
                          font=big)
                x += op_w
        pic.paste(upscale(img, tile), (x, pad))
        cap = caption if len(caption) <= 24 else caption[:23] + "…"
        w = draw.textlength(cap, font=small)
        draw.text((x + (tile - w) / 2, pad + tile + 6), cap, fill=(90, 90, 90), font=small)
        x += tile + pad
    return pic


def gif_bytes(frames: np.ndarray, size: int = 192, ms_per_frame: int = 120,
              bounce: bool = True) -> bytes:
    """uint8 [T, S, S, 3] -> an endlessly looping animated GIF (forth and back if bounce)."""
    seq = [upscale(f, size) for f in frames]
    if bounce and len(seq) > 2:
        seq = seq + seq[-2:0:-1]
    buf = io.BytesIO()
    seq[0].save(buf, format="GIF", save_all=True, append_images=seq[1:], loop=0,
                duration=ms_per_frame, disposal=2)
    return buf.getvalue()


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
