"""Shoe geometry and material textures for the procedural catalogue's renderer.

`_Shoe` lays one item's outline out in shoe space (u from heel to toe, v height in shoe
lengths) from its build (`_BUILDS`, per silhouette) and toe shape, and maps it to pixels of the
supersampled canvas; `_texture` is the cached tile that darkens each material's surface.
Drawing is in `explorer.data.synthetic_render`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from explorer.data.synthetic_factors import MATERIALS

SUPERSAMPLE = 4  # shapes are drawn at SUPERSAMPLE x the output size, then box-filtered down


# ============================================================================ geometry
# Shoe space: u runs along the shoe from heel (0) to toe (1); v is height, in shoe lengths.
# Upper outlines are given as v above the local top of the sole, then lifted onto it.

@dataclass(frozen=True)
class _Build:
    heel_h: float             # collar height at the back
    lean: float               # forward lean of the back of the collar
    collar_low: tuple[float, float]   # lowest point of the ankle opening (u, v)
    tongue: tuple[float, float]       # top of the tongue (u, v)
    ankle: tuple[tuple[float, float], ...]  # extra instep points between tongue and foot
    laces: tuple[float, float]  # u range of the lacing
    n_laces: int              # 0: no laces (slip-on)
    spring: float             # toe spring: how far the sole's toe lifts
    drop: float               # forefoot sole thickness / heel sole thickness
    bevel: float              # heel bevel of the sole
    tab: str                  # heel tab style: court, flare, loop, label
    heel_counter: float       # height of the heel counter overlay, fraction of heel_h
    mudguard: bool
    lugs: bool


_BUILDS = (  # SILHOUETTES order
    _Build(0.26, 0.015, (0.25, 0.205), (0.385, 0.30), (), (0.42, 0.68), 6, 0.045, 0.85, 0.008,
           "court", 0.55, False, False),
    _Build(0.27, -0.005, (0.24, 0.19), (0.37, 0.325), (), (0.41, 0.68), 6, 0.085, 0.62, 0.03,
           "flare", 0.6, True, False),
    _Build(0.40, 0.04, (0.27, 0.345), (0.345, 0.43), ((0.43, 0.33),), (0.37, 0.68), 7, 0.05,
           0.85, 0.008, "loop", 0.42, False, False),
    _Build(0.545, 0.06, (0.29, 0.50), (0.345, 0.575), ((0.40, 0.47), (0.46, 0.35)),
           (0.355, 0.68), 9, 0.05, 0.85, 0.008, "loop", 0.36, False, False),
    _Build(0.56, 0.045, (0.30, 0.53), (0.355, 0.595), ((0.41, 0.48), (0.47, 0.36)),
           (0.37, 0.66), 8, 0.04, 0.8, 0.01, "loop", 0.3, True, True),
    _Build(0.215, 0.015, (0.27, 0.165), (0.48, 0.205), (), (0.0, 0.0), 0, 0.04, 0.9, 0.006,
           "label", 0.0, False, False),
)
# toe box per toe shape: (u, v) points from the vamp to the toe base
_TOES = (
    ((0.85, 0.14), (0.945, 0.118), (0.99, 0.062), (0.992, -0.03)),
    ((0.86, 0.118), (0.955, 0.088), (1.008, 0.034), (0.998, -0.03)),
    ((0.86, 0.158), (0.955, 0.148), (0.988, 0.098), (0.99, -0.03)),
)
_VAMP_H = (0.185, 0.168, 0.20)  # upper height at u=0.70, per toe shape
_PER_SEG = 8  # spline samples per key point
_TU = np.linspace(-0.05, 1.12, 118)  # where the sole profile is tabulated
_SOLE_U = np.linspace(-0.012, 1.006, 20)  # sole outline samples
_MUDGUARD_U = np.linspace(0.3, 1.0, 12)
_LUG_U = np.linspace(0.0, 1.0, 23)
_LUG_V = np.where(np.arange(23) % 2 == 0, -0.004, 0.014)


def _catmull_rom(points: np.ndarray, per_seg: int) -> np.ndarray:
    """Uniform Catmull-Rom spline through points [K, 2] -> [(K-1)*per_seg + 1, 2]."""
    p = np.concatenate([2 * points[:1] - points[1:2], points, 2 * points[-1:] - points[-2:-1]])
    k = len(points) - 1
    idx = np.arange(k)[:, None] + np.arange(4)[None, :]  # [k, 4]
    seg = np.einsum("tj,kjd->ktd", _cr_basis(per_seg), p[idx])  # [k, T, 2]
    return np.concatenate([seg.reshape(-1, 2), points[-1:]], axis=0)


@lru_cache(maxsize=4)
def _cr_basis(per_seg: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, per_seg, endpoint=False)
    return 0.5 * np.stack([-t ** 3 + 2 * t ** 2 - t, 3 * t ** 3 - 5 * t ** 2 + 2,
                           -3 * t ** 3 + 4 * t ** 2 + t, t ** 3 - t ** 2], axis=1)  # [T, 4]


@lru_cache(maxsize=8)
def _bezier_basis(n: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)
    return np.stack([(1 - t) ** 2, 2 * (1 - t) * t, t ** 2], axis=1)  # [n, 3]


def _quad_bezier(a, c, b, n: int = 10) -> np.ndarray:
    """Quadratic Bezier from a to b with control point c -> [n, 2]."""
    return _bezier_basis(n) @ np.array([a, c, b], dtype=np.float64)


def _smoothstep(a: float, b: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - a) / (b - a), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _offset(points: np.ndarray, dist: float) -> np.ndarray:
    """Shift a polyline [K, 2] along its right-hand normal by dist (for a contour running
    heel -> toe over the top, positive dist moves into the shoe)."""
    d = np.empty_like(points)
    d[1:-1] = points[2:] - points[:-2]
    d[0], d[-1] = points[1] - points[0], points[-1] - points[-2]
    n = np.stack([d[:, 1], -d[:, 0]], axis=1)
    n /= np.maximum(np.sqrt((n * n).sum(1, keepdims=True)), 1e-9)
    return points + dist * n


def _resample(points: np.ndarray, n: int) -> np.ndarray:
    """n points evenly spaced by arc length along a polyline [K, 2]."""
    s = np.concatenate([[0.0], np.cumsum(np.sqrt((np.diff(points, axis=0) ** 2).sum(1)))])
    pos = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(pos, s, points[:, 0]), np.interp(pos, s, points[:, 1])], 1)


class _Shoe:
    """Geometry of one shoe in shoe space, and the mapping to pixels of the supersampled
    canvas (x right, y down)."""

    def __init__(self, f: dict[str, Any], canvas: int) -> None:
        sil = int(f["factor_silhouette"])
        self.b = b = _BUILDS[sil]
        self.toe = toe = int(f["factor_toe_shape"])
        pad = float(f["factor_collar_padding"])
        self.t_heel = 0.045 + 0.135 * float(f["factor_sole_thickness"])
        self.t_toe = self.t_heel * b.drop
        # sole profile, tabulated once: lift() interpolates it
        self._tu = _TU
        self._bottom = (b.spring * _smoothstep(0.68, 1.02, self._tu) ** 1.6
                        + b.bevel * np.clip((0.1 - self._tu) / 0.12, 0.0, 1.0) ** 2)
        self._top = self._bottom + self.t_heel + (self.t_toe - self.t_heel) * _smoothstep(
            0.25, 0.85, self._tu)
        # contour of the upper, as (u, v above the sole top), heel base -> toe base
        lean, hh = b.lean, b.heel_h + 0.025 * pad
        keys = [(0.03, -0.03), (0.004, 0.05), (0.3 * lean, 0.42 * hh),
                (0.016 + 0.7 * lean, 0.8 * hh), (0.042 + lean, hh)]
        i_back_top = len(keys) - 1
        cl = (b.collar_low[0], b.collar_low[1] + 0.02 * pad)
        keys.append(((keys[-1][0] + cl[0]) / 2, (hh + cl[1]) / 2 - 0.004))
        keys.append(cl)
        keys.append(b.tongue)
        i_tongue = len(keys) - 1
        if b.n_laces:
            keys.append((b.tongue[0] + 0.035, b.tongue[1] - 0.022))
        keys.extend(b.ankle)
        keys.append((0.56, _VAMP_H[toe] + 0.06))
        keys.append((0.70, _VAMP_H[toe]))
        i_vamp = len(keys) - 1
        keys.extend(_TOES[toe])
        self.top = _catmull_rom(np.array(keys), _PER_SEG)  # [M, 2] in (u, v_rel)
        self.k_back_top = i_back_top * _PER_SEG
        self.k_tongue = i_tongue * _PER_SEG
        self.k_vamp = i_vamp * _PER_SEG
        # pixel mapping
        self.L = L = canvas * 0.84 * float(f["factor_scale"])
        max_v = float(self.top[:, 1].max()) + self.t_heel + (0.07 if b.tab == "loop" else 0.04)
        self.x0 = canvas * (0.5 + float(f["factor_shift_x"])) - 0.5 * L
        self.gy = canvas * 0.5 + 0.5 * max_v * L + 0.012 * canvas  # ground line, pixels
        self.top_y = self.gy - max_v * L
        # only this band of output rows holds the shoe and its shadow; the canvas covers it
        size = canvas // SUPERSAMPLE
        self.r0 = max(0, int((self.top_y - 0.05 * L) / SUPERSAMPLE) - 1)
        self.r1 = min(size, int((self.gy + 0.12 * L) / SUPERSAMPLE) + 2)
        self.band = (canvas, (self.r1 - self.r0) * SUPERSAMPLE)  # canvas (width, height)
        self._scale = np.array([L, -L])
        self._origin = np.array([self.x0, self.gy - self.r0 * SUPERSAMPLE])
        self._top_px = self._top * L

    def sole_bottom(self, u: np.ndarray) -> np.ndarray:
        return np.interp(u, self._tu, self._bottom)

    def sole_top(self, u: np.ndarray) -> np.ndarray:
        return np.interp(u, self._tu, self._top)

    def px(self, pts: np.ndarray, lift: bool = True) -> list[float]:
        """Points [K, 2] in shoe space -> flat pixel coordinate list for ImageDraw. With lift,
        v is measured from the top of the sole, else from the ground."""
        pts = np.asarray(pts, dtype=np.float64)
        out = pts * self._scale + self._origin
        if lift:
            out[:, 1] -= np.interp(pts[:, 0], self._tu, self._top_px)
        return out.ravel().tolist()


# ============================================================================ textures
@lru_cache(maxsize=16)
def _texture(material: int, size: int) -> np.ndarray:
    """How much a material darkens its surface: float32 [size, size] in [0, 1], drawn at
    SUPERSAMPLE x and box-filtered to the output size. The same tile for every item
    (seed-free), so it is cached per (material, size)."""
    ss = SUPERSAMPLE
    n = size * ss
    rng = np.random.default_rng(1234 + material)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    name = MATERIALS[material]
    if name == "mesh":  # hexagonal grid of holes, 2.5 output px apart
        p = 2.5 * ss
        row = np.floor(yy / (p * 0.866))
        dx = ((xx + (row % 2) * p / 2) % p) - p / 2
        dy = (yy % (p * 0.866)) - p * 0.433
        d = np.sqrt(dx * dx + dy * dy) / p
        a = 0.30 * np.clip((0.34 - d) / 0.08, 0.0, 1.0) + 0.04
    elif name == "canvas":  # plain weave, 1.5 output px
        p = 1.5 * ss
        a = 0.10 + 0.09 * np.sin(2 * np.pi * xx / p) * np.sin(2 * np.pi * yy / p)
        a = a + rng.normal(0.0, 0.03, a.shape)
    elif name == "suede":  # napped, softly mottled
        k = max(4, n // (3 * ss))
        low = Image.fromarray(rng.normal(128, 40, (k, k)).clip(0, 255).astype(np.uint8))
        low = np.asarray(low.resize((n, n), Image.BICUBIC), dtype=np.float32) / 255.0 - 0.5
        a = 0.10 + 0.22 * low + rng.normal(0.0, 0.05, (n, n))
    else:  # leather: fine grain
        grain = Image.fromarray(rng.normal(128, 50, (n, n)).clip(0, 255).astype(np.uint8))
        grain = grain.filter(ImageFilter.GaussianBlur(0.4 * ss))
        a = 0.05 + 0.35 * (np.asarray(grain, dtype=np.float32) / 255.0 - 0.5)
    img = Image.fromarray((np.clip(a, 0.0, 1.0) * 255).astype(np.uint8), "L")
    tile = np.asarray(img.reduce(ss), dtype=np.float32) / 255.0
    tile.setflags(write=False)  # shared by every render of this size
    return tile

