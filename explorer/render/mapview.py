"""The catalogue map, as pure functions: which points to draw, how to colour them, how a
selection maps back to catalogue indices, and the image map (thumbnails at their projected
positions or snapped to a grid).

Nothing here imports Streamlit; the page (pages/catalogue_map.py) lays out widgets and calls
these. Indices are always catalogue indices (row i of the bundle's metadata) unless a name
says otherwise.

Large catalogues::

    up to MAX_POINTS visible items       every item is one point
    above MAX_POINTS                     a seeded random sample of MAX_POINTS items
    above DENSITY_ABOVE                  a 2-D histogram (density) of every visible item,
                                         with the sample drawn on top
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

MAX_POINTS = 50_000
DENSITY_ABOVE = 300_000
MAX_CATEGORIES = 20
OTHER = "(other)"
MISSING = "(missing)"
GRID_EXACT_MAX = 1_600      # linear assignment up to this many items, rank-based snapping above

# A colour-blind-friendly qualitative palette (Okabe-Ito first, then Tableau 10's extras).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000", "#8C564B", "#7F7F7F", "#BCBD22", "#17BECF", "#9467BD", "#FF9DA7",
           "#2CA02C", "#AEC7E8", "#FFBB78", "#98DF8A", "#C5B0D5", "#C49C94", "#DBDB8D"]
OTHER_COLOUR = "#C8C8C8"


# ---------------------------------------------------------------------------- what to draw
@dataclass
class DrawPlan:
    """Which visible items the scatter draws.

    mode: "all" (every visible item is a point), "sample" (a seeded random sample of them),
    or "density" (a 2-D histogram of every visible item plus the sample on top).
    drawn: catalogue indices drawn as points, sorted ascending.
    """

    mode: str
    drawn: np.ndarray
    n_visible: int

    @property
    def sampled(self) -> bool:
        return self.mode != "all"

    def describe(self) -> str:
        if self.mode == "all":
            return f"all {self.n_visible:,} products are drawn"
        text = (f"{len(self.drawn):,} of {self.n_visible:,} products are drawn (a random "
                f"sample, the same on every visit)")
        if self.mode == "density":
            text = ("the shading is the density of all "
                    f"{self.n_visible:,} products; " + text.replace(" are drawn", " are drawn "
                                                                    "on top"))
        return text


def plan_points(visible: np.ndarray, max_points: int = MAX_POINTS,
                density_above: int = DENSITY_ABOVE, seed: int = 0) -> DrawPlan:
    """visible: catalogue indices that pass the filters (any order) or a bool mask [N].

    Returns the DrawPlan: all of them up to max_points, else a seeded sample of max_points;
    above density_above the plan is a density view with that sample on top."""
    idx = _as_indices(visible)
    n = len(idx)
    if n <= max_points:
        return DrawPlan("all", idx, n)
    rng = np.random.default_rng(seed)
    drawn = np.sort(idx[rng.choice(n, max_points, replace=False)])
    return DrawPlan("density" if n > density_above else "sample", drawn, n)


def _as_indices(visible: np.ndarray) -> np.ndarray:
    v = np.asarray(visible)
    if v.dtype == bool:
        return np.flatnonzero(v).astype(np.int64)
    return np.sort(np.unique(v.astype(np.int64)))


def density_grid(xy: np.ndarray, bins: int = 200,
                 extent: tuple[float, float, float, float] | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2-D histogram of xy [N, 2] -> (counts [bins, bins] indexed [y, x], x centres [bins],
    y centres [bins]). extent = (x0, x1, y0, y1), default the data's range."""
    a = np.asarray(xy, np.float64)
    if extent is None:
        if len(a):
            extent = (a[:, 0].min(), a[:, 0].max(), a[:, 1].min(), a[:, 1].max())
        else:
            extent = (0.0, 1.0, 0.0, 1.0)
    x0, x1, y0, y1 = extent
    x1, y1 = (x1 if x1 > x0 else x0 + 1.0), (y1 if y1 > y0 else y0 + 1.0)
    counts, xe, ye = np.histogram2d(a[:, 0], a[:, 1], bins=bins, range=[[x0, x1], [y0, y1]])
    return counts.T, (xe[:-1] + xe[1:]) / 2, (ye[:-1] + ye[1:]) / 2


