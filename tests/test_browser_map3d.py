"""The catalogue map's 3-D view (explorer/app/map_frontend/map3d.js, a component on plotly.js
gl3d) in a real headless Chromium: "Select around" a search match, and a hover showing a
product's picture and name, a click selecting it. Both slow (a 3-D page load each, ~20 s at
load 4): python3 -m pytest -m slow tests/test_browser_map3d.py

Mouse input is dispatched inside the component's frame (bench/mapdrive.py says why); the
server and browser fixtures are test_browser_map's and test_browser's.
"""
from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlparse

import pytest

from bench import mapdrive
from tests.test_browser import (assert_no_exception, browser, chromium_path_module,  # noqa: F401
                                server, shots, wait_idle)
from tests.test_browser_map import _selected, map_server  # noqa: F401
from tests.helpers import sidebar_link

pytestmark = pytest.mark.browser


def _open_3d(page, map_server: str, query: str = ""):
    """The map page in 3-D (after the home page, whose first run teaches the server the page
    routes), its scripts settled and no exception shown: -> the 3-D view's frame."""
    page.goto(map_server + "/")
    sidebar_link(page, "Catalogue map").wait_for(timeout=120_000)
    wait_idle(page, 120)
    page.goto(f"{map_server}/catalogue_map?dims=3-D{query}")
    frame = mapdrive.map3d_frame(page)
    wait_idle(page, 180)
    assert_no_exception(page, "catalogue_map in 3-D")
    return frame


def _ringed(page, n: int):
    """(the 3-D view's frame, the products it rings as selected) once its legend says n."""
    frame = mapdrive.map3d_frame(page)
    frame.locator(".legendtext").filter(has_text=f"selected ({n:,})").first.wait_for(
        timeout=60_000)
    return frame, set(frame.evaluate("""() => { const k = kickspace3d;
        const t = k.data.findIndex((d) => (d.name || '').startsWith('selected'));
        return Array.from(k.traceIds()[t]); }"""))


@pytest.mark.slow
def test_3d_view_selects_around_a_search_match_into_the_url(map_server, browser,  # noqa: F811
                                                            shots):  # noqa: F811
    """View: 3-D with a search for one SKU: "Select them" selects the 25 products nearest it in
    the stored 3-D UMAP, the 3-D legend counts them, the URL keeps them (`sel`, SKUs, the
    match first) and a reload restores the selection. Slow (~40 s: two 3-D page loads):
    python3 -m pytest -m slow tests/test_browser_map.py -k 3d_view"""
    from explorer.app import cache
    from explorer.bundle.core import load_bundle
    sku = str(load_bundle(cache.DEFAULT_BUNDLE, check_hashes=False).metadata["sku"][42])
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    frame = _open_3d(page, map_server, f"&q={sku}")
    page.get_by_role("button", name="Select them").click()
    assert _selected(page) == 25
    legend = frame.locator(".legendtext").filter(has_text="selected (25)")
    legend.first.wait_for(timeout=60_000)
    deadline = time.time() + 30
    while "sel=" not in page.url and time.time() < deadline:
        time.sleep(0.3)
    sel = json.loads(parse_qs(urlparse(page.url).query)["sel"][0])
    assert sel["kind"] == "skus" and len(sel["skus"]) == 25 and sel["skus"][0] == sku
    page.screenshot(path=str(shots / "catalogue_map_3d_select_around.png"))
    page.reload()
    frame = mapdrive.map3d_frame(page)
    assert _selected(page) == 25
    frame.locator(".legendtext").filter(has_text="selected (25)").first.wait_for(timeout=60_000)
    assert "dims=3-D" in page.url
    page.close()


