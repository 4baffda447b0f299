"""Catalogue hygiene: near-duplicate photos, labels that disagree with their visual
neighbours (and, in explorer.latent.unlike, how unlike the catalogue an uploaded photo is).

Plain arrays in and out; the neighbours come from the project's one k-NN index
(explorer.latent.index.LatentIndex), computed once per catalogue and shared by every check::

    nbr, dist = neighbour_table(index, k=10)          # int64 [N, k], float32 [N, k], self left out
    groups = near_duplicates(images, mu, nbr, dist)   # [DuplicateGroup], largest first
    audit = label_audit(metadata["silhouette"], nbr)  # DataFrame, most confident first

`images` is anything indexable like a uint8 [N, S, S, 3] array: an array, or a bundle's
ImageStore (read a shard at a time, in order, so all N never sit in memory at once).

Near duplicates. Exact: the same pixels (a BLAKE2b digest of each image). Near: each
product's latent nearest neighbours closer than `latent_radius` (default 0.4 x the median
nearest-neighbour distance of the catalogue), confirmed by the pixels (RMSE over 0..255 at
most `max_rmse`, default 8). Measured on the demo bundle (30,000 products, 200-item sample):
re-saving a photo as JPEG moves it 0.32 in latent space at quality 75 (95th percentile
0.51, max 0.99) and 4.6 in pixel RMSE (6.5 at quality 50), while a product's nearest
*different* product is 0.85..2.7 away (median 1.80) and 11.5 RMSE or more. Pairs join into
groups (connected components), so three copies make one group of three.

Label audit. A product whose label disagrees with the majority of its k visual neighbours
(e.g. "boot" with ten low-court neighbours), ranked by the majority's share (its
confidence) then by how many neighbours carry the product's own label (fewest first).

How unlike the catalogue an uploaded photo is: explorer.latent.unlike.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

DEFAULT_MAX_RMSE = 8.0
DEFAULT_RADIUS_FACTOR = 0.4
AUDIT_SOURCE_FIX = "label audit: fixed"       # annotations "source" of an audit's decision
AUDIT_SOURCE_KEEP = "label audit: kept"


# ---------------------------------------------------------------------------- plumbing
def _n_items(images: Any) -> int:
    return len(images)


def image_chunks(images: Any, chunk: int = 1024):
    """(start, uint8 [B, S, S, 3]) for consecutive blocks of `images` (array or ImageStore)."""
    n = _n_items(images)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        if hasattr(images, "get") and not isinstance(images, np.ndarray):
            block = images.get(np.arange(s, e))
        else:
            block = np.asarray(images[s:e])
        yield s, block


def take_images(images: Any, indices: np.ndarray) -> np.ndarray:
    """uint8 [len(indices), S, S, 3] (indices read in sorted order, returned as given)."""
    idx = np.asarray(indices, np.int64).reshape(-1)
    if hasattr(images, "get") and not isinstance(images, np.ndarray):
        order = np.argsort(idx, kind="stable")
        got = images.get(idx[order])
        out = np.empty_like(got)
        out[order] = got
        return out
    return np.asarray(images)[idx]


def neighbour_table(index, k: int = 10, batch: int = 2048,
                    progress: Callable[[float], None] | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Every catalogue item's k nearest *other* items in the index (a LatentIndex over the
    catalogue's latent means): (indices int64 [N, k], distances float32 [N, k]), nearest
    first. An item is never its own neighbour, even among exact duplicates (distance 0).
    progress, if given, is called with the fraction done after each batch."""
    vectors = index.vectors
    n = len(vectors)
    if n < 2:
        raise ValueError(f"a neighbour table needs at least 2 items, got {n}")
    k = int(k)
    if not 1 <= k < n:
        raise ValueError(f"k must be between 1 and {n - 1} (items - 1), got {k}")
    out_i = np.empty((n, k), np.int64)
    out_d = np.empty((n, k), np.float32)
    for s in range(0, n, batch):
        e = min(n, s + batch)
        idx, dist = index.query(vectors[s:e], k=k + 1)
        is_self = idx == np.arange(s, e)[:, None]
        # self (if present) sorts to the end of its row; rows without it drop their last
        order = np.argsort(is_self, axis=1, kind="stable")[:, :k]
        out_i[s:e] = np.take_along_axis(idx, order, axis=1)
        out_d[s:e] = np.take_along_axis(dist, order, axis=1)
        if progress is not None:
            progress(e / n)
    return out_i, out_d


# ---------------------------------------------------------------------------- duplicates
def pixel_digests(images: Any, chunk: int = 1024) -> np.ndarray:
    """A 16-byte BLAKE2b digest of each image's pixels (and shape): uint8 [N, 16]."""
    out = np.empty((_n_items(images), 16), np.uint8)
    for s, block in image_chunks(images, chunk):
        for j, im in enumerate(block):
            h = hashlib.blake2b(digest_size=16)
            h.update(repr(im.shape).encode())
            h.update(np.ascontiguousarray(im).tobytes())
            out[s + j] = np.frombuffer(h.digest(), np.uint8)
    return out


