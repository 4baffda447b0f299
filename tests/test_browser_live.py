"""Decoding in the browser (explorer.app.live_decoder), in a real headless Chromium.

The sliders page decodes with onnxruntime-web while a slider is dragged: the pixels match the
server's decode, nothing reaches the server until release, the URL is replaced in place (Back
returns to the page as it was left), a phone keeps the picture in view (the home page's hero
and its first control above the fold too, and kept across a rerun), the arithmetic page
draws its equation, its download and the 5 closest products in the browser (a weight's release
sends the server nothing), and without WebAssembly the server's picture is shown instead.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from bench.appserver import CHROMIUM_FLAGS, start_app, stop_app, wait_idle
from bench.bench_live import WS_COUNTER
from explorer.latent.index import LatentIndex
from explorer.latent.ops import combine

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.browser

ROOT = ("(() => { for (const x of document.querySelectorAll('*')) { if (x.shadowRoot) {"
        " const r = x.shadowRoot.querySelector('.ks-live'); if (r) return r; } } return null })()")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc, url = start_app(log=tmp_path_factory.mktemp("server") / "server.log", timeout=90,
                          env={"KICKSPACE_DATA_DIR": str(tmp_path_factory.mktemp("data"))})
    yield url
    stop_app(proc)


@pytest.fixture(scope="module")
def browser(request):
    chromium = request.getfixturevalue("chromium_path")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        br = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield br
        br.close()


@pytest.fixture(scope="module")
def chromium_path():   # module-scoped twin of conftest's fixture
    from tests.conftest import CHROMIUM, require_system
    present = Path(CHROMIUM).is_file()
    require_system(present, f"Chromium ({CHROMIUM})", "apt-get install chromium chromium-driver")
    pytest.importorskip("playwright")
    return CHROMIUM


@pytest.fixture(scope="module")
def demo():
    from explorer.app import cache
    from explorer.bundle.core import load_bundle
    from explorer.metrics.information import dimension_order
    b = load_bundle(cache.DEFAULT_BUNDLE, check_hashes=False)
    return b, [int(d) for d in dimension_order(b.mu, b.logvar)]


def _unit(b) -> np.ndarray:
    """One slider unit per dimension: the catalogue's spread (what the sliders page uses)."""
    from explorer.latent.ops import factor_scale
    return factor_scale(b.mu, b.logvar)


def _state(page) -> dict:
    return page.evaluate(f"""() => {{ const r = {ROOT}; if (!r) return null;
        return {{mode: r.dataset.mode, frames: Number(r.dataset.frames || 0),
                 server: Number(r.dataset.server || 0), z: r.dataset.z || null,
                 values: [...r.querySelectorAll('input.ks-range')]
                         .map(i => Number(i.value))}} }}""")


