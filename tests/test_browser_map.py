"""The catalogue map in a real headless Chromium: draw the map, drag a box selection with the
mouse, and see the selected products' grid with its count.

Reuses the server and browser fixtures of tests/test_browser.py; tags go to a temporary
folder. Screenshots go to $KICKSPACE_SCREENSHOTS (default: pytest's tmp folder).
"""
from __future__ import annotations

import re
import time

import pytest

from tests.test_browser import (assert_no_exception, browser, chromium_path_module,  # noqa: F401
                                server, shots, wait_idle)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def map_server(request, tmp_path_factory):
    """test_browser's server, started with its tag database in a temporary folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KICKSPACE_DATA_DIR", str(tmp_path_factory.mktemp("tags")))
        mp.delenv("KICKSPACE_ANNOTATIONS_DB", raising=False)
        return request.getfixturevalue("server")


def _open_map(browser, url: str, query: str = ""):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    page.goto(url + "/")
    # the server learns app.py's page routes (st.navigation) on its first run: wait for them
    page.get_by_role("link", name="Catalogue map", exact=True).wait_for(timeout=120_000)
    wait_idle(page, 120)
    page.goto(f"{url}/catalogue_map{query}")
    wait_idle(page, 180)
    page.get_by_role("heading", name="Catalogue map").first.wait_for(timeout=60_000)
    page.wait_for_selector(".js-plotly-plot .nsewdrag", timeout=60_000)
    assert_no_exception(page, "catalogue_map")
    return page


def test_box_selection_shows_a_paged_grid(map_server, browser, shots):  # noqa: F811
    page = _open_map(browser, map_server, "?colour=brand")
    assert page.get_by_text("Nothing selected yet").count() == 1
    page.screenshot(path=str(shots / "catalogue_map.png"))
    cards = page.locator("[data-testid='stMain'] [data-testid='stImage']")
    # the cluster strips may still be arriving: count them once the page has settled
    before, stable_since = cards.count(), time.time()
    deadline = time.time() + 30
    while time.time() - stable_since < 3 and time.time() < deadline:
        time.sleep(0.3)
        now = cards.count()
        if now != before:
            before, stable_since = now, time.time()

    drag = page.locator(".js-plotly-plot .nsewdrag").first
    box = drag.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25
    x1, y1 = box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.75
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()

    counter = page.get_by_text(re.compile(r"[\d,]+ products selected"))
    counter.first.wait_for(timeout=60_000)
    wait_idle(page, 60)
    assert_no_exception(page, "catalogue_map after a box selection")
    n = int(counter.first.inner_text().split(" products")[0].replace(",", ""))
    assert n > 0
    # the grid: one card per product on the first page (at most 30), paged when more
    deadline = time.time() + 30
    while cards.count() - before < min(n, 30) and time.time() < deadline:
        time.sleep(0.2)
    assert cards.count() - before >= min(n, 30)
    if n > 30:
        assert page.get_by_text(re.compile(r"Page \(of [\d,]+")).count() >= 1
    page.screenshot(path=str(shots / "catalogue_map_selected.png"))
    page.close()
