"""The catalogue map's 3-D view: a rotatable plotly Scatter3d (WebGL) of a sample of the
catalogue, coloured like the 2-D map, with the selection and the search matches on top.

Kept compact on purpose (issue 17: the old plotly map sent 3.85 MB, one hover string per
point): coordinates go as float32 typed arrays, points are one trace per colour, and hover
text is sent only for the few highlighted products (and for the sample when it is small).
Every catalogue string is HTML-escaped (plotly renders hover and legend text as markup).

Overlays (an uploaded photo, an interpolation path; explorer.app.map_layers.overlays_3d places
them) are dicts in the 3-D map's coordinates, drawn as the last traces, with legend entries:
  {"kind": "photo", "xyz": [1, 3], "label": str, "flagged": bool}
  {"kind": "path", "xyz": [steps, 3], "start": str, "end": str}
"""
from __future__ import annotations

import html
from typing import Any, Callable, Sequence

import numpy as np

from explorer.render import map_overlays as ov
from explorer.render.map_selection import in_polygon

SELECTED_COLOUR = "#D62728"
MATCH_COLOUR = "#111111"
MAX_HIGHLIGHT = 5_000           # selected / matching products drawn on top, at most
LEGEND_WIDTH = 0.22             # the legend's share of the width, left of the scene
SHORT = 26                      # overlay labels in the legend and the scene cut to this many


def _label(legend_label: str) -> str:
    """'brand X (1,234)' -> 'brand X': the 2-D legend counts the whole catalogue."""
    head, sep, tail = legend_label.rpartition(" (")
    return head if sep and tail.endswith(")") and tail[:-1].replace(",", "").isdigit() \
        else legend_label


def point_size(n: int) -> float:
    return 3.0 if n <= 5_000 else 2.2 if n <= 20_000 else 1.6


def sample_traces(drawn: np.ndarray, codes: np.ndarray, palette: Sequence[str],
                  kind: str = "none", legend: Sequence[tuple[str, str]] = (), title: str = "",
                  value_range: tuple[str, str] | None = None, lit: bool = False
                  ) -> list[tuple[np.ndarray, dict]]:
    """The drawn sample as (catalogue indices, Scatter3d properties but the positions) per
    trace: one trace per colour (categorical), or the "missing" trace and one colour-scaled
    trace (numeric; its marker.color holds each point's colour code), or one trace. Names are
    HTML-escaped (plotly renders legend text as markup). lit: something is highlighted, so
    the sample is dimmed for the ringed products inside the cloud to show through."""
    drawn = np.asarray(drawn, np.int64)
    codes = np.asarray(codes)
    size = point_size(len(drawn))
    dim = dict(opacity=0.35) if lit else {}
    dc = codes[drawn]
    out: list[tuple[np.ndarray, dict]] = []

    def add(idx: np.ndarray, name: str, marker: dict, showlegend: bool = True) -> None:
        out.append((idx, dict(type="scatter3d", mode="markers", name=html.escape(name),
                              showlegend=showlegend, marker=marker)))
    if kind == "categorical":
        for code in np.unique(dc):
            idx = drawn[dc == code]
            label = _label(legend[code][0]) if code < len(legend) else str(code)
            add(idx, f"{label} ({len(idx):,})", dict(size=size, color=palette[code], **dim))
    elif kind == "numeric":
        missing = len(palette) - 1
        bins = palette[:missing]
        ok = dc < missing
        if (~ok).any():
            add(drawn[~ok], f"(missing) ({int((~ok).sum()):,})",
                dict(size=size, color=palette[missing], **dim))
        if ok.any():
            top = max(len(bins) - 1, 1)
            scale = [[i / top, c] for i, c in enumerate(bins)] if len(bins) > 1 else \
                [[0, bins[0]], [1, bins[0]]]
            lo, hi = value_range or ("", "")
            add(drawn[ok], title, dict(
                size=size, color=dc[ok].astype(np.float32), colorscale=scale, cmin=0, **dim,
                cmax=top, showscale=True, colorbar=dict(
                    title=dict(text=html.escape(title)), thickness=12, len=0.6,
                    tickvals=[0, top], ticktext=[html.escape(lo), html.escape(hi)])),
                showlegend=False)
    else:
        add(drawn, f"products ({len(drawn):,})", dict(size=size, color=palette[0], **dim))
    return out