def _wait(page, cond, what: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    st = None
    while time.monotonic() < deadline:
        st = _state(page)
        if st and cond(st):
            return st
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last state {st}")


def _pixels(page) -> np.ndarray:
    flat = page.evaluate(f"""() => {{ const c = {ROOT}.querySelector('canvas');
        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data) }}""")
    s = int(round((len(flat) // 4) ** 0.5))
    return np.asarray(flat, np.uint8).reshape(s, s, 4)[..., :3]


def _open_live(browser, server, path="sliders", init=None, **kw):
    page = browser.new_page(**kw)
    if init:
        page.add_init_script(init)
    page.goto(f"{server}/{path}")
    wait_idle(page)
    _wait(page, lambda s: s["mode"] == "wasm" and s["frames"] >= 1, "the browser decoder",
          timeout=240)
    return page


def test_drag_decodes_in_the_browser_like_the_server_and_nothing_reaches_it(
        server, browser, demo):
    b, order = demo
    page = _open_live(browser, server, viewport={"width": 1400, "height": 1000},
                      init=WS_COUNTER)
    sent0 = page.evaluate("() => window.__ws.sent.length")
    frames0 = _state(page)["frames"]
    history0 = page.evaluate("history.length")

    rng = page.locator("input.ks-range").first
    box = rng.bounding_box()
    y, x = box["y"] + box["height"] / 2, box["x"] + box["width"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 41):                      # +3 px a step: about +1.5 in all
        page.mouse.move(x + 3 * i, y)
        time.sleep(0.02)
    mid = _state(page)
    during = page.evaluate("() => window.__ws.sent.length") - sent0
    page.mouse.up()
    assert mid["frames"] > frames0 + 3, "the picture should follow the drag"
    assert during == 0, f"{during} messages reached the server while dragging"

    st = _wait(page, lambda s: s["values"][0] != 0 and s["z"] is not None, "the settled value")
    wait_idle(page)
    st = _state(page)
    v = st["values"][0]
    assert 0.5 <= v <= 3.0
    # the browser's latent is the anchor moved along the first slider's dimension
    z = np.asarray([float(t) for t in st["z"].split(",")], np.float32)
    want_z = b.mu[0].copy()
    want_z[order[0]] += np.float32(v) * _unit(b)[order[0]]   # in the catalogue's std
    np.testing.assert_allclose(z, want_z, atol=1e-5)
    # and its pixels are the server's decode of that latent
    diff = np.abs(_pixels(page).astype(int) - b.decode(z[None])[0].astype(int))
    assert diff.max() <= 2, f"browser and server decodes differ by {diff.max()}/255"
    # the closest real products are the server's LatentIndex answer, found in the browser
    got = _closest(page, st["values"])
    want_i, want_d = LatentIndex(b.mu).query(z, k=3)
    assert got["indices"] == want_i[0].tolist()
    for cap, d in zip(got["captions"], want_d[0]):
        assert cap.endswith(f"distance {float(d):.2f}"), cap
    assert b.metadata.iloc[int(want_i[0][0])]["sku"] in got["captions"][0]
    assert page.evaluate("() => window.__ws.sent.length") == sent0, \
        "the release reached the server: the browser should show picture and products alone"
    # the URL carries the value, replaced in place: no new history entry
    assert f"d{order[0]}={v:g}" in page.url, page.url
    assert page.evaluate("history.length") == history0
    # onnxruntime's WebAssembly came gzipped (a .gz the server sends as it is) and was
    # inflated in the page
    assert page.evaluate("() => window.__ksLive.wasmFrom") == "gz"
    page.close()


def test_without_decompression_streams_the_plain_webassembly_is_used(server, browser, demo):
    """A browser that cannot inflate the .gz (no DecompressionStream) still decodes in the
    browser, from the plain .wasm, and its pixels are still the server's."""
    b, _ = demo
    wasm: list[str] = []
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("request", lambda r: wasm.append(r.url.rsplit("/", 1)[-1])
            if r.url.split("?")[0].endswith((".wasm", ".wasm.gz")) else None)
    page.add_init_script("delete window.DecompressionStream")
    page.goto(f"{server}/sliders")
    wait_idle(page)
    st = _wait(page, lambda s: s["mode"] == "wasm" and s["frames"] >= 1, "the browser decoder",
               timeout=240)
    assert wasm == ["ort-wasm-simd-threaded.wasm"], wasm
    assert page.evaluate("() => window.__ksLive.wasmFrom") is None
    z = np.asarray([float(t) for t in st["z"].split(",")], np.float32)
    diff = np.abs(_pixels(page).astype(int) - b.decode(z[None])[0].astype(int))
    assert diff.max() <= 2, f"browser and server decodes differ by {diff.max()}/255"
    page.close()


def _closest(page, values) -> dict:
    """The closest products the component shows for these slider values."""
    key = ",".join(f"{v:g}" for v in values)
    page.wait_for_function(f"(k) => {{ const r = {ROOT}; return r && r.dataset.closestValues"
                           f" && r.dataset.closestValues.split(',').map(Number).join(',') === "
                           f"k.split(',').map(Number).join(',') }}", arg=key, timeout=30_000)
    return page.evaluate(f"""() => {{ const r = {ROOT};
        return {{indices: r.dataset.closest.split(',').map(Number),
                 captions: [...r.querySelectorAll('.ks-card figcaption')]
                           .map(c => c.textContent)}} }}""")


def test_reload_and_a_later_rerun_keep_the_sliders_and_products_from_the_url(
        server, browser, demo):
    b, order = demo
    page = _open_live(browser, server, viewport={"width": 1400, "height": 1000})
    page.locator("input.ks-range").nth(2).focus()
    for _ in range(8):                            # keyboard: -0.8
        page.keyboard.press("ArrowLeft")
    st = _wait(page, lambda s: s["values"][2] == pytest.approx(-0.8), "the keyboard moves")
    before = _closest(page, st["values"])["indices"]
    z = b.mu[0].copy()
    z[order[2]] += np.float32(-0.8) * _unit(b)[order[2]]
    assert before == LatentIndex(b.mu).query(z, k=3)[0][0].tolist()
    # another widget reruns the whole page: the server reads the values from the URL
    page.get_by_role("slider", name="Factors to show").focus()
    page.keyboard.press("ArrowLeft")
    wait_idle(page)
    time.sleep(0.5)
    st = _state(page)
    assert st["values"][2] == pytest.approx(-0.8) and f"d{order[2]}=-0.8" in page.url, page.url
    page.reload()
    wait_idle(page)
    st = _wait(page, lambda s: s["mode"] == "wasm" and s["values"][2] == pytest.approx(-0.8),
               "the slider state after reload", timeout=120)
    assert _closest(page, st["values"])["indices"] == before
    page.close()


def test_back_restores_the_sliders_as_left(server, browser, demo):
    b, order = demo
    page = _open_live(browser, server, viewport={"width": 1400, "height": 1000})
    history0 = page.evaluate("history.length")
    rng = page.locator("input.ks-range").nth(1)
    rng.focus()
    for _ in range(12):                           # keyboard: +0.1 a press
        page.keyboard.press("ArrowRight")
    _wait(page, lambda s: s["values"][1] == pytest.approx(1.2), "the keyboard moves")
    wait_idle(page)
    time.sleep(0.5)
    assert f"d{order[1]}=1.2" in page.url, page.url
    page.get_by_role("link", name="Interpolation").first.click()
    page.get_by_role("heading", name="Interpolation").first.wait_for(timeout=30_000)
    wait_idle(page)
    assert page.evaluate("history.length") == history0 + 1, "one entry per page visit"
    page.go_back()
    wait_idle(page)
    page.get_by_role("heading", name="Factor sliders").first.wait_for(timeout=30_000)
    st = _wait(page, lambda s: s["mode"] == "wasm" and s["values"][1] == pytest.approx(1.2),
               "the slider state after Back")
    assert st["values"][0] == 0
    # the link opens the same view in a new session
    other = _open_live(browser, server, viewport={"width": 1400, "height": 1000})
    other.goto(page.url)
    wait_idle(other)
    _wait(other, lambda s: s["mode"] == "wasm" and s["values"][1] == pytest.approx(1.2),
          "the slider state from a link")
    other.close()
    page.close()


def test_a_phone_keeps_the_picture_in_view_while_sliding(server, browser, shots):
    page = _open_live(browser, server, viewport={"width": 390, "height": 844},
                      device_scale_factor=2, is_mobile=True, has_touch=True)
    rows = page.locator("input.ks-range")
    assert rows.count() >= 10
    for k in (0, 6, rows.count() - 1):           # scroll down to the first, a middle, the last
        rows.nth(k).evaluate("e => e.scrollIntoView({block: 'end'})")   # as a thumb scrolls
        time.sleep(0.3)
        canvas = page.evaluate(f"() => {{ const r = {ROOT}.querySelector('canvas')"
                               f".getBoundingClientRect(); return [r.top, r.bottom] }}")
        slider = rows.nth(k).bounding_box()
        assert 0 <= canvas[0] and canvas[1] <= 844, f"picture out of view at slider {k}: {canvas}"
        assert slider["y"] >= canvas[1] - 1, "the slider hides under the picture"
        assert slider["y"] + slider["height"] <= 844 + 1      # sub-pixel layout rounding
    page.screenshot(path=str(shots / "sliders_phone.png"))
    page.close()


def test_the_home_hero_is_above_the_fold_on_a_phone_and_keeps_its_values_on_rerun(server, browser,
                                                                                  shots):
    page = _open_live(browser, server, "", viewport={"width": 390, "height": 844},
                      device_scale_factor=2, is_mobile=True, has_touch=True, init=WS_COUNTER)
    assert page.evaluate("window.scrollY") == 0
    canvas = page.evaluate(f"() => {{ const r = {ROOT}.querySelector('canvas')"
                           f".getBoundingClientRect(); return [r.top, r.bottom, r.width] }}")
    first = page.locator("input.ks-range").first.bounding_box()
    page.screenshot(path=str(shots / "home_phone.png"))
    assert canvas[2] >= 128 and 0 <= canvas[0] and canvas[1] <= 844, \
        f"the hero sneaker is not in view without scrolling: {canvas}"
    assert canvas[1] <= first["y"] and first["y"] + first["height"] <= 844, \
        f"the hero's first control is below the fold: {first}"
    # a rerun of home (Streamlit's "r" shortcut) keeps what was moved in the hero ...
    page.locator("input.ks-range").first.focus()
    for _ in range(5):                            # keyboard: +0.5
        page.keyboard.press("ArrowRight")
    _wait(page, lambda s: s["values"] == [0.5, 0.0], "the hero's keyboard moves")
    heard = page.evaluate("() => window.__ws.recv.length")
    page.locator("h1").first.click()              # focus out of the slider: "r" reruns
    page.keyboard.press("r")
    page.wait_for_function("(n) => window.__ws.recv.length > n", arg=heard, timeout=30_000)
    wait_idle(page)
    time.sleep(0.5)
    assert _state(page)["values"] == [0.5, 0.0], "a rerun of home reset the hero"
    # ... and a new pick of sneaker starts again at 0
    page.get_by_role("radio", name="2", exact=True).first.click()
    wait_idle(page)
    _wait(page, lambda s: s["values"] == [0.0, 0.0] and s["mode"] == "wasm",
          "the new sneaker at 0")
    page.close()


def test_without_webassembly_the_server_decodes(server, browser, demo):
    b, order = demo
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script("window.__ksNoWasm = true")
    page.goto(f"{server}/sliders")
    wait_idle(page)
    st = _wait(page, lambda s: s["mode"] == "server" and s["server"] >= 1, "the server picture")
    page.locator("input.ks-range").first.focus()
    for _ in range(5):
        page.keyboard.press("ArrowLeft")
    _wait(page, lambda s: s["values"][0] == pytest.approx(-0.5), "the keyboard moves")
    wait_idle(page)
    z = b.mu[0].copy()
    z[order[0]] += np.float32(-0.5) * _unit(b)[order[0]]
    want = b.decode(z[None])[0].astype(int)
    deadline = time.monotonic() + 30
    while np.abs(_pixels(page).astype(int) - want).max() > 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert np.abs(_pixels(page).astype(int) - want).max() <= 2, "the server's picture of -0.5"
    assert _state(page)["frames"] == 0           # nothing decoded in the browser
    # the closest products are still found in the browser, and drawn once (no server strip)
    assert _closest(page, [-0.5] + [0] * (len(_state(page)["values"]) - 1))["indices"] == \
        LatentIndex(b.mu).query(z, k=3)[0][0].tolist()
    assert page.locator("[data-testid='stMain'] [data-testid='stImage']",
                        has_text="distance").count() == 0
    page.close()
    # arithmetic: the server decodes each release, and the equation follows that picture
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.add_init_script("window.__ksNoWasm = true")
    page.goto(f"{server}/arithmetic")
    wait_idle(page)
    _wait(page, lambda s: s["mode"] == "server" and s["server"] >= 1, "the server picture")
    page.locator("input.ks-range").first.focus()
    page.keyboard.press("ArrowLeft")                  # weight of A: 0.5 -> 0.45
    _wait(page, lambda s: s["values"] == [0.45, 0.5] and s["server"] >= 2, "its picture")
    a, bb = 0, len(b) // 2
    _assert_equation(page, b, a, bb, [0.45, 0.5], combine([b.mu[a], b.mu[bb]], [0.45, 0.5]))
    page.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    import os
    d = Path(os.environ.get("KICKSPACE_SCREENSHOTS") or tmp_path_factory.mktemp("screens"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def test_the_interpolation_scrubber_and_the_arithmetic_weights_decode_live(server, browser, demo):
    from explorer.app.live_decoder import point_on_path
    b, _ = demo
    # one browser context for both pages: the second reuses the first's cached decoder files
    page = _open_live(browser, server, "interpolation?path=spherical",
                      viewport={"width": 1400, "height": 1000}, init=WS_COUNTER,
                      accept_downloads=True)
    scrub = page.locator("input.ks-range").first
    scrub.focus()
    # Page Up moves a range a tenth of its span (not its 0.005 step): t = 0.3 in three
    # presses, each a release the browser settles (URL, closest products), not sixty
    for _ in range(3):
        page.keyboard.press("PageUp")
    st = _wait(page, lambda s: s["values"][0] == pytest.approx(0.3), "the scrubber")
    wait_idle(page)
    assert "t=0.3" in page.url and page.evaluate("history.length") == 2, page.url
    st = _wait(page, lambda s: s["z"] is not None, "a browser frame")
    z = np.asarray([float(v) for v in st["z"].split(",")], np.float32)
    want = point_on_path(b.mu[0], b.mu[min(len(b) - 1, len(b) // 2)], 0.3, "spherical")
    np.testing.assert_allclose(z, want, atol=1e-5)
    assert np.abs(_pixels(page).astype(int) - b.decode(z[None])[0].astype(int)).max() <= 2
    assert _closest(page, [0.3])["indices"] == LatentIndex(b.mu).query(z, k=3)[0][0].tolist()

    page.goto(f"{server}/arithmetic")                 # a new document: a new app session
    wait_idle(page)
    _wait(page, lambda s: s["mode"] == "wasm" and s["frames"] >= 1, "the browser decoder",
          timeout=240)
    frames = _state(page)["frames"]
    sent0 = page.evaluate("() => window.__ws.sent.length")
    page.locator("input.ks-range").nth(1).focus()
    for _ in range(4):                                # weight of B: 0.5 -> 0.7
        page.keyboard.press("ArrowRight")
    st = _wait(page, lambda s: s["values"] == [0.5, 0.7] and s["frames"] > frames,
               "the weight of B")
    wait_idle(page)
    assert "wb=0.7" in page.url
    # the 5 closest products and the equation picture are made in the browser: the weight's
    # releases send the server nothing
    a, bb = 0, len(b) // 2                            # the page's default anchors
    z = combine([b.mu[a], b.mu[bb]], [0.5, 0.7])
    assert _closest(page, [0.5, 0.7])["indices"] == LatentIndex(b.mu).query(z, k=5)[0][0].tolist()
    _assert_equation(page, b, a, bb, [0.5, 0.7], z)
    assert page.evaluate("() => window.__ws.sent.length") == sent0, \
        "a weight's release reached the server"
    page.close()


def _assert_equation(page, b, a: int, bb: int, weights: list[float], z: np.ndarray) -> None:
    """The component's equation picture is the server's (equation_picture) for these weights:
    its captions, and its downloaded PNG's size and pictures (the text is drawn by Chromium,
    so only its pixels' places differ)."""
    from PIL import Image
    from explorer.render.pictures import equation_picture
    key = ",".join(f"{w:g}" for w in weights)
    page.wait_for_function(f"(k) => {{ const e = {ROOT}.querySelector('.ks-equation');"
                           f" return e && e.dataset.values === k }}", arg=key, timeout=30_000)
    label = page.evaluate(f"() => {ROOT}.querySelector('.ks-eq-canvas').getAttribute('aria-label')")
    assert label == f"{weights[0]:g} × A + {weights[1]:g} × B = result", label
    with page.expect_download() as dl:
        page.locator(".ks-eq-download").click()
    assert dl.value.suggested_filename == "equation.png"
    got = np.asarray(Image.open(dl.value.path()).convert("RGB")).astype(int)
    want = np.asarray(equation_picture(
        [("", b.images[a], f"{weights[0]:g} × A"), ("+", b.images[bb], f"{weights[1]:g} × B")],
        b.decode(z[None])[0])).astype(int)
    assert got.shape == want.shape
    t = 2 * b.image_size
    for x in (16, 16 + t + 16 + 90, 16 + 2 * (t + 16 + 90)):   # A, B and the result
        diff = np.abs(got[16:16 + t, x:x + t] - want[16:16 + t, x:x + t]).max()
        assert diff <= 2, f"the equation's picture at x={x} differs by {diff}/255"


REPEAT_APP = '''import numpy as np
import streamlit as st
from explorer.app import cache
from explorer.app.live_decoder import Control, live_sliders
b = cache.get_bundle(str(cache.DEFAULT_BUNDLE))
runs = st.session_state["runs"] = st.session_state.get("runs", 0) + 1
live_sliders(b, key="start", base=b.mu[0], basis=np.eye(b.latent_dim, dtype=np.float32)[:1],
             controls=[Control("move")], values=[0.0], caption=f"run {runs}", notify=False)
st.button("rerun")
'''


@pytest.mark.slow
def test_a_rerun_that_repeats_the_start_keeps_what_was_moved(browser, tmp_path):
    """The home hero's contract, where the rest of the component's data changes (here its
    caption): the server repeating its starting values is no news, so the browser keeps what
    was moved."""
    script = tmp_path / "repeat_app.py"
    script.write_text(REPEAT_APP)
    proc, url = start_app(script=script, log=tmp_path / "server.log", timeout=90,
                          env={"KICKSPACE_DATA_DIR": str(tmp_path / "data")})
    try:
        page = _open_live(browser, url, "", viewport={"width": 1000, "height": 800})
        page.locator("input.ks-range").first.focus()
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        _wait(page, lambda s: s["values"] == [0.5], "the keyboard moves")
        page.get_by_role("button", name="rerun").click()
        page.wait_for_function(f"() => {ROOT}.querySelector('figcaption').textContent"
                               f" === 'run 2'", timeout=30_000)
        wait_idle(page)
        assert _state(page)["values"] == [0.5], "the repeated start undid the move"
        page.close()
    finally:
        stop_app(proc)
