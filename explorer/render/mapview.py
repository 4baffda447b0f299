"""The catalogue map, as pure functions: which points to draw, which rows the filters keep, how
to colour them, hover texts and the plotly figure. How a selection maps back to catalogue
indices is in explorer.render.map_selection; the image map (thumbnails at their projected
positions or snapped to a grid) in explorer.render.map_images.

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

import itertools

import html
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from explorer.data import schema
from explorer.render import colour_names
from explorer.render.map_selection import _as_indices

MAX_POINTS = 50_000
DENSITY_ABOVE = 300_000
MAX_CATEGORIES = schema.PALETTE_CATEGORIES   # values with their own colour, the rest "(other)"
OTHER = "(other)"
MISSING = schema.MISSING

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
def filterable_columns(metadata: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(categorical columns, numeric columns) the map filters on: `schema.filter_columns`
    (identifiers, factors, constant and free-text columns left out)."""
    return schema.filter_columns(metadata)


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
    (or those in `order`, in that order), the rest become "(other)", missing "(missing)".
    Labels that are mostly colour names are drawn in the colours they name
    (explorer.render.colour_names); others take the palette in order."""
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
    named = colour_names.named_colours(keep, counts.to_dict()) or {}   # "Red" drawn red
    rest = itertools.cycle(PALETTE)
    colours = {c: named.get(c) or next(rest) for c in keep}
    colours.update({OTHER: OTHER_COLOUR, MISSING: "#EEEEEE"})
    return Colouring("categorical", title, labels, cats, colours)


def column_colouring(metadata: pd.DataFrame, column: str | None,
                     max_categories: int = MAX_CATEGORIES) -> Colouring:
    """Colour by a metadata column: numeric (as the schema says) -> colour scale, else
    discrete (numbers in order)."""
    if column is None:
        return Colouring("none")
    s = metadata[column]
    if schema.kind_of(s) == schema.NUMERIC:
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
    """Metadata columns worth colouring by: `schema.colour_columns` (categorical or numeric,
    factors included; identifiers and free text left out)."""
    return schema.colour_columns(metadata)


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
