"""The catalogue map in a real headless Chromium: the WebGL component draws, hover shows a
product's picture and text (catalogue text as text, never HTML), a box drag and a click select
products in Python, the URL keeps the selection and a reload restores it.

Mouse input is dispatched inside the component's frame (bench/mapdrive.py says why). Reuses
the server and browser fixtures of tests/test_browser.py; tags go to a temporary folder.
Screenshots go to $KICKSPACE_SCREENSHOTS (default: pytest's tmp folder).
"""
from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

import pytest

from bench import mapdrive
from tests.test_browser import (assert_no_exception, browser, chromium_path_module,  # noqa: F401
                                server, shots, wait_idle)

pytestmark = pytest.mark.browser
HOSTILE = ["<img src=x onerror=\"window.__pwned=1\">", "<b>SKU-1</b>", "https://evil.example"]


@pytest.fixture(scope="module")
def map_server(request, tmp_path_factory):
    """test_browser's server, started with its tag database in a temporary folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KICKSPACE_DATA_DIR", str(tmp_path_factory.mktemp("tags")))
        mp.delenv("KICKSPACE_ANNOTATIONS_DB", raising=False)
        return request.getfixturevalue("server")


def _open_map(browser, url: str, query: str = "", viewport=(1400, 1600)):  # noqa: F811
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    page.goto(url + "/")
    # the server learns app.py's page routes (st.navigation) on its first run: wait for them
    page.get_by_role("link", name="Catalogue map", exact=True).wait_for(timeout=120_000)
    wait_idle(page, 120)
    page.goto(f"{url}/catalogue_map{query}")
    wait_idle(page, 180)
    page.get_by_role("heading", name="Catalogue map").first.wait_for(timeout=60_000)
    frame = mapdrive.map_frame(page)
    assert_no_exception(page, "catalogue_map")
    return page, frame


def _selected(page) -> int:
    counter = page.get_by_text(re.compile(r"[\d,]+ products selected"))
    counter.first.wait_for(timeout=90_000)
    wait_idle(page, 90)
    return int(counter.first.inner_text().split(" products")[0].replace(",", ""))


def _tip(frame, index: int, want, timeout: float = 60.0) -> tuple[int, str]:
    """Hover at product `index` until the tooltip shows want(hovered product) (its shard may
    still be loading) -> (the product under the mouse, the tooltip's text). In a dense map the
    product under the mouse may be a neighbour drawn on top."""
    deadline = time.time() + timeout
    text, got = "", -1
    while time.time() < deadline:
        mapdrive.hover(frame, 2, 2)                      # off any product: the tip closes
        mapdrive.hover(frame, *mapdrive.point_px(frame, index))
        time.sleep(0.5)
        got = frame.evaluate("() => kickspaceMap.hovered")
        text = frame.locator("#tiptext").inner_text()
        if got >= 0 and want(got) in text:
            return got, text
    raise AssertionError(f"tooltip shows {text!r} for product {got}")


def test_hover_select_url_and_reload(map_server, browser, shots):  # noqa: F811
    page, frame = _open_map(browser, map_server, "?proj=PCA&colour=brand")
    assert frame.evaluate("() => document.body.dataset.drawn") == "30000"
    assert page.get_by_text("Nothing selected yet").count() == 1
    page.screenshot(path=str(shots / "catalogue_map.png"))

    # hover: the product's own name, SKU and brand, and its picture drawn in the tooltip
    from explorer.app import cache
    from explorer.bundle.core import load_bundle
    md = load_bundle(cache.DEFAULT_BUNDLE, check_hashes=False).metadata
    got, text = _tip(frame, 5, lambda i: str(md["sku"][i]))
    assert str(md["name"][got]) in text and str(md["brand"][got]) in text
    painted = frame.evaluate("""() => { const c = document.getElementById('tipimg');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 200) n++; return n; }""")
    assert painted > 50, "no picture in the tooltip"

    # hostile catalogue text in the tooltip stays text: no element made, no script run
    frame.evaluate("([i, rows]) => { kickspaceMap.shards.get(Math.floor(i / 1024))"
                   ".meta[i % 1024] = rows; kickspaceMap.refreshTip(); }", [got, HOSTILE])
    text = frame.locator("#tiptext").inner_text()
    assert HOSTILE[0] in text and HOSTILE[1] in text
    assert frame.evaluate("() => document.querySelectorAll('#tiptext img, #tiptext a').length "
                          "+ document.querySelectorAll('#tiptext b b').length") == 0
    assert frame.evaluate("() => window.__pwned === undefined")

    # a box drag selects in the browser and in Python, the same products
    w, h = mapdrive.size(frame)
    mapdrive.mode(frame, "rectangle")
    mapdrive.drag(frame, w * 0.35, h * 0.3, w * 0.65, h * 0.7)
    n = _selected(page)
    assert n > 0 and n == frame.evaluate("() => kickspaceMap.plot.get('selectedPoints').length")
    assert_no_exception(page, "catalogue_map after a box selection")
    sel = parse_qs(urlparse(page.url).query)["sel"][0]
    assert '"kind":"box"' in sel
    page.screenshot(path=str(shots / "catalogue_map_selected.png"))

    # a click selects one product
    mapdrive.mode(frame, "panZoom")
    deadline = time.time() + 90
    while time.time() < deadline:
        mapdrive.click(frame, *mapdrive.point_px(frame, 7))
        time.sleep(1.0)
        if _selected(page) == 1:
            break
    assert _selected(page) == 1
    clicked = frame.evaluate("() => kickspaceMap.plot.get('selectedPoints')")   # 7 or the
    assert len(clicked) == 1                                 # neighbour drawn over it
    # the reload keeps it
    page.reload()
    wait_idle(page, 120)
    frame = mapdrive.map_frame(page)
    assert _selected(page) == 1
    deadline = time.time() + 30
    while frame.evaluate("() => kickspaceMap.plot.get('selectedPoints').length") != 1 and \
            time.time() < deadline:
        time.sleep(0.3)
    assert frame.evaluate("() => kickspaceMap.plot.get('selectedPoints')") == clicked

    # zooming in: pictures replace the points, and the view goes into the URL
    x, y = mapdrive.point_px(frame, 5)
    deadline = time.time() + 90
    while time.time() < deadline:
        d = frame.evaluate("() => kickspaceMap.plot.get('cameraDistance')")
        if d > 0.025:
            mapdrive.wheel(frame, x, y, -250)
        time.sleep(0.4)
        if int(frame.evaluate("() => document.body.dataset.thumbs || '0'")) > 0 and \
                "view" in parse_qs(urlparse(page.url).query):
            break
    assert int(frame.evaluate("() => document.body.dataset.thumbs")) > 0, "no pictures"
    wait_idle(page, 60)
    assert "view" in parse_qs(urlparse(page.url).query)
    page.screenshot(path=str(shots / "catalogue_map_zoomed.png"))

    page.close()


def test_phone_layout_keeps_the_legend_off_the_map(map_server, browser, shots):  # noqa: F811
    page, frame = _open_map(browser, map_server, "?proj=PCA&colour=brand", viewport=(390, 844))
    wrap = frame.locator("#wrap").bounding_box()
    legend = frame.locator("#legend").bounding_box()
    assert legend["y"] >= wrap["y"] + wrap["height"] - 1       # below the map, not over it
    assert wrap["width"] <= 390
    # the whole map fits the narrow canvas: the first and last products across are in view
    xs = frame.evaluate("""() => { const m = kickspaceMap, a = m.plot.get('points');
        let lo = 0, hi = 0; for (let i = 0; i < a.length; i++) {
          if (a[i][0] < a[lo][0]) lo = i; if (a[i][0] > a[hi][0]) hi = i; }
        return [m.screenOf(lo)[0], m.screenOf(hi)[0], m.plot.get('cameraDistance')]; }""")
    assert 0 <= xs[0] and xs[1] <= wrap["width"], xs
    page.screenshot(path=str(shots / "catalogue_map_phone.png"), full_page=True)
    page.close()