def highlight_traces(selected: np.ndarray | None, matches: np.ndarray | None,
                     size: float) -> list[tuple[np.ndarray, dict]]:
    """The selection (ringed red) and the search matches (black diamonds), at most
    MAX_HIGHLIGHT each, as (catalogue indices, Scatter3d properties but the positions)."""
    out = []
    for idx, name, symbol, colour in ((selected, "selected", "circle-open", SELECTED_COLOUR),
                                      (matches, "search matches", "diamond-open",
                                       MATCH_COLOUR)):
        if idx is None or not len(idx):
            continue
        total = len(idx)
        idx = np.asarray(idx, np.int64)[:MAX_HIGHLIGHT]
        # the legend counts what is drawn, and says so when that is not all of them
        count = f"{total:,}" if total == len(idx) else f"{len(idx):,} of {total:,} shown"
        out.append((idx, dict(type="scatter3d", mode="markers", name=f"{name} ({count})",
                              marker=dict(size=size + 6, symbol=symbol, color=colour,
                                          line=dict(width=3, color=colour)))))
    return out


def layout_3d(title: str = "", height: int = 560) -> dict:
    """The scene (turntable, equal aspect, no tick labels) with the legend left of it."""
    axis = dict(showticklabels=False, title=dict(text=""), showbackground=False,
                gridcolor="#E5E5E5", zerolinecolor="#CCCCCC", showspikes=False)
    return dict(
        height=height, margin=dict(l=0, r=0, t=10, b=0), uirevision="map3d",
        scene=dict(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="data",
                   domain=dict(x=[LEGEND_WIDTH, 1], y=[0, 1]),    # the legend beside it
                   dragmode="turntable", camera=dict(eye=dict(x=1.1, y=1.1, z=0.75))),
        legend=dict(itemsizing="constant", title=dict(text=html.escape(title)),
                    bgcolor="rgba(255,255,255,0.7)", x=0, y=1, xanchor="left"),
        paper_bgcolor="white")


def figure_3d(xyz: np.ndarray, drawn: np.ndarray, codes: np.ndarray, palette: Sequence[str],
              kind: str = "none", legend: Sequence[tuple[str, str]] = (), title: str = "",
              value_range: tuple[str, str] | None = None,
              selected: np.ndarray | None = None, matches: np.ndarray | None = None,
              names: Callable[[np.ndarray], Sequence[str]] | None = None,
              name_sample: bool = False, overlays: Sequence[dict] = (),
              height: int = 560) -> Any:
    """A plotly Figure of the traces the 3-D view draws (explorer.app.map3d sends the same
    traces to its component, with the positions as a binary buffer).

    xyz [N, 3] the whole catalogue's 3-D coordinates; drawn: catalogue indices to draw (the
    sample); codes uint8 [N] and palette: each product's colour code and the colour of each
    code (explorer.app.mapcomponent.Colours: kind "categorical" with legend [(label, colour)]
    per code, "numeric" whose last code is "missing" and value_range its (lo, hi) labels, or
    "none"); selected / matches: catalogue indices drawn larger and ringed on top (at most
    MAX_HIGHLIGHT each); names(indices) -> a short hover text per index, plain text (escaped
    here), sent for the highlighted products, and for the sample when name_sample (else the
    sample sends no hover text at all); overlays: the photo / path dicts above, drawn last."""
    import plotly.graph_objects as go

    xyz = np.asarray(xyz, np.float32)
    fig = go.Figure()

    def texts(idx: np.ndarray) -> dict:
        if names is None:
            return dict(hoverinfo="skip")
        return dict(text=np.asarray([html.escape(str(t)) for t in names(idx)], object),
                    hovertemplate="%{text}<extra></extra>")

    lit = any(h is not None and len(h) for h in (selected, matches))
    for idx, spec in sample_traces(drawn, codes, palette, kind, legend, title, value_range, lit):
        spec.pop("type")
        fig.add_trace(go.Scatter3d(x=xyz[idx, 0], y=xyz[idx, 1], z=xyz[idx, 2], **spec,
                                   **(texts(idx) if name_sample else dict(hoverinfo="skip"))))
    for idx, spec in highlight_traces(selected, matches, point_size(len(drawn))):
        spec.pop("type")
        fig.add_trace(go.Scatter3d(x=xyz[idx, 0], y=xyz[idx, 1], z=xyz[idx, 2], **spec,
                                   **texts(idx)))
    for o in overlays:
        fig.add_trace(overlay_trace(o))
    fig.update_layout(**layout_3d(title, height))
    return fig


