"""Drawing one procedural sneaker: `render(item, size)` -> uint8 [size, size, 3].

The shoe is drawn flat with PIL polygons at ``SUPERSAMPLE`` times the output size (so edges are
anti-aliased), with coverage masks for the parts the shading needs; `_finish` box-filters it to
the output size and applies texture, form shading, highlights and the floor shadow with numpy.
Geometry and textures are in `explorer.data.synthetic_geometry`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from explorer.data.schema import FACTOR_PREFIX
from explorer.data.synthetic_factors import COLOUR_PARTS, LOGOS, MATERIALS, hsl_to_rgb
from explorer.data.synthetic_geometry import (_LUG_U, _LUG_V, _MUDGUARD_U, _SOLE_U,
                                              SUPERSAMPLE, _offset, _quad_bezier, _resample,
                                              _Shoe, _smoothstep, _texture)


# ============================================================================ rendering
Colour = tuple[float, float, float]


def _rgb255(c: Colour) -> tuple[int, int, int]:
    return (int(c[0] * 255 + 0.5), int(c[1] * 255 + 0.5), int(c[2] * 255 + 0.5))


def _tone(c: Colour, k: float) -> Colour:
    """Darker (k < 1) or lighter (k > 1, towards white) version of a colour."""
    if k <= 1.0:
        return (c[0] * k, c[1] * k, c[2] * k)
    t = min(k - 1.0, 1.0)
    return (c[0] + (1 - c[0]) * t, c[1] + (1 - c[1]) * t, c[2] + (1 - c[2]) * t)


def _mix(a: Colour, b: Colour, t: float) -> Colour:
    return (a[0] * (1 - t) + b[0] * t, a[1] * (1 - t) + b[1] * t, a[2] * (1 - t) + b[2] * t)


def _luma(c: Colour) -> float:
    return 0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2]


def _edge(c: Colour) -> tuple[int, int, int]:
    """Seam / outline colour for a panel of colour c: darker, lighter on near-black."""
    return _rgb255(_tone(c, 0.6) if _luma(c) > 0.16 else _tone(c, 1.3))


def _stitch(cv: "_Canvas", xy: list[float], fill, width: int) -> None:
    """A dashed line along the polyline xy (flat pixel list): every other segment."""
    for i in range(0, len(xy) - 3, 4):
        cv.draw.line(xy[i:i + 4], fill=fill, width=width)


def _star(cx: float, cy: float, r: float) -> np.ndarray:
    ang = np.pi / 2 + np.arange(10) * np.pi / 5
    rad = np.where(np.arange(10) % 2 == 0, r, r * 0.42)
    return np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], axis=1)


def _colours(item: dict[str, Any]) -> dict[str, Colour]:
    return {p: hsl_to_rgb(float(item[f"{FACTOR_PREFIX}{p}_hue"]),
                          float(item[f"{FACTOR_PREFIX}{p}_sat"]),
                          float(item[f"{FACTOR_PREFIX}{p}_light"])) for p in COLOUR_PARTS}


class _Canvas:
    """The supersampled RGB canvas plus the coverage masks the shading needs."""

    MASKS = ("shoe", "upper", "sole", "roll", "plain")  # plain: on the upper, untextured

    def __init__(self, wh: tuple[int, int]) -> None:
        self.img = Image.new("RGB", wh, (255, 255, 255))
        self.draw = ImageDraw.Draw(self.img)
        self.masks = {k: Image.new("L", wh, 0) for k in self.MASKS}
        self.mdraw = {k: ImageDraw.Draw(m) for k, m in self.masks.items()}

    def polygon(self, xy: list[float], fill, masks: tuple[str, ...] = ("shoe",),
                outline=None, width: int = 0) -> None:
        self.draw.polygon(xy, fill=fill, outline=outline, width=width)
        for k in masks:
            self.mdraw[k].polygon(xy, fill=255, outline=255 if outline else None, width=width)

    def line(self, xy: list[float], fill, width: int, masks: tuple[str, ...] = ()) -> None:
        self.draw.line(xy, fill=fill, width=width)
        for k in masks:
            self.mdraw[k].line(xy, fill=255, width=width)


_TEXTURE_GREY = 0.24  # colour the texture darkens towards (lightens near-black)


def _vgrad(h: np.ndarray) -> np.ndarray:
    """Vertical derivative of a field [H, W], image y down: > 0 where the field rises going
    down, i.e. on the top (upward-facing) edges of a blurred mask."""
    g = np.zeros_like(h)
    g[1:-1] = (h[2:] - h[:-2]) * 0.5
    return g


def render(item: dict[str, Any], size: int = 64) -> np.ndarray:
    """Draw one item (a dict with the ``factor_`` entries of :func:`sample_item`) as a
    side-view product photo: uint8 [size, size, 3], toe pointing right, white background."""
    if size < 16:
        raise ValueError(f"size must be >= 16, got {size}")
    n = size * SUPERSAMPLE
    shoe = _Shoe(item, n)
    b, L, top = shoe.b, shoe.L, shoe.top
    px = shoe.px
    col = _colours(item)
    upper_c, accent_c, sole_c = col["upper"], col["accent"], col["sole"]
    material = int(item["factor_material"])
    logo = LOGOS[int(item["factor_logo"])]
    pad = float(item["factor_collar_padding"])
    lw = max(1, int(round(0.0055 * L)))  # seam width
    cv = _Canvas(shoe.band)
    kb, kt = shoe.k_back_top, shoe.k_tongue
    front = np.arange(len(top)) > kt

    # --- far side, seen through the ankle opening (the camera is slightly above)
    collar = top[kb:kt + 1]
    far = collar + np.array([0.012, 0.028])
    lining = _mix(_tone(upper_c, 0.5), (0.16, 0.16, 0.17), 0.5)
    cv.polygon(px(np.concatenate([far, collar[::-1] - np.array([0.0, 0.05])])), _rgb255(lining))
    cv.line(px(far), _rgb255(_tone(upper_c, 0.85)), max(1, int(0.012 * L)))

    # --- sole outline helper (u along the sole, lo/hi = bottom/top heights above ground)
    u = _SOLE_U
    bottom, stop = shoe.sole_bottom(u), shoe.sole_top(u)

    def sole_poly(lo: np.ndarray, hi: np.ndarray, du: float = 0.0, dv: float = 0.0):
        tip = _quad_bezier((u[-1], lo[-1]), (u[-1] + 0.012, (lo[-1] + hi[-1]) / 2),
                           (u[-1] - 0.004, hi[-1]), 6)
        heel = _quad_bezier((u[0] + 0.004, hi[0]), (u[0] - 0.01, (lo[0] + hi[0]) / 2),
                            (u[0] + 0.01, lo[0]), 6)
        pts = np.concatenate([np.stack([u, lo], 1), tip, np.stack([u, hi], 1)[::-1], heel])
        return px(pts + np.array([du, dv]), lift=False)

    # far sole ledge: the top of the midsole showing around the upper
    cv.polygon(sole_poly(bottom, stop, 0.004, 0.012), _rgb255(_tone(sole_c, 0.86)))

    # --- the upper
    bottom_u = np.linspace(top[-1, 0], top[0, 0], 8)
    upper = np.concatenate([top, np.stack([bottom_u, np.full(8, -0.03)], 1)])
    cv.polygon(px(upper), _rgb255(upper_c), ("shoe", "upper"))

    # --- overlays in the accent colour, each a region of the upper with a stitched seam
    acc, seam_c = _rgb255(accent_c), _edge(accent_c)
    overlay_masks = ("plain",)
    tc_u = 0.80 if shoe.toe != 1 else 0.815  # toe cap
    i0 = int(np.argmax(front & (top[:, 0] >= tc_u)))
    seam = _quad_bezier(top[i0], (tc_u - 0.06, top[i0, 1] * 0.75), (tc_u - 0.045, -0.03), 8)
    cv.polygon(px(np.concatenate([top[i0:], [(top[-1, 0], -0.03)], seam[::-1]])), acc,
               overlay_masks)
    seams = [(seam, -1.0)]  # (seam line, side of the overlay: sign of the offset)
    if b.heel_counter > 0:
        hc_v = b.heel_counter * b.heel_h
        i1 = int(np.argmax(top[:, 1] >= hc_v))
        seam = _quad_bezier(top[i1], (top[i1, 0] + 0.16, hc_v * 0.95), (0.34, -0.03), 8)
        cv.polygon(px(np.concatenate([top[:i1 + 1], seam])), acc, overlay_masks)
        seams.append((seam, 1.0))
    if b.mudguard:
        mu = _MUDGUARD_U
        mv = 0.05 + 0.03 * _smoothstep(0.3, 1.0, mu)
        k = int(np.argmax(front & (np.arange(len(top)) > shoe.k_vamp)
                          & (top[:, 1] <= np.interp(top[:, 0], mu, mv))))
        line = np.concatenate([[(0.28, -0.03)], np.stack([mu, mv], 1)[mu < top[k, 0]]])
        cv.polygon(px(np.concatenate([line, top[k:], [(top[-1, 0], -0.03)]])), acc,
                   overlay_masks)
        seams.append((line[1:], 1.0))
    if b.n_laces:  # eyestay along the lacing
        sel = front & (top[:, 0] >= b.laces[0] - 0.02) & (top[:, 0] <= b.laces[1] + 0.03)
        rim = top[sel]
        band = _offset(rim, 0.055)
        cv.polygon(px(np.concatenate([rim + np.array([0.0, 0.01]), band[::-1]])), acc,
                   overlay_masks)
        seams.append((band, -1.0))
    for s, side in seams:
        cv.line(px(s), seam_c, lw)
        if size >= 96:  # stitching, where it is big enough to see
            _stitch(cv, px(_offset(_resample(s, 24), side * 0.014)), seam_c, lw)

    # --- logo mark, in the accent colour with a darker rim (visible on a same-colour upper)
    qh = min(0.19, b.collar_low[1] - 0.035) / 0.19  # vertical room on the quarter panel
    logo_pts = None
    if logo == "stripes":
        for k in range(3):
            u0 = 0.30 + 0.075 * k
            q = np.array([(u0, 0.02), (u0 + 0.038, 0.02), (u0 + 0.038 + 0.11 * qh, 0.19 * qh),
                          (u0 + 0.11 * qh, 0.19 * qh)])
            cv.polygon(px(q), acc, ("plain",), outline=seam_c, width=lw)
    elif logo == "swoosh":
        tip = (0.13, 0.205 * qh)
        lower = _quad_bezier(tip, (0.36, 0.0), (0.60, 0.09 * qh), 12)
        upper_ = _quad_bezier((0.57, 0.135 * qh), (0.40, 0.06 * qh), tip, 12)
        nose = _quad_bezier((0.60, 0.09 * qh), (0.63, 0.12 * qh), (0.57, 0.135 * qh), 5)
        logo_pts = np.concatenate([lower, nose[1:-1], upper_])
    elif logo == "star":
        if b.heel_h > 0.35:  # ankle patch on mids, high-tops and boots
            c = (0.19, 0.6 * b.heel_h)
            r = px(np.array([(c[0] - 0.07, c[1] + 0.07), (c[0] + 0.07, c[1] - 0.07)]))
            cv.draw.ellipse(r, fill=(244, 243, 238), outline=seam_c, width=lw)
            cv.mdraw["plain"].ellipse(r, fill=255)
        else:
            c = (0.30, 0.11 * qh)
        logo_pts = _star(c[0], c[1], 0.055)
    elif logo == "patch":
        r = px(np.array([(0.09, 0.165 * qh), (0.23, 0.085 * qh)]))
        cv.draw.rounded_rectangle(r, radius=0.012 * L, fill=acc, outline=seam_c, width=lw)
        cv.mdraw["plain"].rectangle(r, fill=255)
        cv.line(px(np.array([(0.11, 0.125 * qh), (0.21, 0.125 * qh)])), seam_c, lw)
    if logo_pts is not None:
        cv.polygon(px(logo_pts), acc, ("plain",), outline=seam_c, width=lw)

    # --- collar roll: the padding, a pillow along the ankle opening
    roll_w = 0.012 + 0.07 * pad
    roll_top = collar[:max(2, len(collar) - 5)]
    roll_in = _offset(roll_top, roll_w)
    cv.polygon(px(np.concatenate([roll_top + np.array([0.0, 0.004]), roll_in[::-1]])),
               _rgb255(_tone(upper_c, 1.03)), ("roll", "plain"))
    cv.line(px(roll_in), _edge(upper_c), lw)

    # --- heel tab
    tab_c, bt = col["heel_tab"], top[kb]
    tab = None
    if b.tab == "court":
        tab = [(-0.014, 0.036), (0.062, 0.028), (0.056, -0.11), (-0.026, -0.11)]
    elif b.tab == "flare":
        tab = [(0.05, 0.0), (0.012, 0.052), (-0.03, 0.05), (-0.036, 0.02), (-0.022, -0.06),
               (-0.004, -0.11), (0.04, -0.10)]
    elif b.tab == "label":
        tab = [(-0.01, -0.035), (0.065, -0.035), (0.065, -0.115), (-0.014, -0.115)]
    if tab is not None:
        cv.polygon(px(np.array(tab) + bt), _rgb255(tab_c), ("shoe", "plain"),
                   outline=_edge(tab_c), width=lw)
    else:  # pull loop above the collar
        r = px(np.array([(bt[0] - 0.024, bt[1] + 0.075), (bt[0] + 0.04, bt[1] - 0.03)]))
        w = max(2, int(0.026 * L))
        cv.draw.rounded_rectangle(r, radius=0.01 * L, outline=_rgb255(tab_c), width=w)
        cv.mdraw["shoe"].rounded_rectangle(r, radius=0.01 * L, outline=255, width=w)

    # --- laces (slip-ons have none: an elastic gore instead)
    if b.n_laces:
        rim = top[front & (top[:, 0] >= b.laces[0]) & (top[:, 0] <= b.laces[1])]
        pts = _resample(rim, b.n_laces + 1)
        eyelets = _offset(pts, 0.036)
        crest = _offset(pts, -0.004)
        ends = np.empty((2 * b.n_laces, 2))
        ends[0::2] = eyelets[:-1]
        ends[1::2] = 0.45 * crest[:-1] + 0.55 * crest[1:]
        xy = px(ends)
        w = max(2, int(0.016 * L))
        lace_rgb, lace_edge = _rgb255(col["lace"]), _edge(col["lace"])
        for i in range(0, len(xy), 4):  # (inside the untextured eyestay, or off the upper)
            seg = xy[i:i + 4]
            cv.line(seg, lace_edge, w + 2 * lw)
            cv.line(seg, lace_rgb, w)
        if size >= 96:  # eyelets: below a pixel at smaller sizes
            er = 0.008 * L
            for i in range(0, len(xy), 4):
                x, y = xy[i], xy[i + 1]
                cv.draw.ellipse([x - er, y - er, x + er, y + er], fill=(44, 44, 48))
    else:
        cv.polygon(px(np.array([(0.455, 0.19), (0.505, 0.19), (0.48, 0.10)])),
                   _rgb255(_tone(upper_c, 0.7)), ("plain",))

    # --- the sole, near side: midsole, darker outsole, a groove
    cv.polygon(sole_poly(bottom, stop), _rgb255(sole_c), ("shoe", "sole"))
    o_h = 0.04 if b.lugs else 0.022
    cv.polygon(sole_poly(bottom, bottom + o_h), _rgb255(_tone(sole_c, 0.72)))
    if b.lugs:
        lu = _LUG_U
        lv = shoe.sole_bottom(lu) + _LUG_V
        cv.polygon(px(np.concatenate([np.stack([lu, lv], 1), [(1.0, -0.01), (0.0, -0.01)]]),
                      lift=False), (255, 255, 255), ())
        cv.mdraw["shoe"].polygon(px(np.concatenate(
            [np.stack([lu, lv], 1), [(1.0, -0.01), (0.0, -0.01)]]), lift=False), fill=0)
    if shoe.t_heel > 0.07:
        gu = u[2:-3]
        gb = shoe.sole_bottom(gu)
        groove = np.stack([gu, gb + o_h + 0.45 * (shoe.sole_top(gu) - gb - o_h)], 1)
        cv.line(px(groove, lift=False), _edge(sole_c), lw)

    return _finish(cv, shoe, size, material)


def _finish(cv: _Canvas, shoe: _Shoe, size: int, material: int) -> np.ndarray:
    """Box-filter the canvas to the output size, then apply texture, form shading,
    highlights and the floor shadow there (all smooth, so the low resolution is enough).
    Only the band of rows that holds the shoe and its shadow is processed."""
    ss, r, L = SUPERSAMPLE, size / 64.0, shoe.L
    r0, r1 = shoe.r0, shoe.r1  # the canvas holds output rows r0..r1-1
    flat = np.asarray(cv.img.reduce(ss), dtype=np.float32) * (1.0 / 255.0)
    red = {k: m.reduce(ss) for k, m in cv.masks.items()}
    a = {k: np.asarray(m, dtype=np.float32) * (1.0 / 255.0) for k, m in red.items()}
    a_up, a_sole, a_roll = a["upper"], a["sole"], a["roll"]
    blur = ImageFilter.BoxBlur(1.3 * r)
    h_up = np.asarray(red["upper"].filter(blur).filter(blur), dtype=np.float32) * (1.0 / 255.0)
    h_roll = np.asarray(red["roll"].filter(ImageFilter.BoxBlur(0.8 * r)),
                        dtype=np.float32) * (1.0 / 255.0)

    # texture: the material's pattern on the main panels of the upper
    tex = _texture(material, size)[r0:r1] * np.clip(a_up - a["plain"], 0.0, 1.0)

    # light from above: bright upper edges, rounded-off sides, darker towards the sole
    pix = np.arange(size, dtype=np.float32) + 0.5
    yy = pix[r0:r1, None]
    height = max((shoe.gy - shoe.top_y - shoe.t_heel * L) / ss, 1.0)  # of the upper, px
    fall = np.clip((yy - shoe.top_y / ss) / height, 0.0, 1.0)
    sole_y = (shoe.gy - shoe.sole_top((pix * ss - shoe.x0) / L) * L) / ss  # per column
    depth = yy - sole_y[None, :].astype(np.float32)  # > 0 inside the sole, < 0 above it
    occl = 1.0 - 0.3 * np.exp(np.minimum(depth, 0.0) / (1.6 * r)) * (1.0 - a_sole)
    body = (0.74 + 0.26 * h_up) * (1.08 - 0.22 * fall) * occl
    shade = 1.0 + a_up * (body - 1.0) - 0.2 * a_roll * (1.0 - h_roll)
    sole_rim = np.exp(-(depth / (0.7 * r)) ** 2)
    thick = max(shoe.t_heel * L / ss, 1.0)
    shade += a_sole * (0.12 * sole_rim - 0.14 * np.clip(depth / thick, 0.0, 1.0))
    gloss = (0.5, 0.04, 0.16, 0.08)[material]
    spec = (gloss * np.clip(_vgrad(h_up) * (5.0 * r), 0.0, 1.0) * a_up
            + 0.3 * np.clip(_vgrad(h_roll) * (5.0 * r), 0.0, 1.0) * a_roll
            + 0.18 * sole_rim * a_sole)
    if MATERIALS[material] == "suede":  # soft sheen where the surface turns away
        spec += 0.12 * a_up * (1.0 - h_up) * (1.0 - a["plain"])

    # soft shadow on the floor: a wide penumbra and a dark contact line
    c = pix * ss
    rows, sx = c[r0:r1], shoe.x0 + 0.5 * L
    wide = np.outer(np.exp(-((rows - shoe.gy) / (0.04 * L)) ** 2),
                    np.exp(-np.abs((c - sx) / (0.53 * L)) ** 4))
    contact = np.outer(np.exp(-((rows - shoe.gy + 0.004 * L) / (0.012 * L)) ** 2),
                       np.exp(-np.abs((c - sx) / (0.49 * L)) ** 6))
    lit = 1.0 - 0.24 * wide - 0.4 * contact

    # out = (flat with texture - background) * shade + spec + background * lit, in 2 RGB ops
    bg = 1.0 - a["shoe"]
    mul = (1.0 - tex) * shade
    add = _TEXTURE_GREY * tex * shade + spec + bg * (lit - shade)
    band = flat * mul[..., None]
    band += add[..., None]
    band *= 255.0
    band += 0.5
    out = np.full((size, size, 3), 255, dtype=np.uint8)
    out[r0:r1] = np.clip(band, 0.0, 255.0)
    return out