@pytest.mark.slow
def test_3d_view_hover_shows_the_product_and_a_click_selects_it(map_server, browser,  # noqa: F811
                                                                shots):  # noqa: F811
    """View: 3-D (the component on plotly.js gl3d): hovering a drawn product shows the 2-D
    map's tooltip (its picture and name), a click on it selects it: "1 product selected", its
    SKU in the URL's `sel`, "selected (1)" in the 3-D legend; a click on empty space clears
    it again; a box (Box mode) selects every filtered product drawn inside it. The product is
    found where the cloud is thin, at the screen position the scene's own camera gives
    (kickspace3d.screenOf). Slow (~40 s at load 4: the 3-D page load and a rerun):
    python3 -m pytest -m slow tests/test_browser_map3d.py -k click_selects"""
    from explorer.app import cache
    from explorer.bundle.core import load_bundle
    md = load_bundle(cache.DEFAULT_BUNDLE, check_hashes=False).metadata
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    frame = _open_3d(page, map_server, "")
    assert page.get_by_text("Nothing selected yet").count() == 1
    got, x, y = -1, 0.0, 0.0
    for _, x, y in mapdrive.isolated3d(frame):
        mapdrive.hover3d(frame, 2, 2, settle=0.2)             # off the scene: no product
        got = mapdrive.hover3d(frame, x, y)
        if got >= 0:
            break
    assert got >= 0, "no drawn product under the mouse at any thin spot"
    gx, gy = mapdrive.point3d_px(frame, got)
    assert abs(gx - x) < 6 and abs(gy - y) < 6               # the one drawn under the mouse
    name = str(md["name"][got])
    deadline = time.time() + 60                              # its shard comes after a rerun
    while name not in frame.locator("#tiptext").inner_text() and time.time() < deadline:
        time.sleep(0.5)
        mapdrive.hover3d(frame, x, y, settle=0.3)
    assert frame.locator("#tip").is_visible()
    assert name in frame.locator("#tiptext").inner_text()
    assert str(md["sku"][got]) in frame.locator("#tiptext").inner_text()
    assert frame.evaluate("""() => { const d = document.getElementById('tipimg').getContext('2d')
        .getImageData(0, 0, 96, 96).data; let k = 0;
        for (let i = 0; i < d.length; i += 4) k += d[i] !== 0xf4 || d[i + 1] !== 0xf4;
        return k; }""") > 500                                 # the picture is drawn in it
    page.screenshot(path=str(shots / "catalogue_map_3d_hover.png"))

    mapdrive.click3d(frame, x, y)
    assert _selected(page) == 1
    deadline = time.time() + 30
    while "sel=" not in page.url and time.time() < deadline:
        time.sleep(0.3)
    sel = json.loads(parse_qs(urlparse(page.url).query)["sel"][0])
    assert sel == {"kind": "skus", "skus": [str(md["sku"][got])]}
    frame = mapdrive.map3d_frame(page)
    frame.locator(".legendtext").filter(has_text="selected (1)").first.wait_for(timeout=60_000)
    assert_no_exception(page, "catalogue_map in 3-D after a click")

    # a click on empty space (the scene's bottom right corner, nothing picked there) clears
    # the selection: in Python, in the URL and in the view's legend
    w, h = frame.evaluate("() => { const r = document.getElementById('wrap')"
                          ".getBoundingClientRect(); return [r.width, r.height]; }")
    assert frame.evaluate("([x, y]) => { const r = document.getElementById('wrap')"
                          ".getBoundingClientRect(); return document.elementFromPoint("
                          "r.left + x, r.top + y).tagName; }", [w - 8, h - 8]) == "CANVAS"
    assert mapdrive.hover3d(frame, w - 8, h - 8) == -1
    mapdrive.click3d(frame, w - 8, h - 8)
    page.get_by_text("Nothing selected yet").wait_for(timeout=90_000)
    wait_idle(page, 60)
    assert "sel" not in parse_qs(urlparse(page.url).query)
    frame = mapdrive.map3d_frame(page)
    frame.locator(".legendtext").filter(has_text="selected (").first.wait_for(
        state="detached", timeout=60_000)
    assert_no_exception(page, "catalogue_map in 3-D after a click on empty space")

    # Box: a box dragged around the middle of the cloud selects every filtered product the
    # camera draws inside it: each drawn one inside (projected here with the same camera) is
    # selected, and about as many again of the products not drawn (20,000 of 30,000 are)
    frame.locator("button[data-mode='box']").click()
    mx, my = w * 0.6, h * 0.5
    box = [mx - 40, my - 30, mx + 40, my + 30]
    inside = frame.evaluate("""([x0, y0, x1, y1]) => { const k = kickspace3d, out = [];
        k.traceIds().forEach((ids, t) => { const d = k.data[t];
            if (!ids || (d.name || '').startsWith('selected')) return;
            for (let i = 0; i < ids.length; i++) { const [x, y] = k.project(d.x[i], d.y[i], d.z[i]);
                if (x >= x0 && x <= x1 && y >= y0 && y <= y1) out.push(ids[i]); } });
        return out; }""", box)
    assert len(inside) > 20
    mapdrive.drag3d(frame, *box)
    n = _selected(page)
    assert len(inside) <= n <= 2 * len(inside) + 20, (len(inside), n)
    frame, ringed = _ringed(page, n)
    assert set(inside) <= ringed
    deadline = time.time() + 30
    while "sel=" not in page.url and time.time() < deadline:
        time.sleep(0.3)
    assert json.loads(parse_qs(urlparse(page.url).query)["sel"][0])["kind"] == "box3d"
    page.screenshot(path=str(shots / "catalogue_map_3d_box.png"))
    assert_no_exception(page, "catalogue_map in 3-D after a box")
    page.close()


