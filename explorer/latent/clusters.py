"""Clusters of the latent means: k-means (with a BIC-suggested k) and HDBSCAN, their names
from the metadata, and summaries of a cluster or any selection.

Plain arrays in and out, an explicit seed everywhere::

    k, bic = suggest_k(mu, seed=0)                 # lowest Gaussian-mixture BIC, k = 2..15
    labels, centres = kmeans(mu, k, seed=0)        # int [N], float32 [k, D]
    labels = hdbscan(mu, min_cluster_size=50)      # int [N], -1 = noise
    central_items(mu, labels, per_cluster=8)       # {label: indices nearest its centre}
    cluster_names(metadata, labels)                # {label: "boot · leather · red"}
    selection_summary(metadata, mu, selected)      # counts per attribute, central products

Choosing k. The silhouette score is no guide on a VAE's latent space: on the demo bundle
(30,000 products, six silhouettes, colours varying continuously) it falls monotonically with
k, 0.21 at k = 2, 0.13 at 6, 0.10 at 15 (2,000-item sample), so "the best silhouette" always
meant k = 2, the low-vs-high split. k is chosen instead by the Bayesian information criterion
of a full-covariance Gaussian mixture fitted on a seeded 4,000-item sample, lowest BIC wins:
it weighs fit against the parameters each extra cluster costs. On the demo it picks k = 6 for
sample seeds 0, 1 and 2 alike (runners-up 5 and 7); k-means with k = 6 there agrees best with
the six silhouettes (adjusted Rand 0.47, against 0.33 at k = 2 and 0.36 at k = 8).
Bootstrap stability was also measured and rejected: it rewards the coarsest split (ARI 0.99
at k = 2, 0.71 at 6).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

NOISE = -1
KMEANS_FULL_MAX = 20_000      # above this, MiniBatchKMeans
HDBSCAN_SAMPLE = 5_000        # HDBSCAN is fitted on at most this many items


@contextmanager
def _threads():
    """Run BLAS/OpenMP with $KICKSPACE_CLUSTER_THREADS threads (default 1). The app serves
    many sessions on few cores; there, spinning OpenMP workers make a small k-means 50-100x
    slower than one thread does."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=int(os.environ.get("KICKSPACE_CLUSTER_THREADS", "1"))):
        yield


