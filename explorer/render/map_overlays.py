"""What the catalogue map draws beside its points (explorer/app/map_frontend/map.js): an
uploaded photo's star and an interpolation path on its overlay canvas above the WebGL points,
density contours on a canvas beneath them (a dense point hides the line).

Each overlay is a plain dict the component sends as JSON, in the map's own coordinates:
  {"kind": "star" | "path" | "points", "x": [...], "y": [...], "labels": [...], "color": "#..."}
  {"kind": "contour", "segments": [x0, y0, x1, y1, ...], "label": "50%", "color": "#...",
   "width": 1.2}
Labels are catalogue or user text: the browser puts them on the canvas as text (fillText).

Density contours: a 2-D histogram of the projected points smoothed by a Gaussian (numpy only),
cut at the densities that hold a given share of the products (the 50% contour encloses the
densest area holding half of them), traced by marching squares into line segments. The grid is
padded with empty cells, so every contour is closed.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

PHOTO_COLOUR = "#e4572e"
UNLIKE_COLOUR = "#d62728"          # a photo flagged as unlike the catalogue
PATH_COLOUR = "#6a3d9a"
CONTOUR_COLOUR = "#31333f"
SHARES = (0.25, 0.5, 0.75, 0.9)    # contours holding this share of the products


LABEL_CHARS = 48                   # longer labels are cut (the full text is in the sidebar)


def short(label) -> str:
    text = " ".join(str(label).split())
    return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…"


def _xy(points: np.ndarray) -> tuple[list[float], list[float]]:
    p = np.asarray(points, np.float64).reshape(-1, 2)
    if not np.isfinite(p).all():
        raise ValueError("overlay positions must be finite numbers")
    return [float(v) for v in p[:, 0]], [float(v) for v in p[:, 1]]


def photo_overlay(pxy: np.ndarray, label: str, flagged: bool = False) -> dict:
    """The star of an uploaded photo at its place on the map, pxy [1, 2] (or [2])."""
    x, y = _xy(pxy)
    return {"kind": "star", "x": x, "y": y, "labels": [short(label)] * len(x),
            "color": UNLIKE_COLOUR if flagged else PHOTO_COLOUR}


def path_overlays(pxy: np.ndarray, start: str = "start", end: str = "end") -> list[dict]:
    """An interpolation path [steps, 2] on the map: the line through its steps, then stars at
    its two ends (labelled with the anchors)."""
    x, y = _xy(pxy)
    if len(x) < 2:
        raise ValueError(f"a path needs at least 2 steps, got {len(x)}")
    return [{"kind": "path", "x": x, "y": y, "labels": [], "color": PATH_COLOUR},
            {"kind": "star", "x": [x[0], x[-1]], "y": [y[0], y[-1]],
             "labels": [short(start), short(end)], "color": PHOTO_COLOUR}]


# ---------------------------------------------------------------------------- density
def _smooth(grid: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur (sigma in cells), zero outside the grid."""
    r = max(1, int(np.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    out = grid.astype(np.float64)
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (r, r)
        p = np.pad(out, pad)
        n = out.shape[axis]
        out = sum(w * np.take(p, np.arange(i, i + n), axis=axis) for i, w in enumerate(k))
    return out


def density_grid(xy: np.ndarray, bins: int = 128, sigma: float = 2.0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(density [bins + 2*pad, bins + 2*pad] indexed [y, x], x edges' centres, y centres): a
    smoothed 2-D histogram of xy [N, 2] over its bounding square, with an empty border of 3
    sigma + 1 cells so that contours close."""
    p = np.asarray(xy, np.float64)
    p = p[np.isfinite(p).all(1)]
    if len(p) < 2:
        raise ValueError(f"density contours need at least 2 points, got {len(p)}")
    lo, hi = p.min(0), p.max(0)
    side = float((hi - lo).max()) or 1.0
    mid = (lo + hi) / 2
    cell = side / bins
    pad = int(np.ceil(3 * sigma)) + 1
    n = bins + 2 * pad
    start = mid - side / 2 - pad * cell
    ix = np.clip(((p[:, 0] - start[0]) / cell).astype(np.int64), 0, n - 1)
    iy = np.clip(((p[:, 1] - start[1]) / cell).astype(np.int64), 0, n - 1)
    counts = np.bincount(iy * n + ix, minlength=n * n).reshape(n, n).astype(np.float64)
    dens = _smooth(counts, sigma)
    centres_x = start[0] + (np.arange(n) + 0.5) * cell
    centres_y = start[1] + (np.arange(n) + 0.5) * cell
    return dens, centres_x, centres_y


def mass_levels(density: np.ndarray, shares: Sequence[float] = SHARES) -> list[float]:
    """The density at which the region above it holds each share of the total (highest
    density regions): larger share -> lower level."""
    v = np.sort(density.ravel())[::-1]
    cum = np.cumsum(v) / v.sum()
    return [float(v[min(int(np.searchsorted(cum, s)), len(v) - 1)]) for s in shares]


# marching squares: corners v0 (i, j), v1 (i, j+1), v2 (i+1, j+1), v3 (i+1, j); edges e0 bottom
# (v0-v1), e1 right (v1-v2), e2 top (v3-v2), e3 left (v0-v3). Case = sum of 2^k over corners
# above the level; saddles (5, 10) join the high corners when the cell's centre is high.
_CASES = {1: [(3, 0)], 2: [(0, 1)], 3: [(3, 1)], 4: [(1, 2)], 6: [(0, 2)], 7: [(3, 2)],
          8: [(2, 3)], 9: [(0, 2)], 11: [(1, 2)], 12: [(3, 1)], 13: [(0, 1)], 14: [(3, 0)]}
_SADDLE = {(5, False): [(3, 0), (1, 2)], (5, True): [(0, 1), (2, 3)],
           (10, False): [(0, 1), (2, 3)], (10, True): [(3, 0), (1, 2)]}


def marching_squares(grid: np.ndarray, level: float) -> np.ndarray:
    """Line segments [M, 2, 2] ((x, y) in grid index units: x = column, y = row) where `grid`
    crosses `level`, linearly interpolated along the cell edges."""
    g = np.asarray(grid, np.float64)
    v0, v1, v2, v3 = g[:-1, :-1], g[:-1, 1:], g[1:, 1:], g[1:, :-1]
    case = ((v0 > level) * 1 + (v1 > level) * 2 + (v2 > level) * 4 + (v3 > level) * 8)
    ii, jj = np.mgrid[0:g.shape[0] - 1, 0:g.shape[1] - 1].astype(np.float64)

    def t(a, b):
        d = b - a
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.clip(np.where(d != 0, (level - a) / d, 0.5), 0.0, 1.0)
    edges = [np.stack([jj + t(v0, v1), ii], -1), np.stack([jj + 1, ii + t(v1, v2)], -1),
             np.stack([jj + t(v3, v2), ii + 1], -1), np.stack([jj, ii + t(v0, v3)], -1)]
    centre_high = (v0 + v1 + v2 + v3) / 4 > level
    out = []
    for c, pairs in list(_CASES.items()) + [((c, hi), p) for (c, hi), p in _SADDLE.items()]:
        if isinstance(c, tuple):
            m = (case == c[0]) & (centre_high == c[1])
        else:
            m = case == c
        if m.any():
            for ea, eb in pairs:
                out.append(np.stack([edges[ea][m], edges[eb][m]], 1))
    return np.concatenate(out) if out else np.zeros((0, 2, 2))


def density_contours(xy: np.ndarray, shares: Sequence[float] = SHARES, bins: int = 128,
                     sigma: float = 2.0, digits: int = 5) -> list[dict]:
    """Contour overlays of the points' density, one per share (the innermost, darkest, holds
    the densest `shares[0]` of the products), segments in map coordinates."""
    dens, cx, cy = density_grid(xy, bins, sigma)
    cell = float(cx[1] - cx[0])
    out = []
    for share, level in zip(shares, mass_levels(dens, shares)):
        seg = marching_squares(dens, level)
        if not len(seg):
            continue
        flat = np.empty_like(seg)
        flat[..., 0] = cx[0] + seg[..., 0] * cell
        flat[..., 1] = cy[0] + seg[..., 1] * cell
        alpha = 0.9 - 0.5 * (share - min(shares)) / max(1e-9, max(shares) - min(shares))
        out.append({"kind": "contour", "label": f"{share:.0%}", "share": float(share),
                    "segments": [float(f"{v:.{digits}g}") for v in flat.ravel()],
                    "color": CONTOUR_COLOUR, "alpha": round(float(alpha), 3)})
    return out


def crossings(segments: Sequence[float], x: float, y: float) -> int:
    """How many segments (flat [x0, y0, x1, y1, ...]) a ray from (x, y) towards +x crosses:
    odd = (x, y) is inside the closed contour (even-odd rule)."""
    s = np.asarray(segments, np.float64).reshape(-1, 4)
    x0, y0, x1, y1 = s.T
    straddle = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        xc = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    return int((straddle & (xc > x)).sum())