@pytest.mark.slow
def test_3d_view_lasso_selects_inside_a_concave_outline(map_server, browser,  # noqa: F811
                                                       shots):  # noqa: F811
    """View: 3-D, Lasso mode: a C-shaped outline dragged over the middle of the cloud selects
    every drawn product the camera draws inside the C (projected here with the scene's own
    camera), none drawn in the C's notch (inside its bounding box), about as many again of
    the products not drawn; the URL keeps the lasso (`sel` kind lasso3d, its ~320 points
    thinned to at most 120). Slow (~30 s at
    load 4: a 3-D page load and a rerun):
    python3 -m pytest -m slow tests/test_browser_map3d.py -k lasso"""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    frame = _open_3d(page, map_server, "")
    frame.locator("button[data-mode='lasso']").click()
    assert frame.evaluate("() => document.body.dataset.mode") == "lasso"
    w, h = frame.evaluate("() => { const r = document.getElementById('wrap')"
                          ".getBoundingClientRect(); return [r.width, r.height]; }")
    mx, my, r, g = w * 0.6, h * 0.5, 60.0, 20.0       # a square of side 2r less a notch
    c = [(mx - r, my - r), (mx + r, my - r), (mx + r, my - g), (mx - g, my - g),
         (mx - g, my + g), (mx + r, my + g), (mx + r, my + r), (mx - r, my + r)]
    drawn = frame.evaluate("""() => { const k = kickspace3d, out = [];
        k.traceIds().forEach((ids, t) => { const d = k.data[t];
            if (!ids || (d.name || '').startsWith('selected')) return;
            for (let i = 0; i < ids.length; i++)
                out.push([ids[i], ...k.project(d.x[i], d.y[i], d.z[i])]); });
        return out; }""")
    m = 6                      # px off the outline, either way (thinning cuts its corners)

    def in_square(x, y, e):
        return abs(x - mx) < r - e and abs(y - my) < r - e

    def in_notch(x, y, e):
        return x > mx - g + e and abs(y - my) < g - e
    inside = {i for i, x, y in drawn if in_square(x, y, m) and not in_notch(x, y, -m)}
    notch = {i for i, x, y in drawn if in_square(x, y, m) and in_notch(x, y, m)}
    near = {i for i, x, y in drawn if in_square(x, y, -m) and not in_notch(x, y, m)}
    assert len(inside) > 20 and len(notch) > 3, (len(inside), len(notch))
    mapdrive.lasso3d(frame, c, step=2.0)           # ~320 moves: thinned to at most 120
    n = _selected(page)
    assert len(inside) <= n <= 2 * len(near) + 40, (len(inside), len(near), n)
    frame, ringed = _ringed(page, n)
    assert inside <= ringed and not notch & ringed
    deadline = time.time() + 30
    while "sel=" not in page.url and time.time() < deadline:
        time.sleep(0.3)
    sel = json.loads(parse_qs(urlparse(page.url).query)["sel"][0])
    assert sel["kind"] == "lasso3d" and 80 <= len(sel["x"]) == len(sel["y"]) <= 120
    page.screenshot(path=str(shots / "catalogue_map_3d_lasso.png"))
    assert_no_exception(page, "catalogue_map in 3-D after a lasso")
    # Shift held on a Box beside the C (the side with the most drawn products) adds what it
    # holds to the lasso's products
    frame.locator("button[data-mode='box']").click()

    def in_box(b, e):
        return {i for i, x, y in drawn if b[0] + e < x < b[2] - e and b[1] + e < y < b[3] - e}
    d = r + 20
    box = max(([mx - d - 90, my - 45, mx - d, my + 45], [mx + d, my - 45, mx + d + 90, my + 45],
               [mx - 45, my - d - 90, mx + 45, my - d], [mx - 45, my + d, mx + 45, my + d + 90]),
              key=lambda b: len(in_box(b, m)))
    boxed = in_box(box, m)
    assert len(boxed) > 10 and not boxed & ringed
    mapdrive.drag3d(frame, *box, keys="shift")
    deadline = time.time() + 90
    while _selected(page) == n and time.time() < deadline:
        time.sleep(0.5)
    n2 = _selected(page)
    assert n2 >= n + len(boxed), (n, len(boxed), n2)
    frame, ringed = _ringed(page, n2)
    assert inside | boxed <= ringed and not notch & ringed
    deadline = time.time() + 30
    while '"steps"' not in page.url.replace("%22", '"') and time.time() < deadline:
        time.sleep(0.3)
    sel = json.loads(parse_qs(urlparse(page.url).query)["sel"][0])
    assert [s["kind"] for s in sel["steps"]] == ["lasso3d", "box3d"]
    assert sel["steps"][1]["op"] == "add"
    page.close()
