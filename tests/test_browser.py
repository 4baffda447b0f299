"""The whole app in a real headless Chromium (Debian's chromium, driven by Playwright).

Starts `streamlit run app.py` on a free local port with the committed demo bundle, visits every
page, moves a slider and checks that the decoded image and the URL change. Screenshots go to
$KICKSPACE_SCREENSHOTS (default: pytest's tmp folder) for people to look at.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bench.appserver import CHROMIUM_FLAGS, start_app, stop_app, wait_idle  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(app_server):
    """The session's shared app server (tests/conftest.py), data in a temporary folder."""
    return app_server


@pytest.fixture(scope="module")
def browser(chromium_path_module):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        br = p.chromium.launch(executable_path=chromium_path_module, args=CHROMIUM_FLAGS)
        yield br
        br.close()


@pytest.fixture(scope="module")
def chromium_path_module():
    from tests.conftest import CHROMIUM, require_system
    import shutil
    present = Path(CHROMIUM).is_file()
    require_system(present, f"Chromium ({CHROMIUM})", "apt-get install chromium chromium-driver")
    try:
        import playwright  # noqa: F401
    except ImportError:
        require_system(False, "the playwright Python package", "pip install playwright")
    return CHROMIUM if present else shutil.which("chromium")


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    d = Path(os.environ.get("KICKSPACE_SCREENSHOTS") or tmp_path_factory.mktemp("screens"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def assert_no_exception(page, where: str) -> None:
    errors = page.query_selector_all("[data-testid='stException']")
    assert not errors, f"{where}: {errors[0].inner_text()[:500]}"


PAGES = [("", "KickSpace"), ("sliders", "Factor sliders"), ("interpolation", "Interpolation"),
         ("arithmetic", "Sneaker arithmetic"), ("overview", "Model card")]
RAW_NAMES = {p.stem.replace("_", " ") for p in (REPO / "pages").glob("*.py")} | {"app"}


# the hero: the live decoder's canvas in a browser (img on the server-side fallback)
HERO = "canvas[aria-label='decoded sneaker'], img[alt='decoded sneaker']"


def test_a_fresh_server_shows_page_titles_and_sneakers_first(browser, tmp_path):
    """A fresh server's first page: its menu never lists file names ("app", "catalogue
    map", ...), and sneakers are on screen without scrolling."""
    proc, url = start_app(log=tmp_path / "server.log", timeout=90)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url, wait_until="commit")
        seen: set[str] = set()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            seen |= set(page.locator("[data-testid='stSidebarNav'] a").all_inner_texts())
            if page.locator(HERO).count():
                break
            time.sleep(0.05)
        seen |= set(page.locator("[data-testid='stSidebarNav'] a").all_inner_texts())
        hero = page.locator(HERO).first
        box = hero.bounding_box()
        page.close()
    finally:
        stop_app(proc)
    titles = {t.strip().splitlines()[-1].strip() for t in seen if t.strip()}  # after the icon
    assert {"Home", "Factor sliders", "Model card"} <= titles, titles
    assert not titles & RAW_NAMES, titles        # file names are lower case, titles not
    assert box is not None and box["y"] + box["height"] <= 900   # above the fold


def test_every_page_renders(server, browser, shots):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    for path, title in PAGES + [(p, t) for p, t in (("catalogue_map", "Catalogue map"),
                                                     ("similar", "Find similar"),
                                                     ("lab", "Disentanglement lab"))
                                if (REPO / "pages" / f"{p}.py").is_file()]:
        page.goto(f"{server}/{path}")
        wait_idle(page)
        page.get_by_role("heading", name=title).first.wait_for(timeout=30_000)
        assert_no_exception(page, path or "home")
        page.screenshot(path=str(shots / f"{path or 'home'}.png"), full_page=True)
    page.close()


# moving a slider, the URL it writes and Back: tests/test_browser_live.py


def test_the_interpolation_gif_is_made_on_the_click_and_holds_every_step(server, browser,
                                                                          tmp_path):
    """The GIF is no longer made on every rerun (its data is a callable Streamlit runs on the
    click): the download is still the path's animated GIF, forth and back."""
    from PIL import Image
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(f"{server}/interpolation")
    wait_idle(page)
    button = page.get_by_role("button", name="Download animated GIF")
    button.wait_for(timeout=60_000)
    with page.expect_download(timeout=60_000) as dl:
        button.click()
    assert dl.value.suggested_filename == "interpolation.gif"
    path = tmp_path / "path.gif"
    dl.value.save_as(path)
    with Image.open(path) as im:
        assert im.format == "GIF" and im.is_animated
        assert im.n_frames == 8 + 6                   # 8 steps (the default), then back
    # the strip too, and the GIF again: each named (a rerun after a click used to be able to
    # prune the made file before the browser fetched it, and the download lost its name)
    for name, label in (("interpolation.png", "Download strip (PNG)"),
                        ("interpolation.gif", "Download animated GIF")):
        with page.expect_download(timeout=60_000) as dl:
            page.get_by_role("button", name=label).click()
        assert dl.value.suggested_filename == name
    assert_no_exception(page, "interpolation")
    page.close()


def test_interpolation_steps_rerun_the_path_part_and_the_table_opens_on_demand(server, browser):
    """A Steps change redraws the strip and the map picture (a fragment: the anchors above are
    not rerun); the step-by-step table is made when its expander is opened, then follows."""
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(f"{server}/interpolation")
    page.get_by_alt_text("the path on the map").wait_for(timeout=120_000)
    wait_idle(page)
    assert page.locator("[data-testid='stDataFrame']").count() == 0
    page.get_by_text("Closest products, step by step", exact=True).click()
    page.locator("[data-testid='stDataFrame']").wait_for(timeout=60_000)
    wait_idle(page)
    strip = page.get_by_role("heading", name="Decoded path and the closest real product at "
                             "each step")
    strip.wait_for(timeout=30_000)
    before = page.get_by_alt_text("the path on the map").get_attribute("src")
    thumb = page.locator("[data-testid='stMain'] [data-testid='stSlider']",
                         has_text="Steps").get_by_role("slider")
    thumb.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_url("**steps=9**", timeout=30_000)
    wait_idle(page)
    deadline = time.time() + 30
    while page.get_by_alt_text("the path on the map").get_attribute("src") == before \
            and time.time() < deadline:
        time.sleep(0.2)
    assert page.get_by_alt_text("the path on the map").get_attribute("src") != before
    assert page.locator("[data-testid='stDataFrame']").count() == 1   # still open, 9 rows
    assert_no_exception(page, "interpolation, steps moved")
    page.close()


def test_typed_markup_is_shown_as_text(server, browser):
    """A search for markup is echoed back as text: no element is injected, no script runs."""
    page = browser.new_page()
    page.goto(f"{server}/sliders")
    wait_idle(page)
    hostile = '<img src=x onerror="window.__pwned=1"><b id=injected>bold</b>'
    box = page.get_by_placeholder("e.g. court, boot, KS-0001").first
    box.fill(hostile)
    box.press("Enter")
    wait_idle(page)
    page.get_by_text("No product matches").first.wait_for(timeout=30_000)
    assert "<b id=injected>" in page.get_by_text("No product matches").first.inner_text()
    assert page.query_selector("#injected") is None
    assert page.evaluate("() => window.__pwned === undefined")
    page.close()


def test_query_by_photo_finds_the_product_first(server, browser, shots, tmp_path):
    """Upload a copy of a catalogue photo on Find similar: that product comes first."""
    from PIL import Image

    from explorer.bundle.core import load_bundle
    b = load_bundle(REPO / "checkpoints" / "demo", check_hashes=False)
    item = 123
    photo = tmp_path / "upload.png"
    Image.fromarray(b.images[item]).resize((256, 256), Image.LANCZOS).save(photo)
    name = str(b.metadata["name"].iloc[item])
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(f"{server}/similar")
    wait_idle(page)
    page.get_by_role("tab", name="Query by photo").click()
    page.locator("input[type=file]").first.set_input_files(str(photo))
    page.get_by_text("Closest products").first.wait_for(timeout=60_000)
    wait_idle(page)
    assert_no_exception(page, "similar/upload")
    panel = page.get_by_role("tabpanel", name="Query by photo")
    first_card = panel.locator("[data-testid='stMarkdownContainer'] strong").nth(1)
    assert first_card.inner_text() == name, (first_card.inner_text(), name)
    page.screenshot(path=str(shots / "similar_upload.png"), full_page=True)
    page.close()
