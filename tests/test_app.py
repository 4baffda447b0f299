"""AppTest for every page, on the committed demo bundle (checkpoints/demo)."""
from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
PAGES = sorted(str(p.relative_to(REPO)) for p in (REPO / "pages").glob("*.py"))


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _open(page: str) -> AppTest:
    at = _app()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _image_urls(at: AppTest, caption: str) -> list[str]:
    return [url for img in at.image for url, cap in zip(img.value, img.captions)
            if cap == caption]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_without_exception(page):
    at = _open(page)
    assert at.title, f"{page} shows no title"


def test_the_model_card_has_its_own_page():
    at = _open("pages/overview.py")
    text = " ".join(m.value for m in at.markdown) + " ".join(s.value for s in at.subheader)
    for part in ("Model", "Catalogue", "Held-out originals and reconstructions"):
        assert part in text
    assert [m.label for m in at.metric][:3] == ["Model", "Latent factors", "Products"]
    assert len(at.image) >= 1


def test_the_first_page_shows_sneakers_and_a_way_into_every_tool():
    at = _app()
    assert at.title[0].value.endswith("KickSpace")
    assert not [m for m in at.metric], "the first page is not the model card"
    assert len(at.image) >= 9            # hero, featured strip, six tool pictures, gallery
    links = {el.proto.page for el in at.get("page_link")}
    assert {"sliders", "interpolation", "arithmetic", "catalogue_map", "similar", "lab",
            "overview"} <= links


def test_the_hero_sneaker_follows_its_sliders():
    at = _app()

    def decoded():
        return [img.value for img in at.image
                if any("decoded sneaker" in str(p.alt) for p in img.proto.imgs)]
    before = decoded()
    at.slider(key="hero_offset").set_value(2.5)
    at.run()
    assert not at.exception
    moved = decoded()
    assert moved and moved != before
    at.slider(key="hero_blend").set_value(1.0)
    at.run()
    assert decoded() not in (before, moved)


def test_the_hero_keeps_its_sliders_on_a_rerun_and_a_new_pick_starts_at_zero():
    at = _app()
    at.slider(key="hero_offset").set_value(2.5)
    at.slider(key="hero_blend").set_value(0.5)
    at.run()
    at.run()                                   # any other rerun keeps what was moved
    assert (at.slider(key="hero_offset").value, at.slider(key="hero_blend").value) == (2.5, 0.5)
    at.button_group(key="hero_pick").set_value(1).run()       # sneaker 2: starts at 0
    assert not at.exception
    assert (at.slider(key="hero_offset").value, at.slider(key="hero_blend").value) == (0, 0)
    at.slider(key="hero_offset").set_value(-1.0).run()
    dim = at.button_group(key="hero_dim")
    other = int(re.search(r"dim (\d+)", dim.options[1]).group(1))
    assert other != dim.value
    dim.set_value(other).run()                                 # another factor: starts at 0
    assert not at.exception
    assert at.slider(key="hero_offset").value == 0


def test_moving_a_slider_changes_the_decoded_image():
    at = _open("pages/sliders.py")
    before = _image_urls(at, "decoded")
    assert len(before) == 1
    grid = [d for d in at.get("download_button") if d.label.startswith("Download traversal")]
    assert len(grid) == 1 and grid[0].proto.ignore_rerun      # a download reruns nothing
    sliders = [s for s in at.slider if s.key and s.key.startswith("d")]
    assert len(sliders) >= 1
    sliders[0].set_value(2.5)
    at.run()
    assert not at.exception
    after = _image_urls(at, "decoded")
    assert after and after != before, "the decoded image should change with the slider"
    # reset all puts the image back
    next(b for b in at.button if b.label == "Reset all").click()
    at.run()
    assert _image_urls(at, "decoded") == before


def test_slider_values_and_anchor_come_from_the_url():
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["d0"] = "1.5"
    at.run()
    at.switch_page("pages/sliders.py")
    at.run()
    assert not at.exception
    assert at.slider(key="d0").value == pytest.approx(1.5)