def _as_2d(x: np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=np.float32)
    if a.ndim != 2:
        raise ValueError(f"expected an array [N, D], got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("the array holds NaN or infinite values")
    return a


def subsample(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of a seeded random subset of range(n), at most `size` of them."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def kmeans(x: np.ndarray, k: int, seed: int = 0, n_init: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """x [N, D] -> (labels int64 [N] in 0..k-1, centres float32 [k, D]).

    Full k-means up to 20,000 items, mini-batch k-means above. Labels are renumbered so
    that cluster 0 is the largest (ties by lowest centre index), which keeps colours stable."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    a = _as_2d(x)
    if not 1 <= k <= len(a):
        raise ValueError(f"k must be between 1 and the number of items ({len(a)}), got {k}")
    if len(a) > KMEANS_FULL_MAX:
        model = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=n_init,
                                batch_size=4096)
    else:
        model = KMeans(n_clusters=k, random_state=seed, n_init=n_init)
    with _threads():
        labels = model.fit_predict(a)
    centres = model.cluster_centers_.astype(np.float32)
    counts = np.bincount(labels, minlength=k)
    order = np.lexsort((np.arange(k), -counts))          # largest first
    remap = np.empty(k, np.int64)
    remap[order] = np.arange(k)
    return remap[labels].astype(np.int64), centres[order]


def silhouette_scores(x: np.ndarray, ks=range(2, 16), sample: int = 2_000,
                      seed: int = 0) -> dict[int, float]:
    """{k: mean silhouette of k-means with k clusters} on a seeded subsample of x [N, D]."""
    from sklearn.metrics import silhouette_score

    a = _as_2d(x)
    sub = a[subsample(len(a), sample, seed)]
    out: dict[int, float] = {}
    for k in ks:
        k = int(k)
        if k < 2 or k >= len(sub):
            continue
        labels, _ = kmeans(sub, k, seed=seed, n_init=2)
        if len(np.unique(labels)) < 2:
            continue
        with _threads():
            out[k] = float(silhouette_score(sub, labels))
    return out


BIC_SAMPLE = 4_000


def bic_scores(x: np.ndarray, ks=range(2, 16), sample: int = BIC_SAMPLE, seed: int = 0,
               n_init: int = 2) -> dict[int, float]:
    """{k: BIC of a full-covariance Gaussian mixture with k components} on a seeded
    subsample of x [N, D] (lower is better). ks that the sample cannot support (fewer items
    than k * (D + 1)) are left out."""
    from sklearn.mixture import GaussianMixture

    a = _as_2d(x)
    sub = a[subsample(len(a), sample, seed)].astype(np.float64)
    out: dict[int, float] = {}
    for k in ks:
        k = int(k)
        if k < 1 or len(sub) < k * (a.shape[1] + 1):
            continue
        gm = GaussianMixture(n_components=k, covariance_type="full", n_init=n_init,
                             random_state=seed, reg_covar=1e-5)
        with _threads():
            gm.fit(sub)
            out[k] = float(gm.bic(sub))
    return out


def suggest_k(x: np.ndarray, ks=range(2, 16), sample: int = BIC_SAMPLE,
              seed: int = 0) -> tuple[int, dict[int, float]]:
    """(k with the lowest BIC, {k: BIC}) for x [N, D]: see the module docstring for why BIC
    and not the silhouette. Returns (1, {}) when no k in ks can be scored (tiny catalogues).
    10-60 s for 16 dimensions and ks = 2..15 on one core (by machine load); cache it."""
    scores = bic_scores(x, ks, sample, seed)
    return best_k(scores), scores


def best_k(bic: dict[int, float]) -> int:
    """The k with the lowest BIC (the smaller k on a tie); 1 when there is none."""
    return min(bic, key=lambda k: (bic[k], k)) if bic else 1


def hdbscan(x: np.ndarray, min_cluster_size: int = 50, min_samples: int | None = None,
            sample: int = HDBSCAN_SAMPLE, seed: int = 0) -> np.ndarray:
    """x [N, D] -> labels int64 [N] (-1 = noise), from sklearn's HDBSCAN.

    With more than `sample` items, HDBSCAN is fitted on a seeded subsample and every other
    item takes the label of its nearest subsample item (noise if that one is noise), the usual
    cheap stand-in for HDBSCAN's approximate prediction. Clusters are renumbered largest
    first; min_cluster_size is scaled down to the subsample."""
    from sklearn.cluster import HDBSCAN

    from explorer.latent.index import LatentIndex

    a = _as_2d(x)
    n = len(a)
    if n < 2:
        return np.full(n, NOISE, np.int64)
    idx = subsample(n, sample, seed)
    scale = len(idx) / n
    mcs = max(2, min(int(round(min_cluster_size * scale)), len(idx)))
    model = HDBSCAN(min_cluster_size=mcs, copy=True,
                    min_samples=None if min_samples is None else max(1, min(min_samples, mcs)))
    with _threads():
        sub_labels = model.fit_predict(a[idx]).astype(np.int64)
        if len(idx) == n:
            labels = sub_labels
        else:
            nearest = LatentIndex(a[idx], method="exact").query(a, k=1)[0][:, 0]
            labels = sub_labels[nearest]
            labels[idx] = sub_labels
    return relabel_by_size(labels)


def relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber cluster labels 0, 1, ... from the largest cluster down; -1 (noise) stays."""
    lab = np.asarray(labels, np.int64)
    out = np.full(lab.shape, NOISE, np.int64)
    kept = lab[lab != NOISE]
    if not len(kept):
        return out
    values, counts = np.unique(kept, return_counts=True)
    order = values[np.lexsort((values, -counts))]
    lookup = {int(v): i for i, v in enumerate(order)}
    mask = lab != NOISE
    out[mask] = [lookup[int(v)] for v in lab[mask]]
    return out


def centroids(x: np.ndarray, labels: np.ndarray) -> dict[int, np.ndarray]:
    """{label: mean of its members} for every label except noise."""
    a = _as_2d(x)
    lab = np.asarray(labels)
    return {int(c): a[lab == c].mean(0) for c in np.unique(lab) if c != NOISE}


def central_items(x: np.ndarray, labels: np.ndarray, per_cluster: int = 8,
                  centres: dict[int, np.ndarray] | np.ndarray | None = None
                  ) -> dict[int, np.ndarray]:
    """{label: indices of the cluster's `per_cluster` members nearest its centre, nearest
    first, ties by index; `LatentIndex` finds them}. Centres default to the members' mean;
    noise (-1) is left out."""
    from explorer.latent.index import LatentIndex

    a = _as_2d(x)
    lab = np.asarray(labels)
    if len(lab) != len(a):
        raise ValueError(f"{len(a)} items but {len(lab)} labels")
    if centres is None:
        centres = centroids(a, lab)
    elif not isinstance(centres, dict):
        centres = {i: c for i, c in enumerate(np.asarray(centres))}
    out: dict[int, np.ndarray] = {}
    for c in sorted(int(v) for v in np.unique(lab) if v != NOISE):
        members = np.flatnonzero(lab == c)
        near = LatentIndex(a[members], method="exact").query(
            np.asarray(centres[c], np.float32), k=max(1, per_cluster))[0][0]
        out[c] = members[near[:per_cluster]]
    return out


def cluster_sizes(labels: np.ndarray) -> dict[int, int]:
    """{label: member count}, noise included (as -1) when present."""
    values, counts = np.unique(np.asarray(labels), return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts)}


# ---------------------------------------------------------------------------- names, summaries
def describing_columns(metadata) -> list[str]:
    """The metadata columns that names and summaries draw on: the map's categorical filter
    columns (`explorer.data.schema.filter_columns`)."""
    from explorer.data.schema import filter_columns
    return filter_columns(metadata)[0]


def _codes(metadata, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(codes int64 [N] with -1 for missing, the values as str [V])."""
    import pandas as pd
    codes, uniques = pd.factorize(metadata[column], use_na_sentinel=True)
    return codes.astype(np.int64), np.asarray([str(u) for u in uniques], dtype=object)


def _term_labels(metadata, columns: list[str]) -> dict[tuple[str, str], str]:
    """How a (column, value) reads in a name: the bare value ("boot") when no other column
    has that value, else "column: value" ("upper_colour: red")."""
    owners: dict[str, set[str]] = {}
    values = {}
    for c in columns:
        _, vals = _codes(metadata, c)
        values[c] = vals
        for v in vals:
            owners.setdefault(v, set()).add(c)
    def bare(v: str) -> bool:
        return (len(owners[v]) == 1 and v.strip().casefold() not in _VAGUE
                and not v.replace(".", "", 1).lstrip("-").isdigit())
    return {(c, v): (v if bare(v) else f"{c}: {v}") for c in columns for v in values[c]}


# values that mean nothing without their column ("none" of what?)
_VAGUE = {"none", "no", "yes", "true", "false", "other", "unknown", "n/a", "na", "-", ""}


def distinctive_values(metadata, members: np.ndarray, columns: list[str] | None = None,
                       min_share: float = 0.2, min_lift: float = 1.3):
    """What sets a group of products apart: one row per (column, value) whose share in the
    group is at least `min_share` and at least `min_lift` times its share in the catalogue,
    best first. members: bool [N] or indices. Columns of the returned DataFrame: column,
    value, label (how it reads in a name), count, share, catalogue_share, lift, score, with
    score = share * ln(lift) (the value's term in the group's KL divergence from the
    catalogue). At most one row per column (its best value)."""
    import pandas as pd

    n = len(metadata)
    mask = _as_mask(members, n)
    cols = describing_columns(metadata) if columns is None else list(columns)
    labels = _term_labels(metadata, cols)
    rows = []
    n_values = {}
    size = int(mask.sum())
    if size:
        for c in cols:
            codes, vals = _codes(metadata, c)
            if not len(vals):
                continue
            n_values[c] = len(vals)
            total = np.bincount(codes[codes >= 0], minlength=len(vals))
            inside = np.bincount(codes[mask & (codes >= 0)], minlength=len(vals))
            share = inside / size
            cat_share = total / n
            with np.errstate(divide="ignore", invalid="ignore"):
                lift = np.where(cat_share > 0, share / cat_share, 0.0)
            ok = (share >= min_share) & (lift >= min_lift)
            if not ok.any():
                continue
            score = np.where(ok, share * np.log(np.maximum(lift, 1e-12)), -np.inf)
            j = int(np.argmax(score))
            rows.append((c, vals[j], labels[(c, vals[j])], int(inside[j]), float(share[j]),
                         float(cat_share[j]), float(lift[j]), float(score[j])))
    df = pd.DataFrame(rows, columns=["column", "value", "label", "count", "share",
                                     "catalogue_share", "lift", "score"])
    # on a tie (two columns picking out the same products) a bare value, then the column
    # with fewer values (a kind, like silhouette, rather than a detail) reads better
    df["_qualified"] = df["label"].str.contains(":", regex=False)
    df["_score"] = df["score"].round(9)
    df["_values"] = df["column"].map(n_values)
    df = df.sort_values(["_score", "_qualified", "_values", "column"],
                        ascending=[False, True, True, True], ignore_index=True)
    return df.drop(columns=["_qualified", "_score", "_values"])


def _as_mask(members, n: int) -> np.ndarray:
    m = np.asarray(members)
    if m.dtype == bool:
        if m.shape != (n,):
            raise ValueError(f"a selection mask must be bool [{n}], got shape {m.shape}")
        return m
    idx = m.astype(np.int64).reshape(-1)
    if len(idx) and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"selected indices must be in [0, {n}), got {idx.min()}..{idx.max()}")
    mask = np.zeros(n, bool)
    mask[idx] = True
    return mask


