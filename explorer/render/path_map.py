"""Points over the catalogue map, as one picture: an interpolation path (the Interpolation
page) or an uploaded photo's place (Find similar).

The page used to send a plotly WebGL scatter of 15,000 catalogue points on every rerun (each
Steps or Path change), and ten browsers redrawing it in software WebGL made a Steps change
wait seconds (README, Benchmarks). Here the catalogue is a backdrop drawn once per bundle and
projection (every product, shaded by how many fall on a pixel), and a change draws only the
path on a copy of it: a PNG of a few tens of kB that the browser shows at its own size. The
interactive version of the same path is on the Catalogue map (its overlay, on top of the
points).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageColor, ImageDraw

from explorer.render import map_overlays
from explorer.render.pictures import font

START_COLOUR, END_COLOUR = (68, 1, 84), (253, 231, 37)      # viridis' two ends
LINE_COLOUR = (68, 68, 68)
# the Catalogue map's own overlay colours: a photo's star, red when unlike the catalogue
STAR_COLOUR = ImageColor.getrgb(map_overlays.PHOTO_COLOUR)
UNLIKE_COLOUR = ImageColor.getrgb(map_overlays.UNLIKE_COLOUR)


@dataclass(frozen=True)
class Backdrop:
    """The catalogue's dots [H, W, 3] uint8 and the frame that maps map coordinates to pixels."""
    pixels: np.ndarray
    lo: np.ndarray
    span: np.ndarray
    pad: int

    def to_pixels(self, xy: np.ndarray) -> np.ndarray:
        """Map coordinates [N, 2] -> pixel centres [N, 2] (x right, y down), clipped into the
        picture (a point outside the frame sits on its edge)."""
        h, w = self.pixels.shape[:2]
        uv = np.clip((np.asarray(xy, np.float64) - self.lo) / self.span, 0.0, 1.0)
        uv = np.where(np.isfinite(uv), uv, 0.5)
        return np.stack([self.pad + uv[:, 0] * (w - 2 * self.pad - 1),
                         h - self.pad - 1 - uv[:, 1] * (h - 2 * self.pad - 1)], axis=1)


def backdrop(xy: np.ndarray, width: int = 720, height: int = 400, pad: int = 14) -> Backdrop:
    """Every product of the projection xy [N, 2] as a grey dot on white, darker where more
    products fall on one pixel (the frame holds the central 99.8% of them)."""
    if width <= 2 * pad + 1 or height <= 2 * pad + 1:
        raise ValueError(f"a {width} x {height} picture has no room inside a {pad} px margin")
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    ok = np.isfinite(xy).all(1)
    if ok.any():
        lo, hi = np.percentile(xy[ok], 0.1, axis=0), np.percentile(xy[ok], 99.9, axis=0)
    else:
        lo, hi = np.zeros(2), np.ones(2)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    frame = Backdrop(np.empty((height, width, 3), np.uint8), lo, span, pad)
    counts = np.zeros((height, width), np.float64)
    if ok.any():
        p = np.rint(frame.to_pixels(xy[ok])).astype(int)
        np.add.at(counts, (p[:, 1], p[:, 0]), 1.0)
    # one product: light grey; the densest pixels (99th percentile of the occupied): dark grey
    top = np.percentile(counts[counts > 0], 99) if (counts > 0).any() else 1.0
    shade = np.where(counts > 0, 0.35 + 0.65 * np.sqrt(np.minimum(counts / max(top, 1.0), 1)), 0)
    grey = np.rint(255 - shade * (255 - 110)).astype(np.uint8)
    frame.pixels[:] = grey[..., None]
    return frame


def _blend(t: float) -> tuple[int, int, int]:
    return tuple(int(round(a + (b - a) * t)) for a, b in zip(START_COLOUR, END_COLOUR))


def path_picture(frame: Backdrop, pxy: np.ndarray, start: str = "start",
                 end: str = "end") -> Image.Image:
    """The path pxy [steps, 2] (map coordinates) drawn on a copy of the backdrop: a line
    through its steps, a dot per step shaded from the start's colour to the end's, and the two
    anchors as labelled markers on top."""
    pxy = np.asarray(pxy, np.float64).reshape(-1, 2)
    if len(pxy) < 2:
        raise ValueError(f"a path needs at least 2 steps, got {len(pxy)}")
    img = Image.fromarray(frame.pixels.copy())
    draw = ImageDraw.Draw(img)
    pts = [tuple(p) for p in frame.to_pixels(pxy)]
    draw.line(pts, fill=LINE_COLOUR, width=2, joint="curve")
    for k, (x, y) in enumerate(pts):
        r = 4
        draw.ellipse((x - r, y - r, x + r, y + r), fill=_blend(k / (len(pts) - 1)),
                     outline=(255, 255, 255))
    for (x, y), text in ((pts[0], start), (pts[-1], end)):
        _marker(draw, x, y, text, STAR_COLOUR, frame.pixels.shape[1])
    return img


def place_picture(frame: Backdrop, pxy: np.ndarray, labels: list[str],
                  colour: tuple[int, int, int] = STAR_COLOUR) -> Image.Image:
    """Labelled markers at the places pxy [M, 2] (map coordinates), on a copy of the
    backdrop: where an uploaded photo falls among the catalogue's products."""
    pxy = np.asarray(pxy, np.float64).reshape(-1, 2)
    if len(labels) != len(pxy):
        raise ValueError(f"{len(pxy)} places but {len(labels)} labels")
    img = Image.fromarray(frame.pixels.copy())
    draw = ImageDraw.Draw(img)
    for (x, y), text in zip(frame.to_pixels(pxy), labels):
        _marker(draw, x, y, text, colour, frame.pixels.shape[1], r=8)
    return img


def _marker(draw: ImageDraw.ImageDraw, x: float, y: float, text, colour, width: int,
            r: int = 7) -> None:
    """A square marker at (x, y) with its label above it (below it at the top edge), on a
    white box so that it reads over the dots; labels are cut to 32 characters."""
    f = font(12)
    draw.rectangle((x - r, y - r, x + r, y + r), fill=tuple(colour), outline=(255, 255, 255))
    text = " ".join(str(text).split())
    text = text if len(text) <= 32 else text[:31] + "…"
    left, top, right, bottom = draw.textbbox((0, 0), text, font=f)
    tx = min(max(2, x - (right - left) / 2), width - (right - left) - 2)
    ty = y - r - (bottom - top) - 6 if y - r - (bottom - top) - 6 > 2 else y + r + 3
    draw.rectangle((tx - 2, ty + top - 1, tx + right - left + 2, ty + bottom + 1),
                   fill=(255, 255, 255))
    draw.text((tx, ty), text, fill=(30, 30, 30), font=f)
