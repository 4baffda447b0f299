"""The catalogue map in the browser: a Streamlit component on regl-scatterplot (WebGL).

Why a component and not plotly: plotly sends one hover string per point (3.85 MB for 30,000
products) and cannot draw 30,000 points in under 2 s in a software-WebGL browser; this sends
the points as one compact buffer (5 bytes a product: uint16 x, uint16 y, uint8 colour code,
plus an int32 catalogue id when a filter is on) and fetches pictures and hover texts lazily,
one image shard at a time, when a hover or a zoom needs them. README "Catalogue map engine"
has the measurements.

The frontend (explorer/app/map_frontend/) is plain files: index.html, map.js, map.css and the
vendored npm builds under vendor/ (no build step, no CDN).

Pure helpers (square_frame, pack_points, colour_codes, shard_texts, parse_selection) take
arrays and return arrays or bytes; `catalogue_map` is the only function that needs a running
Streamlit script.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from explorer.render import map_selection, mapview

FRONTEND = Path(__file__).with_name("map_frontend")
N_BINS = 32                          # numeric colourings: this many colour bins + "missing"
VIRIDIS = ["#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884",
           "#44bf70", "#7ad151", "#bddf26", "#fde725"]
MISSING_COLOUR = "#DDDDDD"
_component = None


# ---------------------------------------------------------------------------- packing
def square_frame(xy: np.ndarray) -> tuple[tuple[float, float], float]:
    """(centre, half side) of the square that holds every point of xy [N, 2] (aspect kept):
    positions are sent as (xy - centre) / half, in [-1, 1]."""
    a = np.asarray(xy, np.float64)
    if not len(a):
        return (0.0, 0.0), 1.0
    lo, hi = np.nanmin(a, 0), np.nanmax(a, 0)
    half = float((hi - lo).max()) / 2 * 1.02 or 1.0
    return (float((lo[0] + hi[0]) / 2), float((lo[1] + hi[1]) / 2)), half


@dataclass
class PackedPoints:
    """The drawn points as one buffer: [int32 ids if has_ids][uint16 x][uint16 y][uint8 code]."""
    data: bytes
    n: int
    has_ids: bool
    centre: tuple[float, float]
    half: float

    @property
    def key(self) -> str:
        return hashlib.sha1(self.data).hexdigest()[:16]


def pack_points(xy: np.ndarray, drawn: np.ndarray, codes: np.ndarray,
                frame: tuple[tuple[float, float], float] | None = None,
                all_drawn: bool | None = None) -> PackedPoints:
    """xy [N, 2] the whole catalogue's map, drawn: catalogue indices to draw (sorted),
    codes: uint8 [N] colour code per catalogue item. The frame defaults to the whole map's, so
    that filtering does not move the points. Ids are left out when every item is drawn."""
    drawn = np.asarray(drawn, np.int64)
    centre, half = frame or square_frame(xy)
    p = (np.asarray(xy, np.float64)[drawn] - np.asarray(centre)) / half
    q = np.round((np.clip(p, -1.0, 1.0) + 1.0) / 2.0 * 65535).astype("<u2")
    has_ids = not (len(drawn) == len(xy) if all_drawn is None else all_drawn)
    parts = [drawn.astype("<i4").tobytes()] if has_ids else []
    parts += [q[:, 0].tobytes(), q[:, 1].tobytes(),
              np.asarray(codes, np.uint8)[drawn].tobytes()]
    return PackedPoints(b"".join(parts), len(drawn), has_ids, (float(centre[0]),
                                                               float(centre[1])), float(half))


def unpack_points(p: PackedPoints) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(catalogue ids [n], positions in [-1, 1] [n, 2], codes [n]) back from a PackedPoints
    (what the browser does; for tests)."""
    buf, n, off = memoryview(p.data), p.n, 0
    ids = np.arange(n)
    if p.has_ids:
        ids = np.frombuffer(buf[:4 * n], "<i4").astype(np.int64)
        off = 4 * n
    x = np.frombuffer(buf[off:off + 2 * n], "<u2")
    y = np.frombuffer(buf[off + 2 * n:off + 4 * n], "<u2")
    codes = np.frombuffer(buf[off + 4 * n:off + 5 * n], np.uint8)
    return ids, np.stack([x, y], 1) / 65535 * 2 - 1, codes


def _ramp(k: int) -> list[str]:
    stops = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in VIRIDIS], float)
    t = np.linspace(0, len(stops) - 1, k)
    lo = np.floor(t).astype(int).clip(0, len(stops) - 2)
    rgb = stops[lo] + (stops[lo + 1] - stops[lo]) * (t - lo)[:, None]
    return ["#%02x%02x%02x" % tuple(int(round(v)) for v in c) for c in rgb]


@dataclass
class Colours:
    codes: np.ndarray                 # uint8 [N]
    palette: list[str]                # colour of each code
    legend: list[tuple[str, str]]     # (label, colour), categorical only
    kind: str                         # "categorical", "numeric", "none"
    title: str = ""
    range: tuple[str, str] | None = None


