"""Latent-space maths: interpolation, arithmetic, traversals. Arrays in, arrays out."""
from __future__ import annotations

import numpy as np


def lerp(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """Linear path from a to b, both [D] -> [steps, D]; the endpoints are a and b exactly."""
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    t = np.linspace(0.0, 1.0, steps)[:, None]
    out = (1 - t) * a[None, :] + t * b[None, :]
    out[0], out[-1] = a, b
    return out.astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """Spherical interpolation (White 2016, "Sampling Generative Networks") -> [steps, D].

    Follows the great circle between the directions of a and b while interpolating the norm
    linearly, so that intermediate points keep a norm typical of the prior rather than
    passing through the low-density centre. Falls back to lerp for (anti)parallel vectors.
    """
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
    if na < 1e-8 or nb < 1e-8:
        return lerp(a, b, steps)
    cos = np.clip(np.dot(a64 / na, b64 / nb), -1.0, 1.0)
    omega = np.arccos(cos)
    if np.sin(omega) < 1e-6:
        return lerp(a, b, steps)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    ua, ub = a64 / na, b64 / nb
    direction = (np.sin((1 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
    norm = (1 - t) * na + t * nb
    out = (direction * norm).astype(np.float32)
    out[0], out[-1] = a, b
    return out


def interpolate(a: np.ndarray, b: np.ndarray, steps: int, method: str = "linear") -> np.ndarray:
    if method in ("linear", "lerp"):
        return lerp(a, b, steps)
    if method in ("spherical", "slerp"):
        return slerp(a, b, steps)
    raise ValueError(f"unknown interpolation {method!r}: linear or spherical")


def combine(vectors: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """Weighted sum Σ w_i · z_i of latent vectors [D] -> [D] (A + B, A − B + C, ...)."""
    if len(vectors) != len(weights) or not vectors:
        raise ValueError("need one weight per vector, and at least one vector")
    out = np.zeros_like(np.asarray(vectors[0], np.float64))
    for v, w in zip(vectors, weights):
        out += float(w) * np.asarray(v, np.float64)
    return out.astype(np.float32)


def analogy(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """A − B + C: 'what C is to ... as A is to B' [D]."""
    return combine([a, b, c], [1.0, -1.0, 1.0])


def factor_scale(mu: np.ndarray, logvar: np.ndarray | None = None) -> np.ndarray:
    """The catalogue's spread along each latent dimension [D]: the standard deviation of
    the aggregate posterior, sqrt(Var(mu) + E[exp(logvar)]) (of mu alone where logvar is None:
    deterministic models). It is 1 where a model matches its prior; trained models settle
    anywhere between ~0.5 and ~2, so sliders and traversals step in these units and ±3 reaches
    the catalogue's own extremes. A dimension with no spread at all keeps the prior's 1."""
    mu = np.asarray(mu, np.float64)
    var = mu.var(axis=0)
    if logvar is not None:
        var = var + np.exp(np.clip(np.asarray(logvar, np.float64), -30.0, 30.0)).mean(axis=0)
    scale = np.sqrt(var)
    return np.where(np.isfinite(scale) & (scale > 1e-6), scale, 1.0).astype(np.float32)


def traversal(z: np.ndarray, dims: list[int] | np.ndarray, values: np.ndarray,
              scale: np.ndarray | None = None) -> np.ndarray:
    """One row per dimension: z with that dimension set to z[d] + v·scale[d] for each v.

    z [D], dims [R], values [C] (offsets on the prior's scale, e.g. linspace(-3, 3, 7)),
    scale [D] (default ones) -> [R, C, D].
    """
    z = np.asarray(z, np.float32)
    scale = np.ones_like(z) if scale is None else np.asarray(scale, np.float32)
    dims = np.asarray(dims, dtype=np.int64)
    out = np.repeat(np.repeat(z[None, None, :], len(dims), 0), len(values), 1)
    for r, d in enumerate(dims):
        out[r, :, d] = z[d] + np.asarray(values, np.float32) * scale[d]
    return out


def apply_offsets(z: np.ndarray, offsets: dict[int, float], scale: np.ndarray | None = None,
                  directions: list[tuple[np.ndarray, float]] = ()) -> np.ndarray:
    """z [D] moved by per-dimension slider offsets (on the prior's scale) and along unit
    attribute directions [(direction [D], amount)] -> [D]."""
    out = np.array(z, np.float32, copy=True)
    for d, v in offsets.items():
        out[int(d)] += float(v) * (1.0 if scale is None else float(scale[int(d)]))
    for direction, amount in directions:
        out += float(amount) * np.asarray(direction, np.float32)
    return out


def change_points(nearest: list[int] | np.ndarray) -> list[int]:
    """Steps at which the closest real product differs from the step before: [k, ...]."""
    nearest = list(nearest)
    return [i for i in range(1, len(nearest)) if nearest[i] != nearest[i - 1]]