# ---------------------------------------------------------------------------- filters
def filterable_columns(metadata: pd.DataFrame,
                       max_categories: int = 60) -> tuple[list[str], list[str]]:
    """(categorical columns with 2..max_categories values, numeric columns with a range),
    leaving out identifiers (sku, name, file)."""
    cats, nums = [], []
    for c in metadata.columns:
        if c in ("sku", "name", "file") or c.startswith("factor_"):
            continue
        s = metadata[c]
        if pd.api.types.is_bool_dtype(s):
            cats.append(c)
        elif pd.api.types.is_numeric_dtype(s):
            v = s.dropna()
            if len(v) and v.min() < v.max():
                if s.nunique() <= 12 and pd.api.types.is_integer_dtype(s):
                    cats.append(c)
                else:
                    nums.append(c)
        elif 2 <= s.nunique(dropna=True) <= max_categories:
            cats.append(c)
    return cats, nums


def numeric_range(values: pd.Series) -> tuple[int | float, int | float, int | float | None]:
    """(lo, hi, step) for a range filter on a numeric column: Python ints (and step 1) when
    every value is a whole number, so that a slider shows "1985", not "1985.00"; floats and
    step None (Streamlit's default) otherwise. NaN/missing values are ignored; ValueError if
    the column holds no number."""
    v = pd.to_numeric(values, errors="coerce").dropna()
    v = v[np.isfinite(v.to_numpy(np.float64))]
    if not len(v):
        raise ValueError(f"column {values.name!r} holds no finite number")
    lo, hi = float(v.min()), float(v.max())
    if (v % 1 == 0).all() and abs(lo) < 2**53 and abs(hi) < 2**53:
        return int(lo), int(hi), 1
    return lo, hi, None


def numeric_ranges(metadata: pd.DataFrame, columns: Iterable[str]) -> dict[str, tuple]:
    """{column: numeric_range(metadata[column])} for the range filters (see numeric_range)."""
    return {c: numeric_range(metadata[c]) for c in columns}


def filter_mask(metadata: pd.DataFrame, categories: Mapping[str, Sequence[Any]] | None = None,
                ranges: Mapping[str, tuple[float, float]] | None = None) -> np.ndarray:
    """bool [N]: rows whose value is one of `categories[col]` (an empty list means no
    constraint) and within `ranges[col]` = (lo, hi) inclusive (missing values fail a range)."""
    mask = np.ones(len(metadata), bool)
    for col, allowed in (categories or {}).items():
        if allowed:
            s = metadata[col]
            want = {str(a) for a in allowed}
            labels = s.astype(str).where(s.notna(), MISSING)
            mask &= labels.isin(want).to_numpy()
    for col, (lo, hi) in (ranges or {}).items():
        v = pd.to_numeric(metadata[col], errors="coerce").to_numpy(np.float64)
        with np.errstate(invalid="ignore"):
            mask &= (v >= lo) & (v <= hi)
    return mask


# ---------------------------------------------------------------------------- colours
@dataclass
class Colouring:
    """How points are coloured. kind "categorical": `labels` [N] str, `categories` in legend
    order (largest first, then OTHER / MISSING), `colours` {category: colour};
    kind "numeric": `values` float [N] (NaN = missing); kind "none": one colour."""

    kind: str
    title: str = ""
    labels: np.ndarray | None = None
    categories: list[str] = field(default_factory=list)
    colours: dict[str, str] = field(default_factory=dict)
    values: np.ndarray | None = None


def categorical_colouring(values: Iterable[Any], title: str = "",
                          max_categories: int = MAX_CATEGORIES,
                          order: Sequence[str] | None = None) -> Colouring:
    """Discrete colours for any labels: the max_categories most common keep their own colour
    (or those in `order`, in that order), the rest become "(other)", missing "(missing)"."""
    s = pd.Series(list(values) if not isinstance(values, pd.Series) else values, dtype=object)
    labels = s.map(lambda v: MISSING if v is None or (isinstance(v, float) and np.isnan(v))
                   else str(v))
    counts = labels[labels != MISSING].value_counts(sort=False)
    ranked = sorted(counts.index, key=lambda c: (-counts[c], c)) if order is None else \
        [c for c in order if c in counts.index]
    keep = ranked[:max_categories]
    kept = set(keep)
    labels = labels.map(lambda v: v if v in kept or v == MISSING else OTHER).to_numpy(object)
    cats = list(keep) + [c for c in (OTHER, MISSING) if (labels == c).any()]
    colours = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(keep)}
    colours.update({OTHER: OTHER_COLOUR, MISSING: "#EEEEEE"})
    return Colouring("categorical", title, labels, cats, colours)


