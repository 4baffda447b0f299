"""Contact sheets: lay product images out on a grid, optionally with small text labels.

Used for catalogue previews, fixed-latent galleries, factor traversals, the image map and the
bundle's gallery file; every grid is built by ``tile_grid``::

    image_grid(images, cols=8)                         # [N, H, W, 3] -> PIL image
    row_labelled_grid(rows, ["z0", "z1"], ["-2", "0", "+2"])   # [R, C, H, W, 3]
    tile_grid(tiles, cols, rows, cells=...)            # PIL tiles at chosen cells
    png_bytes(img)                                     # explorer.render.pictures' encoder

Images may be uint8 in [0, 255] or floats in [0, 1] (decoder output); grey images
([N, H, W] or [N, H, W, 1]) are shown as grey RGB.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from explorer.render.pictures import font, png_bytes

to_png_bytes = png_bytes   # the one encoder, under the name callers knew

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


def tile_grid(tiles: Iterable[Image.Image], cols: int, rows: int, tile_size: tuple[int, int],
              cells: Iterable[int] | None = None, pad: int = 2,
              bg: tuple[int, int, int] = (255, 255, 255), gap_below: int = 0,
              margin: tuple[int, int] = (0, 0)) -> tuple[Image.Image, list[tuple[int, int]]]:
    """The one grid builder: tiles of tile_size (w, h) pasted into the cells (row-major
    numbers, default 0, 1, 2, ...) of a rows x cols grid, pad pixels around and between them,
    gap_below pixels under each row of tiles (room for labels), and margin (left, top) kept
    free (row and column labels). Returns the sheet and each tile's top-left corner."""
    w, h = tile_size
    ox, oy = margin
    sheet = Image.new("RGB", (ox + pad + cols * (w + pad),
                              oy + pad + rows * (h + gap_below + pad)), bg)
    corners = []
    cell_iter = iter(cells) if cells is not None else None
    for i, tile in enumerate(tiles):
        cell = i if cell_iter is None else int(next(cell_iter))
        r, c = divmod(cell, cols)
        xy = (ox + pad + c * (w + pad), oy + pad + r * (h + gap_below + pad))
        sheet.paste(tile, xy)
        corners.append(xy)
    return sheet, corners


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
    sheet, corners = tile_grid((_tile(a, scale) for a in arr), cols_used, rows, (w, h), pad=pad,
                               bg=bg, gap_below=label_h)
    if labels is not None:
        draw = ImageDraw.Draw(sheet)
        for (x, y), label in zip(corners, labels):
            text = _fit(str(label), w)
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
    sheet, _ = tile_grid((_tile(arr[r, c], scale) for r in range(n_rows) for c in range(n_cols)),
                         n_cols, n_rows, (w, h), pad=pad, bg=bg, margin=(label_w, head_h))
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
    return sheet


PAGE_WIDTH = 820    # px a picture may take across the app's main column without being shrunk


def wrapped_grid(rows: np.ndarray, row_labels: Sequence[str],
                 col_labels: Sequence[str] | None = None, max_width: int = PAGE_WIDTH,
                 max_scale: int = 2, pad: int = 2,
                 bg: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """row_labelled_grid of rows [R, C, H, W, 3] no wider than max_width px, so that the page
    never shrinks it: enlarged by nearest neighbour by the largest power of two up to
    max_scale at which all C columns fit, else x1; columns that still do not fit continue in
    blocks of all R rows below, as even as can be (24 columns: 1-8, 9-16, 17-24, each block
    with its own column labels)."""
    arr = _as_uint8_rgb(rows, 2)
    n_cols, w = arr.shape[1], arr.shape[3]
    label_w = max([_text_width(str(t)) for t in row_labels] + [0]) + 2 * pad

    def fits(scale: int) -> int:                  # columns per block at this scale
        return max(1, (max_width - label_w - pad) // (w * scale + pad))
    scale = max(1, int(max_scale))
    while scale > 1 and fits(scale) < n_cols:
        scale //= 2
    per = fits(scale)
    per = -(-n_cols // -(-n_cols // per))          # blocks of even length: 6 + 6, not 11 + 1
    blocks = [row_labelled_grid(arr[:, c:c + per], row_labels,
                                None if col_labels is None else list(col_labels)[c:c + per],
                                scale=scale, pad=pad, bg=bg) for c in range(0, n_cols, per)]
    if len(blocks) == 1:
        return blocks[0]
    gap = 3 * pad
    sheet = Image.new("RGB", (max(b.width for b in blocks),
                              sum(b.height for b in blocks) + gap * (len(blocks) - 1)), bg)
    y = 0
    for block in blocks:
        sheet.paste(block, (0, y))
        y += block.height + gap
    return sheet