def pixel_rmse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Root mean squared difference over 0..255 of image pairs: [B, S, S, C] x2 -> float [B]."""
    d = np.asarray(a, np.float32) - np.asarray(b, np.float32)
    return np.sqrt((d * d).reshape(len(d), -1).mean(1))


@dataclass
class DuplicateGroup:
    """Products whose photos are the same or nearly so."""

    members: np.ndarray          # int64 [M >= 2], catalogue indices, ascending
    kind: str                    # "identical" (same pixels) or "near"
    max_latent: float            # largest latent distance of a confirmed pair in the group
    max_rmse: float              # largest pixel RMSE (0..255) of a confirmed pair

    def __len__(self) -> int:
        return len(self.members)


class _Components:
    def __init__(self, n: int):
        self.parent = np.arange(n)

    def find(self, i: int) -> int:
        p = self.parent
        root = i
        while p[root] != root:
            root = p[root]
        while p[i] != root:
            p[i], i = root, p[i]
        return int(root)

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def near_duplicates(images: Any, neighbours: np.ndarray, distances: np.ndarray,
                    digests: np.ndarray | None = None, latent_radius: float | None = None,
                    max_rmse: float = DEFAULT_MAX_RMSE) -> list[DuplicateGroup]:
    """Groups of products with identical or nearly identical photos, largest group first
    (then by first member).

    images: [N, S, S, 3] (array or ImageStore); neighbours, distances: a neighbour_table
    [N, k]; digests: pixel_digests(images) (computed here when None); latent_radius: how
    close two latent means must be to be compared (default 0.4 x the median nearest-
    neighbour distance); max_rmse: the largest pixel RMSE (0..255) of a confirmed pair.
    Identical photos are grouped whatever their latent distance."""
    nbr = np.asarray(neighbours, np.int64)
    dist = np.asarray(distances, np.float32)
    n = len(nbr)
    if dist.shape != nbr.shape or _n_items(images) != n:
        raise ValueError(f"neighbours {nbr.shape}, distances {dist.shape} and {_n_items(images)}"
                         f" images do not describe the same catalogue")
    if not max_rmse >= 0:
        raise ValueError(f"max_rmse must be >= 0, got {max_rmse}")
    if latent_radius is None:
        latent_radius = DEFAULT_RADIUS_FACTOR * float(np.median(dist[:, 0])) if n else 0.0
    raw = pixel_digests(images) if digests is None else np.asarray(digests, np.uint8)
    if raw.shape != (n, 16):
        raise ValueError(f"digests must be uint8 [{n}, 16] (pixel_digests), got {raw.shape}")
    dig = [row.tobytes() for row in raw]
    comp = _Components(n)
    pair_latent: dict[tuple[int, int], float] = {}
    pair_rmse: dict[tuple[int, int], float] = {}
    # identical pixels
    first: dict[bytes, int] = {}
    for i, d in enumerate(dig):
        j = first.setdefault(d, i)
        if j != i:
            comp.union(j, i)
            pair_rmse[(j, i)] = 0.0
    # near: latent candidates, confirmed by pixels
    rows, cols = np.nonzero(dist <= latent_radius)
    a, b = rows, nbr[rows, cols]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    cand = {}
    for i, j, d in zip(lo.tolist(), hi.tolist(), dist[rows, cols].tolist()):
        if i != j and dig[i] != dig[j]:
            cand[(i, j)] = d
    for (i, j), d in cand.items():
        pair_latent[(i, j)] = d
    if cand:
        pairs = np.array(sorted(cand), np.int64)
        uniq, inv = np.unique(pairs.reshape(-1), return_inverse=True)
        imgs = take_images(images, uniq)
        inv = inv.reshape(-1, 2)
        rmse = pixel_rmse(imgs[inv[:, 0]], imgs[inv[:, 1]])
        for (i, j), r in zip(pairs.tolist(), rmse.tolist()):
            if r <= max_rmse:
                comp.union(i, j)
                pair_rmse[(i, j)] = r
    roots = [comp.find(i) for i in range(n)]
    groups: dict[int, list[int]] = {}
    for i, r in enumerate(roots):
        groups.setdefault(r, []).append(i)
    worst: dict[int, list[float]] = {}             # root -> [max latent, max rmse]
    for (i, j), v in pair_rmse.items():
        w = worst.setdefault(roots[i], [0.0, 0.0])
        w[0] = max(w[0], pair_latent.get((i, j), 0.0))
        w[1] = max(w[1], v)
    out = []
    for r, members in groups.items():
        if len(members) < 2:
            continue
        m = np.array(members, np.int64)
        ident = len({dig[i] for i in members}) == 1
        lat, rm = worst.get(r, [0.0, 0.0])
        out.append(DuplicateGroup(members=m, kind="identical" if ident else "near",
                                  max_latent=lat, max_rmse=rm))
    out.sort(key=lambda g: (-len(g), int(g.members[0])))
    return out


# ---------------------------------------------------------------------------- label audit
def label_audit(labels, neighbours: np.ndarray, min_share: float = 0.7) -> "object":
    """Products whose label disagrees with most of their visual neighbours.

    labels: [N] values of one categorical column (missing values neither judge nor are
    judged); neighbours: int [N, k] from neighbour_table. A product is listed when the most
    common label among its neighbours (ignoring missing ones) differs from its own and holds
    at least `min_share` of them. Returns a DataFrame sorted most confident first, columns:
    index, label, majority, confidence (the majority's share of the neighbours with a
    label), agree (share of them carrying the product's own label), votes (how many had a
    label). Ties between two majority labels are not listed (no majority)."""
    import pandas as pd

    lab = pd.Series(np.asarray(labels, dtype=object))
    nbr = np.asarray(neighbours, np.int64)
    if nbr.ndim != 2 or len(nbr) != len(lab):
        raise ValueError(f"{len(lab)} labels but a neighbour table of shape {nbr.shape}")
    if not 0.0 < min_share <= 1.0:
        raise ValueError(f"min_share must be in (0, 1], got {min_share}")
    codes, values = pd.factorize(lab, use_na_sentinel=True)
    codes = codes.astype(np.int64)
    v = len(values)
    cols = ["index", "label", "majority", "confidence", "agree", "votes"]
    if v == 0 or nbr.shape[1] == 0:
        return pd.DataFrame(columns=cols)
    nc = codes[nbr]                                  # [N, k], -1 = missing
    counts = np.zeros((len(nbr), v), np.int64)
    for j in range(nbr.shape[1]):
        ok = nc[:, j] >= 0
        np.add.at(counts, (np.flatnonzero(ok), nc[ok, j]), 1)
    votes = counts.sum(1)
    top = counts.argmax(1)
    top_n = counts.max(1)
    tied = (counts == top_n[:, None]).sum(1) > 1
    with np.errstate(divide="ignore", invalid="ignore"):
        conf = np.where(votes > 0, top_n / np.maximum(votes, 1), 0.0)
        own = np.where(codes >= 0, counts[np.arange(len(nbr)), np.maximum(codes, 0)], 0)
        agree = np.where(votes > 0, own / np.maximum(votes, 1), 0.0)
    flag = (codes >= 0) & (votes > 0) & ~tied & (top != codes) & (conf >= min_share)
    idx = np.flatnonzero(flag)
    df = pd.DataFrame({"index": idx, "label": values[codes[idx]].astype(object),
                       "majority": values[top[idx]].astype(object),
                       "confidence": conf[idx], "agree": agree[idx], "votes": votes[idx]},
                      columns=cols)
    return df.sort_values(["confidence", "agree", "index"], ascending=[False, True, True],
                          ignore_index=True)


def audit_keep(store, sku: str, column: str, value, user: str = "") -> int:
    """Record that a reviewer confirmed the product's label (it leaves the audit list).
    One undoable action in the annotations database."""
    return store.set_attribute(sku, column, value, source=AUDIT_SOURCE_KEEP, user=user)


def audit_fix(store, sku: str, column: str, value, confidence: float | None = None,
              user: str = "") -> int:
    """Set the product's label to `value` (the neighbours' majority) in the annotations
    database, beside the catalogue (never rewriting it). One undoable action."""
    return store.set_attribute(sku, column, value, source=AUDIT_SOURCE_FIX,
                               confidence=confidence, user=user)


def audit_undo(store, user: str = "") -> str | None:
    """Undo this session's last label-audit decision: the store's undo scoped to `user` and
    to attribute actions, so a tag (duplicates section) or another session's work is never
    reverted. Returns what was undone, or None when there is nothing to undo."""
    from explorer.store.annotations import ATTRIBUTE_KINDS
    return store.undo_last(user=user, kinds=ATTRIBUTE_KINDS)


def audited(store, column: str) -> dict[str, Any]:
    """{sku: value} of this column's products already decided by the audit (kept or fixed)."""
    att = store.attributes(column)
    if not len(att):
        return {}
    done = att[att["source"].isin([AUDIT_SOURCE_FIX, AUDIT_SOURCE_KEEP])]
    return dict(zip(done["sku"], done["value"]))


# ---------------------------------------------------------------------------- stored results
def stored_arrays(path, compute: Callable[[], dict[str, np.ndarray]],
                  meta: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Arrays kept in an .npz file: read from `path` when it is there and was made with the
    same `meta` (a small dict of numbers/strings, e.g. k and the sample size), else
    compute() and write them there atomically. A missing, unreadable or stale file is
    recomputed; a file that cannot be written (read-only data folder) is only skipped.
    Never unpickles (allow_pickle=False)."""
    import json
    import os
    from pathlib import Path

    from explorer.data.atomic import atomic_write_bytes

    p = Path(path)
    tag = json.dumps(meta or {}, sort_keys=True)
    try:
        with np.load(p, allow_pickle=False) as z:
            if "_meta" in z.files and str(z["_meta"]) == tag:
                return {k: z[k] for k in z.files if k != "_meta"}
    except (OSError, ValueError, KeyError):
        pass
    arrays = compute()
    try:
        import io
        buf = io.BytesIO()
        np.savez(buf, _meta=np.array(tag), **arrays)
        os.makedirs(p.parent, exist_ok=True)
        atomic_write_bytes(p, buf.getvalue())
    except OSError:
        pass
    return arrays