def column_colouring(metadata: pd.DataFrame, column: str | None,
                     max_categories: int = MAX_CATEGORIES) -> Colouring:
    """Colour by a metadata column: numeric with many values -> colour scale, else discrete."""
    if column is None:
        return Colouring("none")
    s = metadata[column]
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) and \
            s.nunique() > 12:
        return Colouring("numeric", column,
                         values=pd.to_numeric(s, errors="coerce").to_numpy(np.float64))
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        order = [str(v) for v in sorted(s.dropna().unique())]
        return categorical_colouring(s.astype(object).where(s.notna(), None).map(
            lambda v: v if v is None else str(v)), column, max_categories, order=order)
    return categorical_colouring(s, column, max_categories)


def cluster_colouring(labels: np.ndarray, title: str = "cluster") -> Colouring:
    lab = np.asarray(labels)
    names = np.array([("noise" if v < 0 else f"cluster {v}") for v in lab], object)
    order = [f"cluster {v}" for v in sorted(set(int(x) for x in lab) - {-1})]
    col = categorical_colouring(names, title, max_categories=len(order) + 1, order=order)
    if (lab < 0).any():
        col.labels = names
        col.categories = order + ["noise"]
        col.colours["noise"] = OTHER_COLOUR
    return col


def colour_options(metadata: pd.DataFrame) -> list[str]:
    """Metadata columns worth colouring by: anything but identifiers and free text."""
    out = []
    for c in metadata.columns:
        if c in ("sku", "name", "file"):
            continue
        s = metadata[c]
        if pd.api.types.is_numeric_dtype(s):
            if s.nunique() > 1:
                out.append(c)
        elif 1 < s.nunique() <= max(60, len(s) // 50):
            out.append(c)
    return out


def colour_choices(columns: list[str]) -> dict[str, tuple[str, str | None]]:
    """The "Colour by" options: label -> (what, column). what is "none", "cluster", "tag" or
    "column". A catalogue column named like a built-in choice (or like another label) gets
    " (column)" appended, so it never hides the built-in one or is hidden by it."""
    out: dict[str, tuple[str, str | None]] = {"none": ("none", None), "cluster": ("cluster", None),
                                              "tag": ("tag", None)}
    for c in columns:
        label = str(c)
        while label in out:
            label += " (column)"
        out[label] = ("column", c)
    return out


# ---------------------------------------------------------------------------- hover
def _escaped(values: pd.Series) -> pd.Series:
    """Strings of a column, HTML-escaped (like html.escape with quote=True), vectorised;
    missing values become ""; newlines become spaces; at most 120 characters."""
    s = values.astype(object).where(values.notna(), "").astype(str).str.slice(0, 120)
    for old, new in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"),
                     ("'", "&#x27;"), ("\r", " "), ("\n", " ")):
        s = s.str.replace(old, new, regex=False)
    return s


def hover_texts(metadata: pd.DataFrame, indices: np.ndarray | None = None) -> np.ndarray:
    """'name<br>SKU · brand' per index (default: every row) as an object array, every
    catalogue string HTML-escaped (plotly renders hover text as HTML-like markup)."""
    md = metadata if indices is None else metadata.iloc[np.asarray(indices, np.int64)]
    name_col = "name" if "name" in md.columns else ("file" if "file" in md.columns else "sku")
    text = "<b>" + _escaped(md[name_col]) + "</b><br>" + _escaped(md["sku"])
    if "brand" in md.columns:
        brand = _escaped(md["brand"])
        text = text + brand.where(brand == "", " · " + brand)
    return text.to_numpy(dtype=object)


