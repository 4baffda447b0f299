"""Colour fidelity of reconstructions: how much of the originals' colour comes back.

Each pixel's colour is its chroma in an orthonormal opponent basis (red-green, yellow-blue:
luminance left out). Fidelity = 1 - sum ||chroma(recon) - chroma(orig)||^2 / sum ||chroma(orig)||^2,
so 1 means every hue and saturation came back, 0 is what an all-grey reconstruction scores
(the failure issue 9 describes), and wrong colours go below 0. NaN when the originals have no
colour at all (a greyscale catalogue such as Fashion-MNIST).
"""
from __future__ import annotations

import math

import numpy as np

# rows: red-green, yellow-blue (the luminance row of the basis is left out)
_CHROMA = np.array([[1 / math.sqrt(2), -1 / math.sqrt(2), 0.0],
                    [1 / math.sqrt(6), 1 / math.sqrt(6), -2 / math.sqrt(6)]])


def _chroma(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images, np.float64)
    if x.shape[-1] != 3:
        raise ValueError(f"images must be [..., 3] (channels last), got {x.shape}")
    return x @ _CHROMA.T


def colour_error_sums(originals: np.ndarray, reconstructions: np.ndarray
                      ) -> tuple[float, float]:
    """(sum of squared chroma error, sum of squared original chroma) over all pixels, for
    accumulating over batches; both arrays [..., 3] on the same scale."""
    if np.shape(originals) != np.shape(reconstructions):
        raise ValueError(f"shapes differ: {np.shape(originals)} vs {np.shape(reconstructions)}")
    c = _chroma(originals)
    return float(((_chroma(reconstructions) - c) ** 2).sum()), float((c ** 2).sum())


def fidelity_from_sums(error: float, total: float, n_values: int) -> float:
    """1 - error/total; NaN when the originals carry (almost) no colour."""
    if n_values <= 0 or total / n_values < 1e-6:
        return float("nan")
    return 1.0 - error / total


def colour_fidelity(originals: np.ndarray, reconstructions: np.ndarray) -> float:
    """Colour fidelity of reconstructions [..., 3] against originals [..., 3] (see above)."""
    err, tot = colour_error_sums(originals, reconstructions)
    return fidelity_from_sums(err, tot, int(np.prod(np.shape(originals)[:-1])))
