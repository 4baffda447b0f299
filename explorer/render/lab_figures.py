"""The disentanglement lab's figures (plotly, no Streamlit): information per latent factor,
factor x attribute associations, MIG per ground-truth factor and a direction's leakage.
Every label that comes from the catalogue or the user goes through `plain`."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.data.schema import FACTOR_PREFIX
from explorer.metrics.information import KL_THRESHOLD, VARIANCE_THRESHOLD

ON, OFF, LINE = "#1f6feb", "#b8c2cc", "#d1242f"


def plain(text) -> str:
    """Catalogue text for a plotly label (plotly renders a subset of HTML)."""
    return html.escape(str(text), quote=False)


def information_figure(labels: list[str], order: list[int], kl: np.ndarray,
                       var: np.ndarray) -> go.Figure:
    """Two bar charts sharing the x axis: mean KL to the prior and variance of the posterior
    means per dimension (in `order`, labelled by `labels`), bars above the thresholds blue."""
    labels = [plain(x) for x in labels]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("Mean KL to the prior (nats)",
                                        "Variance of the posterior means"))
    fig.add_bar(x=labels, y=[float(kl[d]) for d in order], row=1, col=1, name="mean KL",
                marker_color=[ON if kl[d] > KL_THRESHOLD else OFF for d in order],
                hovertemplate="%{x}<br>%{y:.3f} nats<extra></extra>")
    fig.add_hline(y=KL_THRESHOLD, line_dash="dot", line_color=LINE, row=1, col=1,
                  annotation_text=f"active: {KL_THRESHOLD} nats",
                  annotation_position="top right")
    fig.add_bar(x=labels, y=[float(var[d]) for d in order], row=2, col=1,
                name="variance of means",
                marker_color=[ON if var[d] > VARIANCE_THRESHOLD else OFF for d in order],
                hovertemplate="%{x}<br>%{y:.4f}<extra></extra>")
    fig.add_hline(y=VARIANCE_THRESHOLD, line_dash="dot", line_color=LINE, row=2, col=1)
    fig.update_layout(height=520, showlegend=False, bargap=0.25,
                      margin=dict(l=10, r=10, t=40, b=10))
    fig.update_xaxes(tickangle=-40, categoryorder="array", categoryarray=labels)
    return fig


def association_figure(scores: np.ndarray, columns: list[str], row_labels: list[str]
                       ) -> go.Figure:
    """Heat map of scores [rows, columns] in [0, 1], first row at the top."""
    fig = go.Figure(go.Heatmap(
        z=scores, x=[plain(c) for c in columns], y=[plain(r) for r in row_labels],
        zmin=0, zmax=1, colorscale="Blues", colorbar=dict(title="score"),
        hovertemplate="%{y} × %{x}: %{z:.2f}<extra></extra>"))
    fig.update_layout(height=max(320, 26 * len(row_labels) + 140),
                      margin=dict(l=10, r=10, t=10, b=10))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickangle=-45)
    return fig


def mig_figure(results: list[dict]) -> go.Figure | None:
    """Grouped bars of MIG per ground-truth factor, one group per evaluated model (the
    evaluate_bundle results); None when no model has per-factor MIG."""
    fig = go.Figure()
    for res in results:
        for row in res["rows"]:
            per = (row.get("per_factor") or {}).get("mig")
            if not per:
                continue
            fig.add_bar(x=[plain(str(f).removeprefix(FACTOR_PREFIX)) for f in per],
                        y=[float(v) if v is not None else None for v in per.values()],
                        name=plain(f"{res['name']} · {row['model']}"))
    if not fig.data:
        return None
    fig.update_layout(barmode="group", height=360, margin=dict(l=10, r=10, t=10, b=10),
                      yaxis_title="MIG", legend=dict(orientation="h", y=1.1))
    fig.update_xaxes(tickangle=-45)
    return fig


def leakage_figure(df: pd.DataFrame) -> go.Figure:
    """Horizontal bars of each attribute's max change (explorer.latent.leakage.leakage),
    the target attribute red."""
    fig = go.Figure(go.Bar(
        x=df["max_change"], y=[plain(a) for a in df["attribute"]], orientation="h",
        marker_color=[LINE if t else ON for t in df["target"]],
        hovertemplate="%{y}: %{x:.2f}<extra></extra>"))
    fig.update_layout(height=max(240, 24 * len(df) + 80), xaxis_title="max change",
                      xaxis_range=[0, 1], margin=dict(l=10, r=10, t=10, b=10))
    fig.update_yaxes(autorange="reversed")
    return fig