def _png(size=(40, 30), colour=(200, 20, 20)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("name, data, message", [
    ("notes.png", b"this is not an image at all", "was not used"),
    ("empty.jpg", b"", "was not used"),
    ("cut.png", _png()[:60], "was not used"),
])
def test_a_bad_upload_shows_an_error_not_a_traceback(name, data, message):
    at = _open("pages/sliders.py")
    at.radio(key="a__src").set_value("Upload a photo")
    at.run()
    at.file_uploader(key="a__up").set_value((name, data, "image/png"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert any(message in e for e in errors), errors


def test_a_good_upload_becomes_the_anchor(sent_media):
    at = _open("pages/sliders.py")
    before = _image_urls(at, "decoded")
    at.radio(key="a__src").set_value("Upload a photo")
    at.run()
    at.file_uploader(key="a__up").set_value(("shoe.png", _png((90, 60)), "image/png"))
    at.run()
    assert not at.exception
    assert not at.error
    seen = _image_urls(at, "as the model sees it")
    s = _demo_image_size()       # x2 by nearest neighbour, like the other pictures
    assert _pixels_sent(sent_media, seen[0]).shape[:2] == ((2 * s, 2 * s) if s <= 64 else (s, s))
    assert _image_urls(at, "decoded") != before


def test_interpolation_strip_and_downloads(monkeypatch):
    from explorer.render import pictures
    made = []
    monkeypatch.setattr(pictures, "gif_bytes", lambda *a, **k: made.append(1) or b"GIF89a")
    at = _open("pages/interpolation.py")
    at.slider(key="steps").set_value(5)
    at.run()
    assert not at.exception
    labels = [d.label for d in at.get("download_button")]
    assert "Download animated GIF" in labels and "Download strip (PNG)" in labels
    assert made == []          # the GIF is made when the button is clicked, not on every run
    # a download reruns nothing (a rerun right after the click could prune the made file
    # before the browser fetched it), and both are made on the click
    for d in at.get("download_button"):
        assert d.proto.ignore_rerun and d.proto.deferred_file_id, d.label
    # the step-by-step table is made only while its expander is open (closed at first)
    assert [e.label for e in at.expander] == ["Closest products, step by step"]
    assert not at.dataframe
    at.session_state["steps_table"] = True          # as a click on the expander does
    at.run()
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 5
    at.radio(key="path").set_value("spherical")
    at.run()
    assert not at.exception


def test_the_path_on_the_map_is_a_picture_redrawn_with_the_path(sent_media):
    """The map under the interpolation is one picture (no plotly figure of the
    catalogue re-sent on every change), redrawn when the path changes, with a link to the
    interactive Catalogue map."""
    at = _open("pages/interpolation.py")
    assert not at.get("plotly_chart")

    def picture():
        img = next(i for i in at.image if any(p.alt == "the path on the map" for p in i.proto.imgs))
        return img.proto.imgs[0].url
    first = picture()
    px = _pixels_sent(sent_media, first)
    assert px.shape[1] >= 600 and (px < 250).any() and (px == 255).any()
    assert "catalogue_map" in {el.proto.page for el in at.get("page_link")}
    at.slider(key="steps").set_value(12)
    at.run()
    assert not at.exception
    moved = picture()
    assert moved != first and not np.array_equal(_pixels_sent(sent_media, moved), px)


def _pixels_sent(sent: dict[str, bytes], url: str):
    import io

    import numpy as np
    from PIL import Image
    with Image.open(io.BytesIO(sent[url])) as im:
        return np.asarray(im.convert("RGB"))


def _demo_image_size() -> int:
    from explorer.app import cache
    from explorer.bundle.meta import read_summary
    return int(read_summary(cache.DEFAULT_BUNDLE)["image_size"])


@pytest.mark.parametrize("page, alts", [("pages/interpolation.py", ["start anchor", "end anchor"]),
                                        ("pages/arithmetic.py", ["anchor A", "anchor B"])])
def test_anchor_pictures_are_enlarged_by_whole_pixels(page, alts, sent_media):
    """The anchors are shown x2^k by nearest neighbour (64 px -> 128 px), not at native size."""
    import numpy as np
    at = _open(page)
    s = _demo_image_size()
    want = s * (2 if s <= 64 else 1)
    for alt in alts:
        img = next(i for i in at.image if any(p.alt == alt for p in i.proto.imgs))
        px = _pixels_sent(sent_media, img.value[0])
        assert px.shape[:2] == (want, want), (alt, px.shape)
        if want == 2 * s:     # every source pixel is a 2 x 2 block: nearest neighbour
            assert np.array_equal(px[0::2, 0::2], px[1::2, 1::2]), alt


def test_arithmetic_both_operations():
    at = _open("pages/arithmetic.py")
    assert any(d.label.startswith("Download the equation") for d in at.get("download_button"))
    assert all(d.proto.ignore_rerun for d in at.get("download_button"))
    at.radio(key="op").set_value("A − B + C")
    at.run()
    assert not at.exception
    assert len(at.selectbox) >= 3



@pytest.mark.parametrize("page,ops,k,title", [
    ("pages/sliders.py", [None], 3, "Closest real products"),
    ("pages/arithmetic.py", ["A + B", "A − B + C"], 5, "Closest real products to the result")])
def test_the_closest_real_products_are_the_indexs_nearest_to_the_result(page, ops, k, title):
    from explorer.app.live_catalogue import caption_parts
    from explorer.app.widgets import esc
    from explorer.bundle.core import load_bundle
    from explorer.latent.index import LatentIndex
    from explorer.latent.ops import analogy, combine
    b = load_bundle(REPO / "checkpoints" / "demo")
    n = len(b)
    at = _open(page)
    for op in ops:
        if op == "A − B + C":
            at.radio(key="op").set_value(op)
            at.run()
            assert not at.exception
        z = {None: b.mu[0],                                  # the anchor, no slider moved
             "A + B": combine([b.mu[0], b.mu[n // 2]], [0.5, 0.5]),
             # B stays the one shown under A + B; C is the third anchor's default
             "A − B + C": analogy(b.mu[0], b.mu[n // 2], b.mu[2 * n // 3])}[op]
        idx, dist = LatentIndex(b.mu).query(z, k=k)
        want = [" · ".join([esc(p) for p in caption_parts(b.metadata, int(i))]
                           + [f"distance {float(d):.2f}"]) for i, d in zip(idx[0], dist[0])]
        assert f"**{title}**" in [m.value for m in at.markdown], op
        assert [list(img.captions) for img in at.image if len(img.captions) == k] == [want], op
