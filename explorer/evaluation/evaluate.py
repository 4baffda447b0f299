"""Evaluating bundles: one result per model, with a PCA baseline beside each (the table and
the text report: explorer.evaluation.report; the command: `python -m explorer evaluate`).

For every bundle, on the bundle's own train/validation split (``explorer.data.splits.split_indices``
with the bundle's training seed, validation fraction and cap):

- KL: mean total KL to the prior on the validation split, nats (blank for deterministic codes,
  whose log-variance is a placeholder, and for PCA);
- active: active dimensions (KL > 0.1 nats; variance of means > 0.01 for deterministic codes);
- MSE / PSNR: pixel MSE in [0, 1] of the validation images decoded from their posterior means,
  and PSNR = 10 log10(1 / MSE). Decoding stays in float (the model's decoder output, no uint8
  rounding), like the validation numbers recorded during training;
- colour: colour fidelity of those reconstructions (explorer.metrics.colour): 1 = every hue and
  saturation kept, 0 = all grey; blank for a greyscale catalogue;
- sharp: sharpness of those reconstructions (explorer.metrics.sharpness): their mean gradient
  magnitude over the originals'; 1 = as sharp as the photos, lower = blurrier;
- kNN <attribute>: accuracy of a 5-NN vote from training-split codes onto validation-split codes,
  for text attributes with 2..50 classes (brand, silhouette, class, ...) and integer-coded
  ``factor_*`` columns; the majority-class baseline is kept in the results;
- MIG, SAP, DCI D / C / I, modularity (explorer.metrics), when the metadata has ``factor_*``
  columns (continuous ones cut into 20 quantile bins).

The PCA baseline has as many components as the model has latent dimensions and is fitted on the
raw pixels of (at most max_items) training-split images; its validation MSE is that of the
projection onto those components, clipped to [0, 1]. Its codes go through the same k-NN and
disentanglement metrics. Work is capped for speed: metrics and k-NN use at most max_items items,
subsampled with the seed.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from explorer.bundle.core import Bundle, BundleError
from explorer.bundle.encode import images_to_tensor
from explorer.data.schema import ground_truth_factors as factor_columns
from explorer.metrics import (count_active, dci, is_deterministic, kl_per_dim, knn_accuracies,
                              mig, modularity, sap, score_columns)
from explorer.metrics.colour import colour_error_sums, fidelity_from_sums
from explorer.metrics.sharpness import gradient_energy, ratio_from_sums
from explorer.data.splits import image_groups, split_for, split_indices

PCA_FIT_BYTES = 1 << 30  # the float32 pixel matrix the PCA is fitted on stays under 1 GiB
METRIC_COLUMNS = {"mig": "MIG", "sap": "SAP", "dci_d": "DCI D", "dci_c": "DCI C",
                  "dci_i": "DCI I", "modularity": "modularity"}


# ---------------------------------------------------------------------------- pieces
def _subsample(idx: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    idx = np.asarray(idx)
    if len(idx) <= cap:
        return idx
    return np.sort(rng.choice(idx, cap, replace=False))


def _pixels(images: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """uint8 images[idx] [B, S, S, 3] -> float32 [B, S*S*3] in [0, 1]."""
    return np.asarray(images[idx], dtype=np.float32).reshape(len(idx), -1) / 255.0


@torch.inference_mode()
def reconstruct_split(model, images: np.ndarray, idx: np.ndarray, batch_size: int = 256
                      ) -> dict[str, Any]:
    """Encode images[idx], decode the means; mu, logvar [B, D], mse, psnr, colour (the
    colour fidelity of the reconstructions, explorer.metrics.colour; NaN for grey images) and
    sharp (their sharpness relative to the originals, explorer.metrics.sharpness)."""
    model.eval()
    d = model.cfg.latent_dim
    mus, lvs = [np.zeros((0, d), np.float32)], [np.zeros((0, d), np.float32)]
    se, n, c_err, c_tot, n_px, g_rec, g_orig = 0.0, 0, 0.0, 0.0, 0, 0.0, 0.0
    for s in range(0, len(idx), batch_size):
        x = images_to_tensor(images[idx[s:s + batch_size]])
        mu, logvar = model.encode(x)
        rec = model.decode(mu)
        se += float((rec - x).pow(2).mean(dim=(1, 2, 3)).double().sum())
        n += len(x)
        x_np, rec_np = x.permute(0, 2, 3, 1).numpy(), rec.float().permute(0, 2, 3, 1).numpy()
        g_rec, g_orig = g_rec + gradient_energy(rec_np), g_orig + gradient_energy(x_np)
        e, t = colour_error_sums(x_np, rec_np)
        c_err, c_tot, n_px = c_err + e, c_tot + t, n_px + x.shape[0] * x.shape[2] * x.shape[3]
        mus.append(mu.float().numpy())
        lvs.append(logvar.float().numpy())
    mse = se / n if n else float("nan")
    return {"mu": np.concatenate(mus), "logvar": np.concatenate(lvs), "mse": mse,
            "psnr": _psnr(mse), "colour": fidelity_from_sums(c_err, c_tot, n_px),
            "sharp": ratio_from_sums(g_rec, g_orig)}


def posterior_floor(logvar: np.ndarray, floor: float) -> dict[str, float]:
    """How many of a model's posterior log-variances [B, D] sit on the encoder's floor
    (the model's logvar_floor, a hard clamp): "share" of all values,
    and "dims", the dimensions where every item's does. A model held there keeps no posterior
    noise: its codes act as an autoencoder's, its KL is counted as for deterministic codes,
    and the prior's scale no longer describes them (sliders and maps use the catalogue's own
    spread)."""
    at = np.asarray(logvar) <= floor + 1e-4
    return {"floor": float(floor), "share": float(at.mean()) if at.size else 0.0,
            "dims": int(at.all(axis=0).sum()) if at.size else 0}


def _num_or_none(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _psnr(mse: float) -> float:
    if not math.isfinite(mse):
        return float("nan")
    return 10.0 * math.log10(1.0 / max(mse, 1e-10))


def _mixed(v: np.ndarray, mix: np.ndarray | None) -> np.ndarray:
    """Flat RGB pixels [n, H*W*3] through the per-pixel colour map mix [3, 3] (None: as is)."""
    if mix is None:
        return v
    return (v.reshape(len(v), -1, 3) @ mix.T.astype(v.dtype)).reshape(len(v), -1)


def pca_baseline(images: np.ndarray, fit_idx: np.ndarray, val_idx: np.ndarray,
                 n_components: int, seed: int, chunk: int = 2048, mix: np.ndarray | None = None):
    """PCA with n_components fitted on the pixels of images[fit_idx]; returns (pca, val MSE of
    the projection onto the components, clipped to [0, 1], colour fidelity of that
    reconstruction). The sharpness of that reconstruction is left in pca.sharp_ (see
    explorer.metrics.sharpness). mix [3, 3]: take the PCA of the pixels through this colour
    map (a linear path's start with linear_chroma != 1) and map reconstructions back; it is
    kept in pca.mix_ for the codes."""
    from sklearn.decomposition import PCA

    x = _mixed(_pixels(images, fit_idx), mix)
    k = max(1, min(n_components, x.shape[0], x.shape[1]))
    solver = "randomized" if k < 0.8 * min(x.shape) else "full"
    pca = PCA(n_components=k, svd_solver=solver, random_state=seed).fit(x)
    pca.mix_ = mix
    unmix = None if mix is None else np.linalg.inv(mix)
    del x
    se, n, c_err, c_tot, g_rec, g_orig = 0.0, 0, 0.0, 0.0, 0.0, 0.0
    for s in range(0, len(val_idx), chunk):
        v = _pixels(images, val_idx[s:s + chunk])
        rec = np.clip(_mixed(pca.inverse_transform(pca.transform(_mixed(v, mix))), unmix),
                      0.0, 1.0)
        se += float(((rec - v) ** 2).mean(1).astype(np.float64).sum())
        n += len(v)
        if images.ndim == 4:
            g_rec += gradient_energy(rec.reshape((len(v),) + images.shape[1:]))
            g_orig += gradient_energy(v.reshape((len(v),) + images.shape[1:]))
        e, t = colour_error_sums(v.reshape(len(v), -1, 3), rec.reshape(len(v), -1, 3))
        c_err, c_tot = c_err + e, c_tot + t
    n_px = n * (images.shape[1] * images.shape[2] if images.ndim == 4 else 1)
    pca.sharp_ = ratio_from_sums(g_rec, g_orig)
    return pca, (se / n if n else float("nan")), fidelity_from_sums(c_err, c_tot, n_px)


def _pca_codes(pca, images: np.ndarray, idx: np.ndarray, chunk: int = 2048) -> np.ndarray:
    mix = getattr(pca, "mix_", None)
    out = [pca.transform(_mixed(_pixels(images, idx[s:s + chunk]), mix))
           for s in range(0, len(idx), chunk)]
    return np.concatenate(out) if out else np.zeros((0, pca.n_components_))


def disentanglement_metrics(codes: np.ndarray, factors: np.ndarray, names: list[str],
                            seed: int) -> dict[str, Any]:
    """MIG, SAP, DCI and modularity of codes [N, D] for factors [N, K], flat, plus per-factor
    details keyed by factor name."""
    m = mig(codes, factors)
    s = sap(codes, factors, random_state=seed)
    d = dci(codes, factors, random_state=seed)
    mo = modularity(codes, factors)
    return {
        "mig": m["mig"], "sap": s["sap"], "dci_d": d["disentanglement"],
        "dci_c": d["completeness"], "dci_i": d["informativeness"],
        "modularity": mo["modularity"],
        "per_factor": {
            "mig": dict(zip(names, m["per_factor"])),
            "sap": dict(zip(names, s["per_factor"])),
            "dci_completeness": dict(zip(names, d["per_factor_completeness"])),
            "dci_informativeness": dict(zip(names, d["per_factor_informativeness"])),
        },
        "per_dim": {"dci_disentanglement": d["per_dim_disentanglement"],
                    "modularity": mo["per_dim"]},
    }


def _row(model: str, baseline: bool, dims: int) -> dict[str, Any]:
    return {"model": model, "baseline": baseline, "latent_dim": dims, "kl": None,
            "active_dims": None, "mse": None, "psnr": None, "colour": None, "sharp": None,
            "knn": {},
            "knn_majority": {},
            **{k: None for k in METRIC_COLUMNS}}


# ---------------------------------------------------------------------------- the evaluation
def evaluate_bundle(bundle: Bundle, seed: int = 0, max_items: int = 10000,
                    images: np.ndarray | None = None, k: int = 5,
                    progress=None, columns: list[str] | None = None,
                    stratify: str | None = None) -> dict[str, Any]:
    """Evaluate one bundle and its PCA baseline (see the module docstring).

    images: uint8 [N, S, S, 3] to use instead of the bundle's packed images (a catalogue's,
    already checked to match). progress: optional callable(str) for status lines.
    columns: the attributes the k-NN vote scores (default: every categorical column,
    explorer.metrics.score_columns). stratify: a column; the k-NN vote then runs on a split
    stratified by it (duplicates still grouped) instead of the model's own split.
    Returns {"bundle", "name", "kind", "latent_dim", "n_items", "n_train", "n_val", "seed",
    "max_items", "factor_columns", "knn_columns", "knn_classes" {column: classes},
    "knn_skipped" {column: why not scored}, "duplicates", "knn_split", "seconds",
    "rows": [model row, PCA row]};
    a row has "model" (the kind, or "PCA"), "baseline", "latent_dim", "kl", "active_dims",
    "mse", "psnr", "knn" {column: accuracy}, "knn_majority" {column: accuracy}, "mig", "sap",
    "dci_d", "dci_c", "dci_i", "modularity" (None where not applicable), and, with factors,
    "per_factor" and "per_dim" details.
    """
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    rng = np.random.default_rng([int(seed), 2718])
    n, dims = len(bundle), bundle.latent_dim
    tc = bundle.info["train_config"]
    metadata = bundle.metadata
    try:
        knn_cols, knn_skipped = score_columns(metadata, columns)
    except KeyError as e:
        raise ValueError(f"--columns: {e.args[0]}") from e
    if stratify and stratify not in metadata.columns:
        raise ValueError(f"--stratify {stratify!r}: no such column (columns: "
                         f"{', '.join(map(str, metadata.columns))})")
    if images is None:
        say(f"{bundle.path}: unpacking {n} images")
        images = bundle.images.all()
    if len(images) != n or tuple(images.shape[1:]) != (bundle.image_size, bundle.image_size, 3):
        raise BundleError(f"images {tuple(images.shape)} do not fit the bundle ({n} items at "
                          f"{bundle.image_size} px)")
    groups = image_groups(images)
    vf, tseed, max_val = (float(tc.get("val_fraction", 0.1)), int(tc.get("seed", 0)),
                          int(tc.get("max_val", 5000)))
    col = tc.get("stratify") or ""
    try:
        train_idx, val_idx = split_for(tc, n, metadata=metadata, groups=groups)
    except KeyError as e:
        raise BundleError(f"{bundle.path}: {e.args[0]}") from e
    # a bundle trained before duplicates were grouped: its validation items with a
    # pixel-identical twin in training are left out (the model and the k-NN vote saw the twin)
    twin = np.isin(groups[val_idx], groups[train_idx])
    n_twins = int(twin.sum())
    if n_twins:
        say(f"{bundle.path}: {n_twins} validation items are pixel-identical to training items "
            f"(this bundle's split did not group duplicates): left out of the validation set")
        val_idx = val_idx[~twin]
    knn_tr_idx, knn_val_idx = train_idx, val_idx
    if stratify:
        knn_tr_idx, knn_val_idx = split_indices(n, vf, tseed, max_val, groups,
                                                metadata[stratify].to_numpy())
    n_dup = int(n - len(np.unique(groups)))
    n_pixels = bundle.image_size ** 2 * 3
    fit_cap = max(1, min(max_items, PCA_FIT_BYTES // (4 * n_pixels)))
    fit_train = _subsample(train_idx, max_items, rng)
    pca_fit = _subsample(fit_train, fit_cap, rng)
    val = _subsample(val_idx, max_items, rng)
    metric_idx = _subsample(np.arange(n), max_items, rng)
    knn_train = _subsample(knn_tr_idx, max_items, rng) if stratify else fit_train
    knn_val = _subsample(knn_val_idx, max_items, rng) if stratify else val

    f_cols = factor_columns(metadata)
    factors = metadata[f_cols].to_numpy(dtype=np.float64)[metric_idx] if f_cols else None

    model_row = _row(bundle.kind, False, dims)
    posterior = None
    pca_row = _row("PCA", True, dims)

    # reconstruction, KL and active dimensions on the validation split
    if len(val):
        say(f"{bundle.path}: reconstructing {len(val)} validation images")
        rec = reconstruct_split(bundle.model, images, val)
        det = bundle.model.deterministic or is_deterministic(rec["logvar"])
        model_row.update(mse=rec["mse"], psnr=rec["psnr"], colour=_num_or_none(rec["colour"]),
                         sharp=_num_or_none(rec["sharp"]),
                         active_dims=count_active(rec["mu"], None if det else rec["logvar"]),
                         kl=None if det else float(kl_per_dim(rec["mu"], rec["logvar"]).sum()))
        if not bundle.model.deterministic:
            posterior = posterior_floor(rec["logvar"], bundle.model.cfg.logvar_floor)
    say(f"{bundle.path}: fitting the PCA baseline on {len(pca_fit)} training images")
    pca, pca_mse, pca_colour = pca_baseline(images, pca_fit, val, dims, seed)
    if len(val):
        pca_row.update(mse=pca_mse, psnr=_psnr(pca_mse), colour=_num_or_none(pca_colour),
                       sharp=_num_or_none(getattr(pca, "sharp_", None)))

    rows = [("model", model_row), ("pca", pca_row)]
    codes = {"model": (bundle.mu, None), "pca": (None, pca)}
    chroma = bundle.info["model_config"].get("linear_chroma", 1.0)
    if isinstance(chroma, (int, float)) and chroma != 1.0 and images.ndim == 4:
        # the model's own start, beside plain PCA: what the conv nets add beyond it
        from explorer.models.base import colour_mix
        w_row = _row(f"PCA, colour x{chroma:g}", True, dims)
        say(f"{bundle.path}: fitting PCA with colour x{chroma:g} (the model's start)")
        w_pca, w_mse, w_colour = pca_baseline(images, pca_fit, val, dims, seed,
                                              mix=colour_mix(float(chroma)).numpy())
        if len(val):
            w_row.update(mse=w_mse, psnr=_psnr(w_mse), colour=_num_or_none(w_colour),
                         sharp=_num_or_none(getattr(w_pca, "sharp_", None)))
        rows.append(("colour_pca", w_row))
        codes["colour_pca"] = (None, w_pca)
    knn_classes: dict[str, int] = {}
    for key, row in rows:
        mu, p = codes[key]

        def get(idx: np.ndarray, mu=mu, p=p) -> np.ndarray:
            return np.asarray(mu[idx], np.float64) if p is None else _pca_codes(p, images, idx)

        if knn_cols and len(knn_val) and len(knn_train):
            say(f"{bundle.path}: k-NN ({row['model']}) for {', '.join(knn_cols)}")
            res = knn_accuracies(get(knn_train), get(knn_val), metadata.iloc[knn_train],
                                 metadata.iloc[knn_val], k=k, columns=knn_cols)
            row["knn"] = {c: r["knn"] for c, r in res.items()}
            row["knn_majority"] = {c: r["majority"] for c, r in res.items()}
            knn_classes = {c: r["classes"] for c, r in res.items()}
        if f_cols and len(metric_idx) >= 4:
            say(f"{bundle.path}: disentanglement metrics ({row['model']}) on "
                f"{len(metric_idx)} items, {len(f_cols)} factors")
            row.update(disentanglement_metrics(get(metric_idx), factors, f_cols, seed))

    return {"bundle": str(bundle.path), "name": Path(bundle.path).name, "kind": bundle.kind,
            "latent_dim": dims, "n_items": n, "n_train": int(len(train_idx)),
            "n_val": int(len(val_idx)), "seed": int(seed), "max_items": int(max_items),
            "factor_columns": f_cols, "knn_columns": knn_cols, "knn_classes": knn_classes,
            "knn_skipped": knn_skipped,
            "duplicates": {"items_with_an_earlier_twin": n_dup, "val_left_out": n_twins},
            "knn_split": {"stratify": stratify or col or None, "n_train": int(len(knn_tr_idx)),
                          "n_val": int(len(knn_val_idx))},
            "posterior": posterior, "seconds": round(time.perf_counter() - t0, 2),
            "rows": [row for _, row in rows]}
