"""Sharpness of reconstructions relative to their originals.

A blurry reconstruction has weaker edges than the photo it reconstructs. The figure here is
the ratio of mean gradient magnitudes (finite differences of luminance, horizontal and
vertical), reconstruction over original, over a set of image pairs: 1.0 = as sharp as the
originals, 0.5 = half their edge energy, > 1 = sharper (or noisier) than them. PSNR rewards
blur (the mean of the plausible images is the least-squares answer); this does not, so the two
are reported side by side.
"""
from __future__ import annotations

import numpy as np

_LUMA = np.array([0.299, 0.587, 0.114], np.float64)


def gradient_energy(images: np.ndarray) -> float:
    """Sum over images [N, H, W, C] (C = 1 or 3, any scale) of the mean gradient magnitude
    |dx| + |dy| of their luminance, per image; divide by N for the mean."""
    a = np.asarray(images, np.float64)
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4 or a.shape[-1] not in (1, 3):
        raise ValueError(f"images must be [N, H, W, 1 or 3], got {a.shape}")
    y = a[..., 0] if a.shape[-1] == 1 else a @ _LUMA
    gx = np.abs(np.diff(y, axis=2)).mean(axis=(1, 2))
    gy = np.abs(np.diff(y, axis=1)).mean(axis=(1, 2))
    return float((gx + gy).sum())


def sharpness_ratio(originals: np.ndarray, reconstructions: np.ndarray) -> float:
    """Mean gradient magnitude of the reconstructions over that of the originals (both
    [N, H, W, C] on the same scale); NaN when the originals are flat."""
    o, r = np.asarray(originals), np.asarray(reconstructions)
    if o.shape != r.shape:
        raise ValueError(f"originals {o.shape} and reconstructions {r.shape} differ in shape")
    return ratio_from_sums(gradient_energy(r), gradient_energy(o))


def ratio_from_sums(recon_energy: float, original_energy: float) -> float:
    """Combine gradient_energy sums accumulated over batches."""
    return recon_energy / original_energy if original_energy > 1e-12 else float("nan")
