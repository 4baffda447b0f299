"""Does a click on a 3-D plotly point reach Streamlit through st.plotly_chart? (issue 17: why
the 3-D view is its own component, explorer/app/map_frontend/map3d.js, which reports clicks.)

Serves a two-point chart with st.plotly_chart(on_select="rerun", selection_mode="points"),
clicks the point at the middle in headless Chromium, and prints what plotly.js emitted
(plotly_click, listened to in the page) beside what the script received, for a 2-D scatter
(the control) and a Scatter3d seen from above.

    python3 bench/probe_click3d.py

Seen with Streamlit 1.67: 2-D: plotly_click and the app gets point 0; 3-D: plotly_click fires
(pointNumber 0, customdata, id) but the app gets an empty selection: Streamlit's click handler
keeps only points with an `id` and a `parent` (sunburst, treemap, icicle), and 3-D scenes emit
no plotly_selected.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.appserver import CHROMIUM, CHROMIUM_FLAGS, start_app, stop_app, wait_idle  # noqa: E402

APP = '''
import plotly.graph_objects as go
import streamlit as st

if st.query_params.get("kind") == "3d":
    fig = go.Figure(go.Scatter3d(x=[0, 1], y=[0, 1], z=[0, 1], mode="markers", ids=["a", "b"],
                                 customdata=[10, 11], marker=dict(size=40)))
    fig.update_layout(scene=dict(camera=dict(eye=dict(x=0, y=0, z=2.5)),
                                 xaxis=dict(range=[-1, 1]), yaxis=dict(range=[-1, 1]),
                                 zaxis=dict(range=[-1, 1])))
else:
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="markers", customdata=[10, 11],
                               marker=dict(size=40)))
    fig.update_layout(xaxis=dict(range=[-1, 1]), yaxis=dict(range=[-1, 1]))
fig.update_layout(width=500, height=500, margin=dict(l=0, r=0, t=0, b=0))
ev = st.plotly_chart(fig, key="c", on_select="rerun", selection_mode="points")
st.text("EVENT " + repr(ev.selection.point_indices) + " " + repr(ev.selection.points))
'''

LISTEN = """() => { window.clicks = [];
    document.querySelector('.js-plotly-plot').on('plotly_click', (e) => window.clicks.push(
        e.points.map(p => ({pointNumber: p.pointNumber, customdata: p.customdata, id: p.id,
                            parent: p.parent ?? null})))); }"""


def main() -> int:
    import streamlit
    from playwright.sync_api import sync_playwright
    tmp = Path(tempfile.mkdtemp(prefix="kickspace-click3d-"))
    (tmp / "probe.py").write_text(APP)
    proc, url = start_app(script=tmp / "probe.py", cwd=tmp, log=tmp / "server.log")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            for kind in ("2d", "3d"):
                page = browser.new_page(viewport={"width": 900, "height": 800})
                page.goto(f"{url}/?kind={kind}")
                plot = page.locator(".js-plotly-plot").first
                plot.wait_for(timeout=60_000)
                wait_idle(page, 60)
                time.sleep(2)
                page.evaluate(LISTEN)
                box = plot.bounding_box()          # the point at (0, 0[, 0]) is in the middle
                cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
                page.mouse.move(cx - 5, cy - 5)
                time.sleep(0.5)
                page.mouse.move(cx, cy)
                time.sleep(1.0)
                page.mouse.down()
                page.mouse.up()
                time.sleep(3)
                wait_idle(page, 60)
                print(f"{kind}: plotly_click {page.evaluate('() => window.clicks')}; "
                      f"the app got {page.get_by_text('EVENT').first.inner_text()}")
                page.close()
            browser.close()
    finally:
        stop_app(proc)
    print(f"(streamlit {streamlit.__version__})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
