"""The home page's pictures: a few featured products, and one small picture per tool.

Arrays in, pictures out; the page (pages/home.py) caches them per bundle. Every picture is
made at its own size (nearest-neighbour, whole steps) so the browser never rescales it.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from explorer.latent.ops import lerp, traversal
from explorer.render.sheets import image_grid, row_labelled_grid


def featured_items(mu: np.ndarray, order: list[int], n: int = 6, seed: int = 0) -> list[int]:
    """n products spread over the catalogue: items closest to evenly spaced quantiles of the
    two most informative dimensions (a zig-zag over both), so the hero offers different
    sneakers, the same ones at every visit."""
    mu = np.asarray(mu, np.float32)
    if len(mu) <= n:
        return list(range(len(mu)))
    d0 = order[0]
    d1 = order[1] if len(order) > 1 else order[0]
    qs = np.linspace(0.08, 0.92, n)
    picked: list[int] = []
    for j, q in enumerate(qs):
        target = np.array([np.quantile(mu[:, d0], q),
                           np.quantile(mu[:, d1], 0.25 if j % 2 else 0.75)])
        dist = np.abs(mu[:, d0] - target[0]) + np.abs(mu[:, d1] - target[1])
        dist[picked] = np.inf
        picked.append(int(np.argmin(dist)))
    return picked


def hero_latent(z_a: np.ndarray, z_b: np.ndarray, blend: float, dim: int,
                offset: float) -> np.ndarray:
    """The hero's latent [D]: blend (0 = A, 1 = B) along the straight path, then one factor
    moved by offset (on the latent's scale: the page passes slider value × factor_scale)."""
    z = (1.0 - blend) * np.asarray(z_a, np.float32) + blend * np.asarray(z_b, np.float32)
    z = z.copy()
    z[dim] += offset
    return z


def dot_map(xy: np.ndarray, width: int = 256, height: int = 192, pad: int = 8,
            highlight: np.ndarray | None = None) -> Image.Image:
    """The catalogue as grey dots on white ([N, 2] -> PIL), highlight indices in red."""
    xy = np.asarray(xy, np.float64)
    pic = np.full((height, width, 3), 255, np.uint8)
    if len(xy):
        lo, hi = np.nanpercentile(xy, 1, axis=0), np.nanpercentile(xy, 99, axis=0)
        span = np.where(hi - lo > 0, hi - lo, 1.0)
        uv = (xy - lo) / span
        ok = np.isfinite(uv).all(1) & (uv >= 0).all(1) & (uv <= 1).all(1)
        px = (pad + uv[ok, 0] * (width - 2 * pad - 1)).astype(int)
        py = (height - pad - 1 - uv[ok, 1] * (height - 2 * pad - 1)).astype(int)
        pic[py, px] = (150, 150, 150)
        if highlight is not None and len(highlight):
            h = np.asarray(highlight, int)
            hu = uv[h]
            for u, v in hu[np.isfinite(hu).all(1)]:
                cx = int(pad + np.clip(u, 0, 1) * (width - 2 * pad - 1))
                cy = int(height - pad - 1 - np.clip(v, 0, 1) * (height - 2 * pad - 1))
                pic[max(0, cy - 2):cy + 3, max(0, cx - 2):cx + 3] = (228, 87, 46)
    return Image.fromarray(pic)


def tool_pictures(decode, images, mu: np.ndarray, order: list[int], featured: list[int],
                  neighbours: np.ndarray, xy: np.ndarray | None,
                  dim_names: list[str]) -> dict[str, Image.Image]:
    """One small picture per tool, keyed by page: "sliders" (a factor traversal), "interpolation"
    (four steps between two products), "arithmetic" (A + B = result), "similar" (a product and
    its closest ones), "map" (the catalogue as dots), "lab" (three factors traversed).

    decode: latents [M, D] -> uint8 images [M, S, S, 3]; images: indexable -> uint8 images;
    neighbours: indices of the closest products to featured[1] (itself first)."""
    a, b, c = featured[0], featured[min(3, len(featured) - 1)], featured[min(1, len(featured) - 1)]
    values = np.linspace(-2.5, 2.5, 4)
    out: dict[str, Image.Image] = {}
    trav = decode(traversal(mu[a], [order[0]], values).reshape(-1, mu.shape[1]))
    out["sliders"] = image_grid(trav, cols=4, labels=[f"{v:+.1f}" for v in values])
    path = decode(lerp(mu[a], mu[b], 4))
    out["interpolation"] = image_grid(path, cols=4, labels=["A", "", "", "B"])
    blend = decode(((mu[a] + mu[c]) / 2)[None])[0]
    out["arithmetic"] = image_grid(np.stack([images[a], images[c], blend]), cols=3,
                                   labels=["A", "+ B", "="])
    near = [int(i) for i in neighbours[:4]]
    out["similar"] = image_grid(np.stack([images[i] for i in near]), cols=4,
                                labels=["this"] + ["similar"] * (len(near) - 1))
    if xy is not None:
        out["map"] = dot_map(xy, highlight=np.asarray(featured))
    dims = order[:3]
    rows = decode(traversal(mu[b], dims, values).reshape(-1, mu.shape[1]))
    rows = rows.reshape(len(dims), len(values), *rows.shape[1:])
    out["lab"] = row_labelled_grid(rows, [dim_names[d] for d in dims])
    return out