def name_from(distinct, metadata=None, max_terms: int = 3, fallback: str = "mixed") -> str:
    """'boot · leather · red' from a distinctive_values table: its first max_terms labels,
    skipping a value that picks out nearly the same products as one already named (with
    metadata given: Jaccard >= 0.9 over the catalogue, e.g. lace_colour "none" beside
    "slip-on")."""
    chosen: list[str] = []
    masks: list[np.ndarray] = []
    for row in distinct.itertuples(index=False) if len(distinct) else []:
        if len(chosen) == max_terms:
            break
        if metadata is not None:
            m = (metadata[row.column].astype(str) == row.value).to_numpy()
            if any((m & o).sum() >= 0.9 * (m | o).sum() for o in masks):
                continue
            masks.append(m)
        chosen.append(row.label)
    return " · ".join(chosen) if chosen else fallback


def cluster_names(metadata, labels: np.ndarray, columns: list[str] | None = None,
                  max_terms: int = 3, min_share: float = 0.2,
                  min_lift: float = 1.3) -> dict[int, str]:
    """{cluster label: name} from each cluster's most distinctive metadata values (highest
    share x ln(lift) of a value in the cluster against the catalogue, one per column,
    `max_terms` of them): e.g. {0: "boot · leather · red", 1: "slip-on · canvas"}.

    labels: int [N] (k-means or HDBSCAN; -1 = noise is named "noise"). A cluster with no
    value standing out is "mixed". Names are unique: a repeated name gets " (2)", " (3)" in
    label order. Names are catalogue text: escape them before Markdown/HTML (widgets.esc).
    For the map page: ``names = cache_map.cluster_names(b, labels)`` (explorer.app) caches it per bundle."""
    lab = np.asarray(labels)
    if len(lab) != len(metadata):
        raise ValueError(f"{len(metadata)} products but {len(lab)} cluster labels")
    cols = describing_columns(metadata) if columns is None else list(columns)
    out: dict[int, str] = {}
    seen: dict[str, int] = {}
    for c in sorted(int(v) for v in np.unique(lab)):
        if c == NOISE:
            out[c] = "noise"
            continue
        name = name_from(distinctive_values(metadata, lab == c, cols, min_share, min_lift),
                         metadata, max_terms)
        seen[name] = seen.get(name, 0) + 1
        out[c] = name if seen[name] == 1 else f"{name} ({seen[name]})"
    return out


