"""How much colour the PCA-initialised code carries: `linear_chroma`, chosen per catalogue.

Pixel variance is mostly light against dark, so plain PCA spends its components on
silhouette and shading, and its neighbours match shapes before colours. Taking the PCA with
the opponent-colour channels scaled by c > 1 puts colour into the code, which on products of
one colour each (a catalogue of fashion photos) lifts colour neighbours a lot at no cost in
shape; on products whose parts each have their own colour (the procedural sneakers) it costs
shape neighbours (measured in the README). Which way a catalogue goes shows in its own labels:
`choose_linear_chroma` takes the PCA sample the linear path is set from, splits it (80/20,
training items only, so the validation split stays unseen) and scores a k-NN vote on the
catalogue's categorical columns for each candidate c, with the codes the model will start from.
The plain PCA (c = 1) is kept unless a candidate raises the mean accuracy over the columns by
MIN_GAIN and by twice the gain's standard error (paired over the query items: a gain the
sample's noise could give is no reason), and drops no column by more than MAX_DROP.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch

CANDIDATES = (1.0, 1.5, 2.0, 3.0)
MIN_GAIN = 0.005     # mean accuracy over the columns a candidate must add over plain PCA
MAX_DROP = 0.03      # ... while no column falls by more than this (inner-split noise ~0.015)
MIN_CHROMA = 0.005   # below this share of the pixel variance the images count as grey
MIN_ITEMS = 200      # fewer sampled items: too noisy to choose by


def short_why(why, width: int = 26) -> str:
    """A choice's reason as it fits the model card's value column: "only 150 images
    sampled" for "only 150 images sampled: plain PCA" (the 1 beside it says plain PCA)."""
    text = " ".join(str(why or "as asked").split()).removesuffix(": plain PCA")
    return text if len(text) <= width else text[:width - 1] + "…"


def weighted_codes(x: torch.Tensor, c: float, dims: int, whiten: float, fit: np.ndarray,
                   seed: int = 0) -> np.ndarray:
    """Codes [N, dims] of x [N, 3, S, S] the way init_from_pca would set them with
    linear_chroma c (up to its constant scale), the PCA fitted on the rows `fit`."""
    from explorer.models.base import colour_mix, top_components
    flat = torch.einsum("kc,nchw->nkhw", colour_mix(c), x.float()).reshape(len(x), -1)
    mean, v, sd = top_components(flat[torch.from_numpy(fit)], dims, seed)
    return (((flat - mean) @ v) / sd.pow(whiten)).numpy()


def choose_linear_chroma(x: torch.Tensor, metadata: pd.DataFrame, dims: int, whiten: float,
                         seed: int = 0, candidates=CANDIDATES) -> tuple[float, dict[str, Any]]:
    """(the chosen linear_chroma, a report) for the sample x [N, 3, S, S] in [0, 1] with its
    metadata rows. The report has "why" (one line for the log), and where candidates were
    scored "columns" and "scores" {c: {"mean": ..., column: accuracy}}."""
    from explorer.metrics.knn import knn_hits, label_columns
    if x.shape[1] != 3:
        return 1.0, {"why": "grey images: plain PCA"}
    if len(x) < MIN_ITEMS:
        return 1.0, {"why": f"only {len(x)} images sampled: plain PCA"}
    from explorer.models.losses import opponent_basis
    opp = torch.einsum("kc,nchw->nkhw", opponent_basis(), x.float())
    var = opp.var(0).sum((1, 2))
    if float(var[1:].sum() / var.sum().clamp_min(1e-12)) < MIN_CHROMA:
        return 1.0, {"why": "nearly grey images: plain PCA"}
    meta = metadata.reset_index(drop=True)
    cols = label_columns(meta)
    if not cols:
        return 1.0, {"why": "no label column to choose by: plain PCA"}
    perm = np.random.default_rng([seed, 47]).permutation(len(x))
    n_q = max(1, len(x) // 5)
    query, fit = np.sort(perm[:n_q]), np.sort(perm[n_q:])
    scores: dict[float, dict[str, float]] = {}
    per_item: dict[float, np.ndarray] = {}   # each query's mean hit over the columns
    for c in candidates:
        codes = weighted_codes(x, c, dims, whiten, fit, seed)
        hits = np.stack([knn_hits(codes[fit], codes[query], meta[col].to_numpy()[fit],
                                  meta[col].to_numpy()[query]) for col in cols])
        with np.errstate(invalid="ignore"):
            per_item[c] = np.nanmean(hits, axis=0)
            acc = {col: float(np.nanmean(h)) for col, h in zip(cols, hits)
                   if np.isfinite(h).any()}
        scores[c] = {"mean": float(np.mean(list(acc.values()))) if acc else float("nan"),
                     **acc}
    base = scores[1.0]

    def eligible(c: float) -> bool:
        """A clear gain: over MIN_GAIN and twice its standard error (paired, per query
        item), with no column falling by more than MAX_DROP."""
        diff = per_item[c] - per_item[1.0]
        diff = diff[np.isfinite(diff)]
        if len(diff) < 2:
            return False
        gain, se = float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(len(diff)))
        drops = [scores[c][col] - base[col] for col in base if col != "mean" and col in scores[c]]
        return gain >= max(MIN_GAIN, 2.0 * se) and min(drops, default=0.0) >= -MAX_DROP

    best = max((c for c in candidates if c != 1.0 and eligible(c)),
               key=lambda c: scores[c]["mean"], default=1.0)
    line = ", ".join(f"{c:g}: {scores[c]['mean']:.3f}" for c in candidates)
    why = (f"chosen by a 5-NN vote on {len(cols)} column(s) ({', '.join(cols[:6])}"
           f"{', ...' if len(cols) > 6 else ''}) within {len(x)} training images, "
           f"mean accuracy by linear_chroma {line}")
    return best, {"why": why, "columns": cols, "scores": scores}