# ---------------------------------------------------------------------------- the figure
@dataclass
class MapFigure:
    figure: Any                       # plotly.graph_objects.Figure
    trace_indices: dict[int, np.ndarray]   # curve number -> catalogue index of each point


def scatter_figure(xy: np.ndarray, plan: DrawPlan, colouring: Colouring,
                   metadata: pd.DataFrame, visible: np.ndarray | None = None,
                   highlight: np.ndarray | None = None, height: int | None = None,
                   marker_size: float | None = None, title: str = "",
                   hover: np.ndarray | None = None) -> MapFigure:
    """The map as a plotly figure of WebGL scatter traces (one per category, or one with a
    colour scale), plus a density heatmap under the points in "density" mode.

    xy [N, 2] the projection of the whole catalogue; visible: catalogue indices behind the
    density view (default: the plan's points); highlight: catalogue indices outlined on top
    (the current selection, at most a few thousand). height defaults to one that fits the
    map's aspect ratio in a ~900 px wide column. hover: every catalogue item's hover text
    (from hover_texts(metadata), e.g. cached per catalogue); computed when not given."""
    import plotly.graph_objects as go

    fig = go.Figure()
    traces: dict[int, np.ndarray] = {}
    drawn = plan.drawn
    if hover is None:                   # only the drawn items' texts are needed
        hover = np.empty(len(metadata), object)
        hover[drawn] = hover_texts(metadata, drawn)
    hover = np.asarray(hover, dtype=object)   # object arrays skip plotly's per-item checks
    if plan.mode == "density":
        vis = drawn if visible is None else _as_indices(visible)
        counts, xc, yc = density_grid(xy[vis], bins=240)
        fig.add_trace(go.Heatmap(x=xc, y=yc, z=np.log1p(counts).astype(np.float32),
                                 colorscale="Greys", showscale=False, hoverinfo="skip",
                                 zsmooth="best", opacity=0.75, name="density"))
    size = marker_size or (6.0 if len(drawn) <= 5_000 else 4.0 if len(drawn) <= 20_000 else 3.0)
    opacity = 0.85 if len(drawn) <= 20_000 else 0.6

    def add(idx: np.ndarray, name: str, marker: dict, showlegend: bool = True) -> None:
        traces[len(fig.data)] = idx
        fig.add_trace(go.Scattergl(      # legend names are catalogue/tag text: escaped too
            x=xy[idx, 0], y=xy[idx, 1], mode="markers", name=html.escape(name),
            showlegend=showlegend,
            marker=marker, hovertext=hover[idx], hoverinfo="text",
            legendgroup=html.escape(name)))

    if colouring.kind == "categorical":
        lab = colouring.labels[drawn]
        for cat in colouring.categories:
            idx = drawn[lab == cat]
            if len(idx):
                add(idx, f"{cat} ({len(idx):,})" if plan.mode == "all" else cat,
                    dict(size=size, color=colouring.colours.get(cat, OTHER_COLOUR),
                         opacity=opacity, line=dict(width=0)))
    elif colouring.kind == "numeric":
        vals = colouring.values[drawn]
        ok = np.isfinite(vals)
        if (~ok).any():
            add(drawn[~ok], MISSING, dict(size=size, color="#DDDDDD", opacity=opacity))
        if ok.any():
            add(drawn[ok], colouring.title, dict(
                size=size, color=vals[ok].astype(np.float32), colorscale="Viridis",
                opacity=opacity, showscale=True,
                colorbar=dict(title=dict(text=html.escape(colouring.title)), thickness=14)),
                showlegend=False)
    else:
        add(drawn, "products", dict(size=size, color=PALETTE[0], opacity=opacity),
            showlegend=False)

    if highlight is not None and len(highlight):
        h = np.asarray(highlight, np.int64)[:5_000]
        fig.add_trace(go.Scattergl(x=xy[h, 0], y=xy[h, 1], mode="markers", name="selected",
                                   hoverinfo="skip", marker=dict(
                                       size=size + 5, color="rgba(0,0,0,0)",
                                       line=dict(width=1.5, color="#D62728"))))
    if height is None:
        span = np.ptp(xy, axis=0) if len(xy) else np.ones(2)
        aspect = float(span[1] / span[0]) if span[0] > 0 else 1.0
        height = int(np.clip(900 * aspect + 40, 420, 760))
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=60 if title else 36, b=10),  # modebar room
        dragmode="select", hovermode="closest", clickmode="event+select",
        legend=dict(itemsizing="constant", title=dict(text=html.escape(colouring.title)),
                    bgcolor="rgba(255,255,255,0.7)"),
        plot_bgcolor="white", title=dict(text=html.escape(title)) if title else None,
        uirevision="map")
    fig.update_xaxes(showgrid=False, zeroline=False, showticklabels=False, title=None)
    fig.update_yaxes(showgrid=False, zeroline=False, showticklabels=False, title=None,
                     scaleanchor="x", scaleratio=1)
    return MapFigure(fig, traces)


