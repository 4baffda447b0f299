"""Names and summaries of clusters of the latent means (explorer.latent.clusters) or of any
selection, drawn from the metadata::

    cluster_names(metadata, labels)                # {label: "boot · leather · red"}
    selection_summary(metadata, mu, selected)      # counts per attribute, central products

Plain arrays and DataFrames in and out; no Streamlit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer.latent.clusters import NOISE, _as_2d


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
    For the map page: ``names = cache_map.cluster_names(b, labels)`` (explorer.app) caches it
    per bundle."""
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
    from explorer.data.schema import MISSING, filter_columns

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
    return SelectionSummary(size=len(members),
                            name=name_from(distinct, metadata) if len(members) else "",
                            counts=counts, numeric=numeric, distinctive=distinct,
                            central=central)