def pack_xyz(xyz: np.ndarray, idx: np.ndarray, frame: tuple[np.ndarray, float]) -> bytes:
    """Catalogue indices idx and their positions as one buffer the 3-D component reads:
    [int32 ids][uint16 x][uint16 y][uint16 z], each axis quantised over the cube of the
    whole map's `frame` (centre [3], half side: frame_3d), so that filtering moves nothing."""
    idx = np.asarray(idx, np.int64)
    centre, half = frame
    p = (np.asarray(xyz, np.float64)[idx] - np.asarray(centre, np.float64)) / half
    q = np.round((np.clip(p, -1.0, 1.0) + 1.0) / 2.0 * 65535).astype("<u2")
    return b"".join([idx.astype("<i4").tobytes()] + [q[:, j].tobytes() for j in range(3)])


def frame_3d(xyz: np.ndarray) -> tuple[np.ndarray, float]:
    """(centre [3], half side) of the cube holding every (finite) point of xyz [N, 3]."""
    a = np.asarray(xyz, np.float64)
    a = a[np.isfinite(a).all(1)]
    if not len(a):
        return np.zeros(3), 1.0
    lo, hi = a.min(0), a.max(0)
    return (lo + hi) / 2, float((hi - lo).max()) / 2 * 1.02 or 1.0


def unpack_xyz(data: bytes, n: int, frame: tuple[np.ndarray, float]
               ) -> tuple[np.ndarray, np.ndarray]:
    """(catalogue ids [n], positions [n, 3]) back from pack_xyz's buffer (what the browser
    does; for tests)."""
    ids = np.frombuffer(data[:4 * n], "<i4").astype(np.int64)
    q = np.frombuffer(data[4 * n:10 * n], "<u2").reshape(3, n).T
    return ids, np.asarray(frame[0]) + (q / 65535 * 2 - 1) * frame[1]


def _cut(label) -> str:
    text = " ".join(str(label).split())
    return text if len(text) <= SHORT else text[:SHORT - 1] + "\u2026"


def _on_canvas(label) -> str:
    """A label drawn in the WebGL scene: plain and short (the scene's text reads <b>, <i> …
    as styling and shows entities as typed, so angle brackets become look-alikes)."""
    return _cut(label).replace("<", "\u2039").replace(">", "\u203a")


def overlay_trace(o: dict) -> Any:
    """One overlay dict (module docstring) -> its Scatter3d trace, with a legend entry."""
    import plotly.graph_objects as go
    p = np.asarray(o["xyz"], np.float64).reshape(-1, 3)
    if not np.isfinite(p).all():
        raise ValueError(f"{o.get('kind')} overlay: positions must be finite numbers")
    xyz = dict(x=p[:, 0], y=p[:, 1], z=p[:, 2])
    if o["kind"] == "photo":
        colour = ov.UNLIKE_COLOUR if o.get("flagged") else ov.PHOTO_COLOUR
        label = str(o["label"])
        return go.Scatter3d(
            **xyz, mode="markers+text", name=html.escape(f"photo: {_cut(label)}"),
            marker=dict(size=16, symbol="diamond", color=colour,
                        line=dict(width=2, color="#111111")),
            text=[_on_canvas(label)] * len(p), textposition="top center",
            textfont=dict(color=colour, size=13), hovertemplate=html.escape(label)
            + ("<br>(unlike this catalogue)" if o.get("flagged") else "") + "<extra></extra>")
    if o["kind"] == "path":
        if len(p) < 2:
            raise ValueError(f"a path needs at least 2 steps, got {len(p)}")
        start, end = str(o["start"]), str(o["end"])
        text = [""] * len(p)
        text[0], text[-1] = _on_canvas(start), _on_canvas(end)
        hover = [f"step {i + 1} of {len(p)}" for i in range(len(p))]
        hover[0], hover[-1] = html.escape(start), html.escape(end)
        return go.Scatter3d(
            **xyz, mode="lines+markers+text",
            name=f"path: {html.escape(_cut(start))}<br>\u2192 {html.escape(_cut(end))}",
            line=dict(color=ov.PATH_COLOUR, width=6),
            marker=dict(size=[9] + [4] * (len(p) - 2) + [9], color=ov.PATH_COLOUR),
            text=text, textposition="top center", textfont=dict(color=ov.PATH_COLOUR, size=12),
            hovertext=hover, hovertemplate="%{hovertext}<extra></extra>")
    raise ValueError(f"unknown 3-D overlay kind {o.get('kind')!r}; known: photo, path")


