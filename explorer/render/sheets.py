"""Contact sheets: lay product images out on a grid, optionally with small text labels.

Used for catalogue previews, fixed-latent galleries and factor traversals::

    image_grid(images, cols=8)                         # [N, H, W, 3] -> PIL image
    row_labelled_grid(rows, ["z0", "z1"], ["-2", "0", "+2"])   # [R, C, H, W, 3]
    to_png_bytes(img)

Images may be uint8 in [0, 255] or floats in [0, 1] (decoder output); grey images
([N, H, W] or [N, H, W, 1]) are shown as grey RGB.
"""
from __future__ import annotations

import io
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from explorer.render.pictures import font

TEXT_COLOUR = (40, 40, 40)


def _font() -> ImageFont.FreeTypeFont:
    return font(11)   # the bundled DejaVu Sans: ×, −, ↑, ↓ draw as themselves


def _line_height() -> int:
    left, top, right, bottom = _font().getbbox("Ag")
    return int(bottom) + 2


def _text_width(text: str) -> int:
    return int(np.ceil(_font().getlength(text)))


def _fit(text: str, width: int) -> str:
    """Text shortened with an ellipsis so that it fits into width pixels."""
    if _text_width(text) <= width:
        return text
    while text and _text_width(text + "…") > width:
        text = text[:-1]
    return text + "…" if text else ""


def _as_uint8_rgb(images: np.ndarray, lead_dims: int) -> np.ndarray:
    """[*lead, H, W(, 1 | 3)] uint8 or float in [0, 1] -> uint8 [*lead, H, W, 3]."""
    a = np.asarray(images)
    if a.ndim == lead_dims + 2:
        a = a[..., None]
    if a.ndim != lead_dims + 3 or a.shape[-1] not in (1, 3):
        raise ValueError(f"expected images of shape [{', '.join(['N'] * lead_dims)}, H, W, 3], "
                         f"got {a.shape}")
    if a.dtype != np.uint8:
        if not np.issubdtype(a.dtype, np.floating):
            raise ValueError(f"images must be uint8 or float in [0, 1], got {a.dtype}")
        a = (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    return a


def _tile(image: np.ndarray, scale: int) -> Image.Image:
    tile = Image.fromarray(np.ascontiguousarray(image), "RGB")
    if scale != 1:
        tile = tile.resize((tile.width * scale, tile.height * scale), Image.NEAREST)
    return tile


def image_grid(images: np.ndarray, cols: int, pad: int = 2,
               bg: tuple[int, int, int] = (255, 255, 255),
               labels: Sequence[str] | None = None, scale: int = 1) -> Image.Image:
    """Images [N, H, W, 3] on a grid of ``cols`` columns (rows as needed), ``pad`` pixels
    around and between tiles, each tile enlarged ``scale`` times (nearest neighbour, so pixels
    stay honest). ``labels`` (one per image) are drawn small under each tile, shortened with an
    ellipsis when they do not fit."""
    arr = _as_uint8_rgb(images, 1)
    if cols < 1 or scale < 1 or pad < 0:
        raise ValueError(f"need cols >= 1, scale >= 1, pad >= 0 (got {cols}, {scale}, {pad})")
    n = len(arr)
    if labels is not None and len(labels) != n:
        raise ValueError(f"{n} images but {len(labels)} labels")
    h, w = arr.shape[1] * scale, arr.shape[2] * scale
    rows = max(1, -(-n // cols))
    cols_used = min(cols, n) if n else 1
    label_h = _line_height() if labels is not None else 0
    sheet = Image.new("RGB", (pad + cols_used * (w + pad), pad + rows * (h + label_h + pad)), bg)
    draw = ImageDraw.Draw(sheet) if labels is not None else None
    for i in range(n):
        r, c = divmod(i, cols)
        x, y = pad + c * (w + pad), pad + r * (h + label_h + pad)
        sheet.paste(_tile(arr[i], scale), (x, y))
        if draw is not None:
            text = _fit(str(labels[i]), w)
            draw.text((x + (w - _text_width(text)) // 2, y + h), text, fill=TEXT_COLOUR,
                      font=_font())
    return sheet


def row_labelled_grid(rows: np.ndarray, row_labels: Sequence[str],
                      col_labels: Sequence[str] | None = None, scale: int = 1,
                      pad: int = 2, bg: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """A traversal grid: rows [R, C, H, W, 3], one row per factor (``row_labels``, drawn to the
    left of each row), optional ``col_labels`` (e.g. the traversal values) drawn above the
    columns."""
    arr = _as_uint8_rgb(rows, 2)
    n_rows, n_cols = arr.shape[:2]
    if len(row_labels) != n_rows:
        raise ValueError(f"{n_rows} rows but {len(row_labels)} row labels")
    if col_labels is not None and len(col_labels) != n_cols:
        raise ValueError(f"{n_cols} columns but {len(col_labels)} column labels")
    if scale < 1 or pad < 0:
        raise ValueError(f"need scale >= 1 and pad >= 0 (got {scale}, {pad})")
    h, w = arr.shape[2] * scale, arr.shape[3] * scale
    label_w = max([_text_width(str(t)) for t in row_labels] + [0]) + 2 * pad
    head_h = _line_height() + pad if col_labels is not None else 0
    width = label_w + pad + n_cols * (w + pad)
    height = head_h + pad + n_rows * (h + pad)
    sheet = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(sheet)
    text_h = _line_height()
    x0 = label_w + pad
    if col_labels is not None:
        for c, text in enumerate(col_labels):
            text = _fit(str(text), w)
            x = x0 + c * (w + pad)
            draw.text((x + (w - _text_width(text)) // 2, pad), text, fill=TEXT_COLOUR,
                      font=_font())
    for r in range(n_rows):
        y = head_h + pad + r * (h + pad)
        draw.text((pad, y + (h - text_h) // 2), str(row_labels[r]), fill=TEXT_COLOUR,
                  font=_font())
        for c in range(n_cols):
            sheet.paste(_tile(arr[r, c], scale), (x0 + c * (w + pad), y))
    return sheet


def to_png_bytes(img: Image.Image) -> bytes:
    """PNG-encoded bytes of a PIL image (for st.image, downloads and files)."""
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