def colour_codes(colouring: mapview.Colouring, n: int) -> Colours:
    """A mapview.Colouring as a code per item and a palette (numeric: N_BINS bins of a
    viridis ramp, then grey for missing)."""
    if colouring.kind == "categorical":
        cats = list(colouring.categories)[:255]
        lookup = {c: i for i, c in enumerate(cats)}
        codes = pd.Series(colouring.labels, dtype=object).map(lookup).fillna(
            len(cats) - 1).to_numpy(np.uint8)
        palette = [colouring.colours.get(c, mapview.OTHER_COLOUR) for c in cats]
        counts = np.bincount(codes, minlength=len(cats))
        legend = [(f"{c} ({counts[i]:,})", palette[i]) for i, c in enumerate(cats)]
        return Colours(codes, palette, legend, "categorical", colouring.title)
    if colouring.kind == "numeric":
        v = np.asarray(colouring.values, np.float64)
        ok = np.isfinite(v)
        codes = np.full(n, N_BINS, np.uint8)
        legend = []
        if ok.any():
            lo, hi = float(v[ok].min()), float(v[ok].max())
            span = hi - lo or 1.0
            codes[ok] = np.clip((v[ok] - lo) / span * N_BINS, 0, N_BINS - 1).astype(np.uint8)
            rng = (f"{lo:,.4g}", f"{hi:,.4g}")
        else:
            rng = ("", "")
        if (~ok).any():
            legend = [(f"{mapview.MISSING} ({int((~ok).sum()):,})", MISSING_COLOUR)]
        return Colours(codes, _ramp(N_BINS) + [MISSING_COLOUR], legend, "numeric",
                       colouring.title, rng)
    return Colours(np.zeros(n, np.uint8), [mapview.PALETTE[0]], [], "none")


def point_size(n: int) -> float:
    return 4.0 if n <= 5_000 else 3.0 if n <= 50_000 else 2.0 if n <= 300_000 else 1.0


# ---------------------------------------------------------------------------- shards
def shard_texts(metadata: pd.DataFrame, shard: int, per_shard: int) -> bytes:
    """JSON [[name, sku, brand], ...] for the items of image shard `shard` (plain strings:
    the browser puts them in the page as text, never as HTML)."""
    part = metadata.iloc[shard * per_shard:(shard + 1) * per_shard]
    cols = [c for c in ("name", "sku", "brand") if c in part.columns]
    if "name" not in cols and "file" in part.columns:
        cols = ["file"] + cols
    rows = part[cols].astype(object).where(part[cols].notna(), "").astype(str)
    return json.dumps(rows.to_numpy().tolist(), ensure_ascii=False).encode("utf-8")


def media_url(data: bytes | str, mimetype: str, name: str) -> str:
    """A URL the browser can fetch `data` (bytes, or a file path) from: Streamlit's media file
    store (as st.image uses), kept for as long as this session shows it; a data: URL where no
    Streamlit server runs (AppTest)."""
    try:
        from streamlit import runtime
        if runtime.exists():
            return runtime.get_instance().media_file_mgr.add(
                data, mimetype, f"kickspace-map.{name}")
    except Exception:                                   # noqa: BLE001 - fall back below
        pass
    raw = Path(data).read_bytes() if isinstance(data, str) else data
    return f"data:{mimetype};base64," + base64.b64encode(raw).decode("ascii")


# ---------------------------------------------------------------------------- events
@dataclass
class MapEvent:
    seq: int
    kind: str                       # "click", "box", "lasso", "clear", "box3d", "lasso3d"
    index: int | None = None
    x: list[float] | None = None
    y: list[float] | None = None
    clip: list[float] | None = None   # box3d, lasso3d: the camera (explorer.render.map3d)
    op: str = "set"                 # "add" (Shift held), "remove" (Alt held): to the selection


