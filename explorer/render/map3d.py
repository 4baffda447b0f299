"""The catalogue map's 3-D view: a rotatable plotly Scatter3d (WebGL) of a sample of the
catalogue, coloured like the 2-D map, with the selection and the search matches on top.

Kept compact on purpose (issue 17: the old plotly map sent 3.85 MB, one hover string per
point): coordinates go as float32 typed arrays, points are one trace per colour, and hover
text is sent only for the few highlighted products (and for the sample when it is small).
Every catalogue string is HTML-escaped (plotly renders hover and legend text as markup).
"""
from __future__ import annotations

import html
from typing import Any, Callable, Sequence

import numpy as np

SELECTED_COLOUR = "#D62728"
MATCH_COLOUR = "#111111"
MAX_HIGHLIGHT = 5_000           # selected / matching products drawn on top, at most


def _label(legend_label: str) -> str:
    """'brand X (1,234)' -> 'brand X': the 2-D legend counts the whole catalogue."""
    head, sep, tail = legend_label.rpartition(" (")
    return head if sep and tail.endswith(")") and tail[:-1].replace(",", "").isdigit() \
        else legend_label


def figure_3d(xyz: np.ndarray, drawn: np.ndarray, codes: np.ndarray, palette: Sequence[str],
              kind: str = "none", legend: Sequence[tuple[str, str]] = (), title: str = "",
              value_range: tuple[str, str] | None = None,
              selected: np.ndarray | None = None, matches: np.ndarray | None = None,
              names: Callable[[np.ndarray], Sequence[str]] | None = None,
              name_sample: bool = False, height: int = 560) -> Any:
    """A plotly Figure of Scatter3d traces.

    xyz [N, 3] the whole catalogue's 3-D coordinates; drawn: catalogue indices to draw (the
    sample); codes uint8 [N] and palette: each product's colour code and the colour of each
    code (explorer.app.mapcomponent.Colours: kind "categorical" with legend [(label, colour)]
    per code, "numeric" whose last code is "missing" and value_range its (lo, hi) labels, or
    "none"); selected / matches: catalogue indices drawn larger and ringed on top (at most
    MAX_HIGHLIGHT each); names(indices) -> a short hover text per index, plain text (escaped
    here), sent for the highlighted products, and for the sample when name_sample (else the
    sample sends no hover text at all)."""
    import plotly.graph_objects as go

    xyz = np.asarray(xyz, np.float32)
    drawn = np.asarray(drawn, np.int64)
    codes = np.asarray(codes)
    size = 3.0 if len(drawn) <= 5_000 else 2.2 if len(drawn) <= 20_000 else 1.6
    fig = go.Figure()

    def texts(idx: np.ndarray) -> dict:
        if names is None:
            return dict(hoverinfo="skip")
        return dict(text=np.asarray([html.escape(str(t)) for t in names(idx)], object),
                    hovertemplate="%{text}<extra></extra>")

    def add(idx: np.ndarray, name: str, marker: dict, showlegend: bool = True,
            hover_ok: bool = False) -> None:
        fig.add_trace(go.Scatter3d(
            x=xyz[idx, 0], y=xyz[idx, 1], z=xyz[idx, 2], mode="markers",
            name=html.escape(name), showlegend=showlegend, marker=marker,
            **(texts(idx) if hover_ok else dict(hoverinfo="skip"))))

    sample_hover = bool(name_sample)
    # highlights on top: dim the sample so that ringed products inside the cloud show through
    lit = any(h is not None and len(h) for h in (selected, matches))
    dim = dict(opacity=0.35) if lit else {}
    dc = codes[drawn]
    if kind == "categorical":
        for code in np.unique(dc):
            idx = drawn[dc == code]
            label = _label(legend[code][0]) if code < len(legend) else str(code)
            add(idx, f"{label} ({len(idx):,})", dict(size=size, color=palette[code], **dim),
                hover_ok=sample_hover)
    elif kind == "numeric":
        missing = len(palette) - 1
        bins = palette[:missing]
        ok = dc < missing
        if (~ok).any():
            add(drawn[~ok], f"(missing) ({int((~ok).sum()):,})",
                dict(size=size, color=palette[missing], **dim), hover_ok=sample_hover)
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
                showlegend=False, hover_ok=sample_hover)
    else:
        add(drawn, f"products ({len(drawn):,})", dict(size=size, color=palette[0], **dim),
            hover_ok=sample_hover)

    for idx, name, symbol, colour in ((selected, "selected", "circle-open", SELECTED_COLOUR),
                                      (matches, "search matches", "diamond-open",
                                       MATCH_COLOUR)):
        if idx is None or not len(idx):
            continue
        idx = np.asarray(idx, np.int64)[:MAX_HIGHLIGHT]
        fig.add_trace(go.Scatter3d(
            x=xyz[idx, 0], y=xyz[idx, 1], z=xyz[idx, 2], mode="markers",
            name=f"{name} ({len(idx):,})", marker=dict(
                size=size + 6, symbol=symbol, color=colour, line=dict(width=3, color=colour)),
            **texts(idx)))

    axis = dict(showticklabels=False, title=dict(text=""), showbackground=False,
                gridcolor="#E5E5E5", zerolinecolor="#CCCCCC", showspikes=False)
    fig.update_layout(
        height=height, margin=dict(l=0, r=0, t=10, b=0), uirevision="map3d",
        scene=dict(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="data",
                   dragmode="turntable", camera=dict(eye=dict(x=1.1, y=1.1, z=0.75))),
        legend=dict(itemsizing="constant", title=dict(text=html.escape(title)),
                    bgcolor="rgba(255,255,255,0.7)", x=0, y=1, xanchor="left"),
        paper_bgcolor="white")
    return fig