def nearest(xyz: np.ndarray, candidates: np.ndarray, centre, k: int) -> np.ndarray:
    """The k candidates (catalogue indices) nearest `centre` [3] in the 3-D map xyz [N, 3],
    nearest first (ties by index): what "Select around" in the 3-D view selects."""
    cand = np.asarray(candidates, np.int64)
    k = max(0, min(int(k), len(cand)))
    if not k:
        return cand[:0]
    d = ((np.asarray(xyz, np.float64)[cand] - np.asarray(centre, np.float64)) ** 2).sum(1)
    part = np.argpartition(d, k - 1)[:k] if k < len(cand) else np.arange(len(cand))
    return cand[part[np.lexsort((cand[part], d[part]))]]


def _screen(xyz: np.ndarray, candidates: np.ndarray, clip: Sequence[float]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the candidates as int64, their x, y [n, 2] in normalised device coordinates, whether
    the camera draws each: in front of it, within its near and far planes) under `clip`
    (in_screen_box says what it holds)."""
    cand = np.asarray(candidates, np.int64)
    m = np.asarray(clip, np.float64).reshape(4, 4).T       # column-major -> m @ column vector
    p = np.asarray(xyz, np.float64)[cand]
    h = p @ m[:, :3].T + m[:, 3]
    w = h[:, 3]
    front = w > 1e-12
    ndc = h[:, :3] / np.where(front, w, 1.0)[:, None]
    return cand, ndc[:, :2], front & (np.abs(ndc[:, 2]) <= 1)


def in_screen_box(xyz: np.ndarray, candidates: np.ndarray, clip: Sequence[float],
                  x: Sequence[float], y: Sequence[float]) -> np.ndarray:
    """The candidates (catalogue indices) that a camera draws inside a box on the screen: what
    a box drawn on the 3-D view selects, drawn in the sample or not. xyz [N, 3]: the 3-D map;
    clip: the 16 numbers (column-major, as WebGL's) of the 4x4 matrix taking [x, y, z, 1] in
    the map's coordinates to clip space (map3d.js: projection . view . model . plotly's data
    scale); x, y: the box's corners in normalised device coordinates (-1 .. 1, y up). A point
    behind the camera or past its near or far plane is not drawn, so not in the box."""
    if np.size(clip) != 16 or len(x) != 2 or len(y) != 2:
        raise ValueError("in_screen_box: clip takes 16 numbers, x and y 2 each")
    cand, q, drawn = _screen(xyz, candidates, clip)
    inside = drawn & (q[:, 0] >= min(x)) & (q[:, 0] <= max(x)) \
        & (q[:, 1] >= min(y)) & (q[:, 1] <= max(y))
    return cand[inside]


def in_screen_polygon(xyz: np.ndarray, candidates: np.ndarray, clip: Sequence[float],
                      xs: Sequence[float], ys: Sequence[float]) -> np.ndarray:
    """The candidates that a camera draws inside a polygon on the screen (vertices xs[i],
    ys[i] in normalised device coordinates, closed by itself; even-odd rule): what a lasso
    drawn on the 3-D view selects, drawn in the sample or not. xyz and clip as in_screen_box;
    a point the camera does not draw is not in the lasso."""
    if np.size(clip) != 16 or len(xs) != len(ys) or len(xs) < 3:
        raise ValueError("in_screen_polygon: clip takes 16 numbers, xs and ys as many "
                         f"(at least 3) each; got {np.size(clip)}, {len(xs)}, {len(ys)}")
    cand, q, drawn = _screen(xyz, candidates, clip)
    inside = drawn.copy()
    inside[drawn] = in_polygon(q[drawn], xs, ys)
    return cand[inside]