@dataclass
class SelectionSummary:
    """What a selection holds (see selection_summary)."""

    size: int
    name: str                       # like a cluster name: "boot · leather", or "mixed"
    counts: dict                    # column -> DataFrame(value, count, share, lift), top
    #                                 values; the most telling column first
    numeric: "object"               # DataFrame(column, min, median, max, catalogue_median)
    distinctive: "object"           # distinctive_values(...) of the selection
    central: np.ndarray             # int64 [<= n_central]: members nearest the centroid


def selection_summary(metadata, x: np.ndarray, selected, columns: list[str] | None = None,
                      top_values: int = 5, n_central: int = 8) -> SelectionSummary:
    """A selection's summary for the map: counts per attribute and its central products.

    metadata: the catalogue table [N rows]; x: latent means [N, D]; selected: bool [N] or
    indices. counts[column] lists the `top_values` most frequent values in the selection
    (missing values as "(missing)"), each with its share in the selection and its lift
    against the catalogue; numeric has min/median/max of each numeric filter column;
    central holds the members nearest (Euclidean, latent space) the selection's mean,
    nearest first. An empty selection gives size 0 and empty tables."""
    import pandas as pd
    from explorer.data.schema import filter_columns
    from explorer.render.mapview import MISSING

    a = _as_2d(x)
    if len(a) != len(metadata):
        raise ValueError(f"{len(metadata)} products but {len(a)} latent vectors")
    mask = _as_mask(selected, len(a))
    members = np.flatnonzero(mask)
    cats, nums = filter_columns(metadata)
    cols = cats if columns is None else list(columns)
    counts = {}
    for c in cols:
        s = metadata[c]
        lab = s.astype(str).where(s.notna(), MISSING)
        inside = lab[mask].value_counts()
        overall = lab.value_counts()
        top = inside.head(top_values)
        share = top.to_numpy() / max(len(members), 1)
        cat_share = overall.reindex(top.index).to_numpy() / len(lab)
        counts[c] = pd.DataFrame({"value": top.index.astype(str), "count": top.to_numpy(),
                                  "share": share, "lift": share / cat_share})
    # most telling attribute first: the largest share x ln(lift) among its top values
    telling = {c: float((t["share"] * np.log(np.maximum(t["lift"], 1e-12))).max())
               if len(t) else -np.inf for c, t in counts.items()}
    counts = {c: counts[c] for c in sorted(counts, key=lambda c: -telling[c])}
    num_rows = []
    for c in nums:
        v = pd.to_numeric(metadata[c], errors="coerce")
        sel = v[mask].dropna()
        if len(sel):
            num_rows.append((c, sel.min(), sel.median(), sel.max(), v.median()))
    numeric = pd.DataFrame(num_rows, columns=["column", "min", "median", "max",
                                              "catalogue_median"])
    distinct = distinctive_values(metadata, mask, cols)
    if len(members):
        from explorer.latent.index import LatentIndex
        near = LatentIndex(a[members], method="exact").query(a[members].mean(0),
                                                             k=max(1, n_central))[0][0]
        central = members[near[:n_central]].astype(np.int64)
    else:
        central = np.zeros(0, np.int64)
    return SelectionSummary(size=len(members), name=name_from(distinct, metadata) if len(members) else "",
                            counts=counts, numeric=numeric, distinctive=distinct,
                            central=central)