# ---------------------------------------------------------------------------- selection
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
    return np.unique(np.asarray(out, np.int64))


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


# ---------------------------------------------------------------------------- image map
def normalise(xy: np.ndarray) -> np.ndarray:
    """xy [N, 2] scaled into the unit square, aspect kept, centred."""
    a = np.asarray(xy, np.float64)
    if not len(a):
        return a.reshape(0, 2)
    lo, hi = a.min(0), a.max(0)
    span = float((hi - lo).max()) or 1.0
    return (a - lo) / span + (1.0 - (hi - lo) / span) / 2


def grid_shape(n: int, aspect: float = 1.0) -> tuple[int, int]:
    """(rows, cols) with rows * cols >= n and cols / rows close to aspect (width / height)."""
    if n <= 0:
        return 1, 1
    cols = max(1, int(np.ceil(np.sqrt(n * aspect))))
    rows = max(1, int(np.ceil(n / cols)))
    return rows, cols


def snap_to_grid(xy: np.ndarray, rows: int | None = None, cols: int | None = None,
                 exact_max: int = GRID_EXACT_MAX) -> tuple[np.ndarray, int, int]:
    """Give each item of xy [N, 2] its own cell of a rows x cols grid, keeping neighbours
    together: -> (cell [N] = row * cols + col, all distinct; rows; cols). Row 0 is the top
    (largest y).

    Up to exact_max items the assignment minimises the total squared distance between items
    and cell centres (scipy's linear_sum_assignment on the normalised map); above it, items
    are sorted into rows by y and each row by x (O(N log N), close for even layouts)."""
    a = normalise(xy)
    n = len(a)
    if rows is None or cols is None:
        span = a.max(0) - a.min(0) if n else np.ones(2)
        aspect = float(np.clip(span[0] / span[1], 0.33, 3.0)) if n and span[1] > 0 else 1.0
        rows, cols = grid_shape(n, aspect)
    if rows * cols < n:
        raise ValueError(f"a {rows} x {cols} grid has fewer cells than {n} items")
    if n == 0:
        return np.zeros(0, np.int64), rows, cols
    lo, hi = a.min(0), a.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    u = (a - lo) / span                           # both axes fill [0, 1], like the grid
    if n <= exact_max:
        from scipy.optimize import linear_sum_assignment
        r, c = np.divmod(np.arange(rows * cols), cols)
        centres = np.stack([(c + 0.5) / cols, 1.0 - (r + 0.5) / rows], 1)
        cost = ((u[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
        item, cell = linear_sum_assignment(cost)
        out = np.empty(n, np.int64)
        out[item] = cell
        return out, rows, cols
    order = np.argsort(-u[:, 1], kind="stable")       # top rows first
    out = np.empty(n, np.int64)
    per_row = -(-n // rows)
    for r in range(rows):
        members = order[r * per_row:(r + 1) * per_row]
        if not len(members):
            break
        members = members[np.argsort(u[members, 0], kind="stable")]
        start = (cols - len(members)) // 2            # centre a short last row
        out[members] = r * cols + start + np.arange(len(members))
    return out, rows, cols


def representative_subset(xy: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """At most k indices (into xy [N, 2]) that cover the map evenly: the map is cut into the
    finest square grid with at most k occupied cells, and each occupied cell contributes the
    item nearest its centre (a spatially stratified sample). All of them when N <= k."""
    a = normalise(xy)
    n = len(a)
    if n <= k:
        return np.arange(n)
    best = None
    lo, hi = 1, max(2, int(np.ceil(np.sqrt(k))) * 4)
    while lo <= hi:
        g = (lo + hi) // 2
        cell = _cells(a, g)
        if len(np.unique(cell)) <= k:
            best, lo = g, g + 1
        else:
            hi = g - 1
    g = best or 1
    cell = _cells(a, g)
    centre = (np.floor(a * g).clip(0, g - 1) + 0.5) / g
    d = ((a - centre) ** 2).sum(1)
    rng = np.random.default_rng(seed)
    d = d + rng.random(n) * 1e-12                   # seeded tie-break
    order = np.lexsort((d, cell))
    first = np.ones(n, bool)
    first[1:] = cell[order][1:] != cell[order][:-1]
    return np.sort(order[first])


def _cells(a: np.ndarray, g: int) -> np.ndarray:
    ij = np.floor(a * g).clip(0, g - 1).astype(np.int64)
    return ij[:, 1] * g + ij[:, 0]


def _thumbs(images: np.ndarray, thumb: int) -> list:
    from PIL import Image
    out = []
    for im in np.asarray(images, np.uint8):
        t = Image.fromarray(im, "RGB")
        if t.width != thumb:
            t = t.resize((thumb, thumb), Image.LANCZOS if thumb < t.width else Image.NEAREST)
        out.append(t)
    return out


def grid_image(images: np.ndarray, cells: np.ndarray, rows: int, cols: int, thumb: int = 48,
               pad: int = 1, bg: tuple[int, int, int] = (255, 255, 255)):
    """Thumbnails of images [K, S, S, 3] in their grid cells (from snap_to_grid) -> PIL image
    of cols * (thumb + pad) x rows * (thumb + pad) pixels."""
    from PIL import Image
    step = thumb + pad
    sheet = Image.new("RGB", (cols * step + pad, rows * step + pad), bg)
    for t, cell in zip(_thumbs(images, thumb), np.asarray(cells, np.int64)):
        r, c = divmod(int(cell), cols)
        sheet.paste(t, (pad + c * step, pad + r * step))
    return sheet


def scatter_image(images: np.ndarray, xy: np.ndarray, size: int = 2000, thumb: int = 40,
                  bg: tuple[int, int, int] = (255, 255, 255)):
    """Thumbnails of images [K, S, S, 3] drawn at their positions xy [K, 2] (y up), later
    items over earlier ones, on a canvas whose longer side is `size` px and whose aspect ratio
    is the map's (within 1:3 .. 3:1) -> PIL image."""
    from PIL import Image
    a = np.asarray(xy, np.float64)
    if not len(a):
        return Image.new("RGB", (size, size), bg)
    lo, hi = a.min(0), a.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    aspect = float(np.clip(span[1] / span[0], 1 / 3, 3))
    w, h = (size, max(thumb + 1, int(round(size * aspect)))) if aspect <= 1 else \
        (max(thumb + 1, int(round(size / aspect))), size)
    canvas = Image.new("RGB", (w, h), bg)
    u = (a - lo) / span
    for t, (x, y) in zip(_thumbs(images, thumb), u):
        canvas.paste(t, (int(round(x * (w - thumb))), int(round((1.0 - y) * (h - thumb)))))
    return canvas


def to_jpeg(img, quality: int = 88) -> bytes:
    """JPEG bytes of a PIL image."""
    import io
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def image_figure(img, height: int | None = None, size: tuple[int, int] | None = None,
                 mime: str = "image/jpeg"):
    """A zoomable plotly figure showing one picture: a PIL image, or its encoded bytes with
    size = (width, height). The height defaults to one that fits the picture's aspect ratio
    in a ~900 px wide column."""
    import base64

    import plotly.graph_objects as go
    if isinstance(img, (bytes, bytearray)):
        if size is None:
            raise ValueError("size=(width, height) is needed with encoded bytes")
        data, (w, h) = bytes(img), size
    else:
        data, (w, h), mime = to_jpeg(img), img.size, "image/jpeg"
    uri = f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
    if height is None:
        height = int(np.clip(900 * h / max(1, w), 300, 900))
    fig = go.Figure(go.Image(source=uri, hoverinfo="skip"))
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=0, b=0), dragmode="zoom",
                      plot_bgcolor="white")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    return fig
