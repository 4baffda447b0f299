"""The train/validation split: deterministic, pixel-identical duplicates on one side, optionally
stratified by a column.

A real catalogue lists some photos twice (the same shoe under two SKUs); if one copy is in
training and the other in validation, validation rewards memorising and a k-NN vote finds the
twin. ``image_groups`` gives every item the index of its first pixel-identical item, and
``split_indices`` keeps each group on one side. With neither groups nor strata it is the split
the first bundles were trained with (bundles made before ``group_duplicates`` existed).
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd


def image_groups(images: np.ndarray) -> np.ndarray:
    """uint8 [N, ...] -> int64 [N]: for each item, the index of the first item with the same
    pixels (its own index when it has no earlier twin)."""
    first: dict[bytes, int] = {}
    out = np.empty(len(images), np.int64)
    for i in range(len(images)):
        key = hashlib.blake2b(np.ascontiguousarray(images[i]).tobytes(), digest_size=16).digest()
        out[i] = first.setdefault(key, i)
    return out


def split_indices(n: int, val_fraction: float, seed: int, max_val: int = 5000,
                  groups: np.ndarray | None = None, strata: Any = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic train/validation split of range(n): (train_idx, val_idx), both sorted.

    groups [n]: items with the same group id land on the same side (whole groups are drawn, so
    the validation size can exceed the target by a group's size less one). strata [n]: labels
    (missing = a class of its own); each class gets its share of the validation items, a group
    counting in the class of its first item. Without either, the original split.
    """
    n_val = min(int(round(n * val_fraction)), max_val, max(n - 1, 0))
    rng = np.random.default_rng([seed, 7919])
    if groups is None and strata is None:
        perm = rng.permutation(n)
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])
    g = np.arange(n) if groups is None else np.asarray(groups)
    if len(g) != n:
        raise ValueError(f"groups has {len(g)} entries for {n} items")
    # groups in the order of their first item, so that all-singleton groups give the original
    # split
    _, first, inverse, sizes = np.unique(g, return_index=True, return_inverse=True,
                                         return_counts=True)
    order = np.argsort(first, kind="stable")
    rank_of = np.empty_like(order)
    rank_of[order] = np.arange(len(order))
    item_group = rank_of[inverse]          # group number 0..G-1 by first appearance
    group_size = sizes[order]
    group_first = first[order]
    perm = rng.permutation(len(order))
    in_val = np.zeros(len(order), bool)
    if strata is None:
        count = 0
        for gi in perm:
            if count >= n_val:
                break
            in_val[gi] = True
            count += group_size[gi]
    else:
        labels = pd.Series(np.asarray(strata, dtype=object)).fillna("\0missing").astype(str)
        if len(labels) != n:
            raise ValueError(f"strata has {len(labels)} entries for {n} items")
        codes, uniques = pd.factorize(labels)
        class_size = np.bincount(codes, minlength=len(uniques))
        target = np.round(n_val * class_size / max(n, 1)).astype(int)
        got = np.zeros(len(uniques), int)
        g_class = codes[group_first]
        for gi in perm:
            c = g_class[gi]
            if got[c] < target[c]:
                in_val[gi] = True
                got[c] += group_size[gi]
        count = int(group_size[in_val].sum())
        for gi in perm:  # rounding can leave the total short: top up in the same order
            if count >= n_val:
                break
            if not in_val[gi]:
                in_val[gi] = True
                count += group_size[gi]
    val_mask = in_val[item_group]
    return np.flatnonzero(~val_mask), np.flatnonzero(val_mask)


def split_for(train_config: dict[str, Any], n: int, images: np.ndarray | None = None,
              metadata: pd.DataFrame | None = None, groups: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """The split a model was trained with, from its training config (a bundle's
    train_config): duplicates grouped if `group_duplicates` (absent in older bundles: not),
    stratified by `stratify` if set. images / metadata are needed only for those (images:
    any sequence of [S, S, 3] arrays, e.g. a bundle's ImageStore, read one at a time; or
    groups, image_groups(images) already computed). Training, evaluation and the model
    card all recover the split here."""
    tc = train_config
    strata = None
    if not tc.get("group_duplicates"):
        groups = None
    elif groups is None:
        if images is None:
            raise ValueError("this split groups duplicate images: the images are needed")
        groups = image_groups(images)
    col = tc.get("stratify") or ""
    if col:
        if metadata is None or col not in metadata.columns:
            raise KeyError(f"the split is stratified by {col!r}, which is not a metadata "
                           f"column")
        strata = metadata[col].to_numpy()
    return split_indices(n, float(tc.get("val_fraction", 0.1)), int(tc.get("seed", 0)),
                         int(tc.get("max_val", 5000)), groups, strata)
