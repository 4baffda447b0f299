"""Selections on the catalogue map, as catalogue indices: points a plotly event names, the
points inside a box or a lasso, a selection grown or cut by another (Shift / Alt on the map)
and how to write that down for a link, and a page of a long selection. Pure numpy, no
Streamlit."""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np


def _as_indices(visible: np.ndarray) -> np.ndarray:
    v = np.asarray(visible)
    if v.dtype == bool:
        return np.flatnonzero(v).astype(np.int64)
    return sorted_unique(v.astype(np.int64))


def sorted_unique(v: np.ndarray) -> np.ndarray:
    """np.unique(v) for a 1-D integer array, by sorting: numpy 2.4's np.unique took 1.9 s for
    1,000,000 indices here (0.02 s this way), the largest part of a million-point box
    selection. Already strictly increasing input (a filter's indices) is returned as is."""
    v = np.asarray(v).reshape(-1)
    if len(v) < 2 or bool(np.all(v[1:] > v[:-1])):
        return v
    s = np.sort(v)
    return s[np.concatenate(([True], s[1:] != s[:-1]))]



def selected_points(points: Iterable[Mapping[str, Any]],
                    trace_indices: Mapping[int, np.ndarray]) -> np.ndarray:
    """Catalogue indices (sorted, unique) of the points a plotly selection names by
    (curve_number, point_index); points of other traces (density, highlight) are ignored."""
    out = []
    for p in points:
        curve = p.get("curve_number", p.get("curveNumber"))
        i = p.get("point_index", p.get("pointIndex", p.get("point_number")))
        if curve is None or i is None:
            continue
        idx = trace_indices.get(int(curve))
        if idx is not None and 0 <= int(i) < len(idx):
            out.append(int(idx[int(i)]))
    return sorted_unique(np.asarray(out, np.int64))


def in_box(xy: np.ndarray, xs: Sequence[float], ys: Sequence[float]) -> np.ndarray:
    """bool [N]: inside the rectangle spanned by xs = [x0, x1], ys = [y0, y1]."""
    x0, x1 = sorted(map(float, xs[:2]))
    y0, y1 = sorted(map(float, ys[:2]))
    return (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)


def in_polygon(xy: np.ndarray, xs: Sequence[float], ys: Sequence[float]) -> np.ndarray:
    """bool [N]: inside the closed polygon with vertices (xs[i], ys[i]) (even-odd rule)."""
    px = np.asarray(xs, np.float64)
    py = np.asarray(ys, np.float64)
    x, y = xy[:, 0].astype(np.float64), xy[:, 1].astype(np.float64)
    inside = np.zeros(len(xy), bool)
    if len(px) < 3:
        return inside
    j = len(px) - 1
    for i in range(len(px)):
        xi, yi, xj, yj = px[i], py[i], px[j], py[j]
        crosses = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = (xj - xi) * (y - yi) / (yj - yi) + xi
        inside ^= crosses & (x < x_at)
        j = i
    return inside


def area_selection(xy: np.ndarray, candidates: np.ndarray,
                   boxes: Iterable[Mapping[str, Any]] = (),
                   lassos: Iterable[Mapping[str, Any]] = ()) -> np.ndarray:
    """Catalogue indices among `candidates` (e.g. every filtered item, drawn or not) inside any
    of the selection's boxes ({x: [x0, x1], y: [y0, y1]}) or lassos ({x: [...], y: [...]})."""
    cand = _as_indices(candidates)
    pts = xy[cand]
    hit = np.zeros(len(cand), bool)
    for b in boxes:
        if len(b.get("x", [])) >= 2:
            hit |= in_box(pts, b["x"], b["y"])
    for poly in lassos:
        if len(poly.get("x", [])) >= 3:
            hit |= in_polygon(pts, poly["x"], poly["y"])
    return cand[hit]


def page_of(indices: Sequence[int], page: int, per_page: int = 30) -> tuple[list[int], int]:
    """(the indices on 1-based `page`, the number of pages)."""
    n_pages = max(1, -(-len(indices) // per_page))
    page = min(max(1, int(page)), n_pages)
    return [int(i) for i in indices[(page - 1) * per_page: page * per_page]], n_pages


OPS = ("set", "add", "remove")
MAX_STEPS = 8        # the steps of a grown or cut selection a link keeps (a lasso is ~2 kB)
MAX_SKUS = 60        # a selection with no definition goes into a link as its SKUs up to this


def combine(current: Sequence[int], picked: Sequence[int], op: str, n: int) -> np.ndarray:
    """The selection after `op` with `picked` (catalogue indices of n products): "set" is
    picked, "add" the union with current, "remove" current without picked. Sorted, unique;
    indices outside [0, n) are dropped. Masks, not np.unique (see sorted_unique)."""
    if op not in OPS:
        raise ValueError(f"unknown selection operation {op!r} (one of {', '.join(OPS)})")
    mask = np.zeros(n, bool)
    cur = np.asarray(current, np.int64).reshape(-1)
    new = np.asarray(picked, np.int64).reshape(-1)
    cur, new = cur[(cur >= 0) & (cur < n)], new[(new >= 0) & (new < n)]
    if op != "set":
        mask[cur] = True
    mask[new] = op != "remove"
    return np.flatnonzero(mask).astype(np.int64)


def combined_definition(before: Mapping | None, before_skus: Sequence[str] | None,
                        step: Mapping | None, op: str) -> dict | None:
    """How a link finds a grown or cut selection again: {"kind": "steps", "steps": [first,
    {..., "op": "add"}, ...]}, each step a selection's definition (a box, a lasso, a search,
    SKUs ...). `before`: the selection's definition so far (None: it has none, e.g. a click;
    then before_skus, its SKUs when it has at most MAX_SKUS, stand for it). None when the link
    cannot hold it (no definition for a step, or over MAX_STEPS steps): the page then keeps the
    selection's SKUs in the link when they are few, else none."""
    if op not in ("add", "remove") or step is None:
        return None
    if before is not None and before.get("kind") == "steps":
        steps = [dict(s) for s in before.get("steps", [])]
    elif before is not None:
        steps = [dict(before)]
    elif before_skus is not None and 0 < len(before_skus) <= MAX_SKUS:
        steps = [{"kind": "skus", "skus": [str(s) for s in before_skus]}]
    else:
        return None
    if len(steps) >= MAX_STEPS:
        return None
    return {"kind": "steps", "steps": steps + [{**dict(step), "op": op}]}


def replay_steps(definition: Mapping, indices_of, n: int) -> np.ndarray:
    """The selection a {"kind": "steps"} definition describes: indices_of(step) gives each
    step's own indices (the page's reader of one definition); the first step sets, the others
    add or remove as their "op" says. ValueError for a malformed definition."""
    steps = definition.get("steps")
    if not isinstance(steps, list) or not steps or len(steps) > MAX_STEPS:
        raise ValueError(f"a selection in steps needs 1 to {MAX_STEPS} steps")
    out = np.zeros(0, np.int64)
    for i, step in enumerate(steps):
        if not isinstance(step, Mapping) or step.get("kind") == "steps":
            raise ValueError(f"step {i + 1} of the selection is not a selection")
        op = "set" if i == 0 else step.get("op")
        if op not in (("set",) if i == 0 else ("add", "remove")):
            raise ValueError(f"step {i + 1} of the selection has no valid op ({op!r})")
        out = combine(out, indices_of(step), op, n)
    return out