def parse_value(value: Any) -> tuple[MapEvent | None, list[float] | None, list[int]]:
    """(the event, the view [x, y, distance], the wanted shard ids) from the component's
    value; anything malformed is dropped, never raised (the value comes from a browser)."""
    if not isinstance(value, Mapping):
        return None, None, []
    event = None
    ev = value.get("event")
    try:
        seq = int(ev.get("seq", 0)) if isinstance(ev, Mapping) else 0
        if isinstance(ev, Mapping) and ev.get("kind") in ("click", "box", "lasso", "clear",
                                                          "box3d", "lasso3d"):
            kind = ev["kind"]
            if kind == "click":
                event = MapEvent(seq, kind, index=int(ev["index"]))
            elif kind == "clear":
                event = MapEvent(seq, kind)
            elif kind == "box3d":           # a box on the 3-D view: its corners (NDC), camera
                xs, ys = [float(v) for v in ev["x"]], [float(v) for v in ev["y"]]
                clip = [float(v) for v in ev["clip"]]
                if len(xs) == len(ys) == 2 and len(clip) == 16 and \
                        np.isfinite(xs + ys + clip).all():
                    event = MapEvent(seq, kind, x=xs, y=ys, clip=clip)
            elif kind == "lasso3d":         # a lasso on the 3-D view: its vertices (NDC), camera
                xs, ys = [float(v) for v in ev["x"]][:2000], [float(v) for v in ev["y"]][:2000]
                clip = [float(v) for v in ev["clip"]]
                if len(xs) == len(ys) >= 3 and len(clip) == 16 and \
                        np.isfinite(xs + ys + clip).all():
                    event = MapEvent(seq, kind, x=xs, y=ys, clip=clip)
            else:
                xs = [float(v) for v in ev["x"]][:2000]
                ys = [float(v) for v in ev["y"]][:2000]
                if len(xs) == len(ys) and len(xs) >= 3 and np.isfinite(xs + ys).all():
                    event = MapEvent(seq, kind, x=xs, y=ys)
    except (TypeError, ValueError, KeyError):
        event = None
    if event is not None and event.kind != "clear" and isinstance(ev, Mapping) and \
            ev.get("op") in ("add", "remove"):
        event.op = ev["op"]
    view = value.get("view")
    try:
        view = [float(v) for v in view][:3] if view is not None else None
        if view is not None and (len(view) != 3 or not np.isfinite(view).all() or view[2] <= 0):
            view = None
    except (TypeError, ValueError):
        view = None
    need = []
    for k in (value.get("need") or [])[:64]:
        try:
            need.append(int(k))
        except (TypeError, ValueError):
            continue
    return event, view, need


def has_shown(value: Any) -> bool:
    """Whether the component has said its first draw is over (drawn, or failed: either way
    nothing is gained by holding the rest of the page back any longer)."""
    if not isinstance(value, Mapping):
        return False
    shown = value.get("shown")
    return isinstance(shown, (int, float)) and not isinstance(shown, bool)


def event_selection(event: MapEvent, xy: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Catalogue indices an event selects among `visible` (every filtered item, drawn or
    not): a click its item, a box or lasso every item inside it."""
    vis = np.asarray(visible, np.int64)
    if event.kind == "click":
        i = event.index
        return np.array([i], np.int64) if i is not None and np.isin(i, vis) else \
            np.zeros(0, np.int64)
    if event.kind in ("box", "lasso"):
        x, y = np.asarray(event.x), np.asarray(event.y)
        if event.kind == "box":
            return map_selection.area_selection(xy, vis, boxes=[{"x": [x.min(), x.max()],
                                                           "y": [y.min(), y.max()]}])
        return map_selection.area_selection(xy, vis, lassos=[{"x": x.tolist(), "y": y.tolist()}])
    return np.zeros(0, np.int64)


# ---------------------------------------------------------------------------- component
def _declare():
    global _component
    if _component is None:
        import streamlit.components.v1 as components
        _component = components.declare_component("kickspace_map", path=str(FRONTEND))
    return _component


def catalogue_map(points: PackedPoints, colours: Colours, *, n_total: int,
                  selected: Sequence[int] = (), matches: Sequence[int] = (),
                  shards: Mapping[int, Mapping[str, str]] | None = None,
                  thumbs: Mapping[str, int] | None = None, view: Sequence[float] | None = None,
                  view_key: str = "", overlays: Sequence[Mapping] = (), height: int = 560,
                  report_shown: bool = False, key: str = "catalogue_map") -> Any:
    """Draw the map; returns the component's value (parse it with parse_value).

    shards: {shard id: {"img": url, "meta": url}} already available to the browser;
    thumbs: {"size", "cols", "per_shard"} of the bundle's image atlases (None: no pictures);
    overlays: [{"kind": "star" | "path" | "points", "x": [...], "y": [...],
    "labels": [...], "color": "#..."}] in map coordinates, drawn on top of everything.
    report_shown: the page waits for the first draw (has_shown): the component sends one
    value when it has drawn or failed, else none (no rerun that nobody needs)."""
    sel = np.asarray(selected, "<i4")
    mat = np.asarray(matches, "<i4")
    args = dict(
        n=points.n, n_total=int(n_total), has_ids=points.has_ids, centre=list(points.centre),
        half=points.half, data_key=points.key, points_url=media_url(
            points.data, "application/octet-stream", "points"),
        colour_kind=colours.kind, palette=colours.palette, legend=colours.legend,
        legend_title=colours.title, range=colours.range, point_size=point_size(points.n),
        selected=sel.tobytes(), sel_key=hashlib.sha1(sel.tobytes()).hexdigest()[:12],
        matches=mat.tobytes(), match_key=hashlib.sha1(mat.tobytes()).hexdigest()[:12],
        shards={str(k): dict(v) for k, v in (shards or {}).items()}, thumbs=thumbs,
        view=list(view) if view else None, view_key=view_key,
        overlays=[dict(o) for o in overlays], height=int(height),
        report_shown=bool(report_shown))
    return _declare()(key=key, default=None, **args)
