"""Hostile input through the whole app (AppTest), beyond what the module tests cover.

- A catalogue whose names, brands and other columns (values and one column name) carry HTML,
  script tags and Markdown: every page renders it as literal text. Checked on the protobuf
  of every element Streamlit renders as Markdown (bodies, labels, help, captions, radio
  options), and on the plotly figures (HTML-escaped hover text, legend and axis labels).
- Uploads through the app's uploader: a decompression bomb and a 200 MB file get an st.error,
  not a traceback.
- Tags imported from a CSV with formula cells come back neutralised in the catalogue map's
  export download (the app-level path; explorer.store.annotations' own export is tested in
  test_annotations.py).

Already covered elsewhere, so not repeated here: the image decoder's bomb and size limits
(test_images.py), CSV rows pointing at ../../etc/passwd (test_ingest.py), export
neutralisation in AnnotationStore (test_annotations.py), typed markup echoed in a real browser
(test_browser.py), hover-text escaping of mapview.hover_texts (test_mapview.py).
"""
from __future__ import annotations

import csv
import io
import json
import re
import struct
import zlib
from pathlib import Path

import pytest
from google.protobuf.descriptor import FieldDescriptor
from streamlit.testing.v1 import AppTest

from explorer.training.config import TrainConfig
from explorer.training.loop import train
from tests.helpers import TINY_MODEL, blocks_catalogue

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
LINK = "[click](javascript:alert(1))"
BOLD = "**bold**"
HOSTILE = [SCRIPT, IMG, LINK, BOLD]
HOSTILE_COLUMN = "<b>col</b> [c](javascript:alert(1))"


def hostile_name(i: int) -> str:
    return f"{SCRIPT} {IMG} {LINK} {BOLD} no. {i}"

# Markdown that must never reach a Markdown renderer unescaped. esc() backslash-escapes every
# ASCII punctuation mark, so an escaped "<script" reads "\<script" and "](" reads "\]\(".
RAW = [re.compile(r"(?<!\\)<\s*(script|img|b>)", re.I),
       re.compile(r"(?<!\\)\]\(\s*javascript", re.I),
       re.compile(r"(?<![\\*])\*\*bold\*\*"),
       # a bare URL or address becomes a link unless esc() put a WORD JOINER in it
       re.compile(r"(?i)https?\\?:(?!\u2060)"), re.compile(r"(?i)www(?!\u2060)\\?\."),
       re.compile(r"(?<!\u2060)@evil")]
URL = "http://evil.example/0 www.evil.example mail@evil.example"
# proto string fields Streamlit renders as Markdown
MARKDOWN_FIELDS = {"body", "label", "help", "caption"}


# ---------------------------------------------------------------------------- the bundle
@pytest.fixture(scope="module")
def hostile_bundle(tmp_path_factory) -> Path:
    cat = blocks_catalogue(64, seed=3)
    md = cat.metadata
    n = len(md)
    md["name"] = [hostile_name(i) for i in range(n)]
    md["brand"] = [HOSTILE[(i + 1) % 4] for i in range(n)]
    md["colour"] = [HOSTILE[(i + 2) % 4] for i in range(n)]          # categorical
    md["colorway"] = [f"`code` _it_ {LINK} {i % 3}" for i in range(n)]
    md["price"] = [SCRIPT if i % 7 == 0 else 100.0 + i for i in range(n)]  # mixed column
    md[HOSTILE_COLUMN] = [("x", "y")[i % 2] for i in range(n)]
    out = tmp_path_factory.mktemp("hostile") / "bundle"
    train(cat, TrainConfig(epochs=1, batch_size=16, projections=("pca",), threads=1),
          TINY_MODEL, out, progress=False)
    return out


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch) -> Path:
    """Tags, names and directions go to a fresh folder for each test."""
    monkeypatch.delenv("KICKSPACE_ANNOTATIONS_DB", raising=False)
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _open(bundle: Path, page: str | None = None, query: dict | None = None,
          state: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["bundle_path"] = str(bundle)
    for k, v in (state or {}).items():
        at.session_state[k] = v
    for k, v in (query or {}).items():
        at.query_params[k] = v
    if page:
        at.switch_page(page)
    at.run()
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


# ---------------------------------------------------------------------------- scanning
def _nodes(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _nodes(child)


def _strings(msg, path: str = ""):
    """(field path, value) for every string field of a protobuf message, recursively."""
    for fd, value in msg.ListFields():
        repeated = (fd.is_repeated if hasattr(fd, "is_repeated")
                    else fd.label == FieldDescriptor.LABEL_REPEATED)
        values = value if repeated else [value]
        for v in values:
            if fd.type == FieldDescriptor.TYPE_MESSAGE:
                yield from _strings(v, f"{path}.{fd.name}")
            elif fd.type == FieldDescriptor.TYPE_STRING:
                yield f"{path}.{fd.name}", v


def rendered_markdown(at: AppTest) -> list[tuple[str, str]]:
    """(element type + field, text) for every string the browser renders as Markdown."""
    out = []
    for node in _nodes(at._tree):
        proto = getattr(node, "proto", None)
        if proto is None:
            continue
        kind = getattr(node, "type", type(node).__name__)
        for path, text in _strings(proto):
            field = path.rsplit(".", 1)[-1]
            # radio options are Markdown too; other option lists are plain text
            if field in MARKDOWN_FIELDS or (kind == "radio" and field == "options"):
                out.append((f"{kind}{path}", text))
    return out


def plotly_specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


# Known bugs, each with its own strict xfail test below; the page-wide checks skip exactly
# these (element field, text) pairs so that they still check everything else on the page.
CAPTION_BUG = ("image.imgs.caption", f"{hostile_name(0)} · {IMG} · SKU-0000")
FILTER_LABEL_BUG = ("multiselect.label", HOSTILE_COLUMN)


def raw_markdown(at: AppTest, known=()) -> list[tuple[str, str]]:
    return [(f, t) for f, t in rendered_markdown(at)
            if any(r.search(t) for r in RAW)
            and not any(f.endswith(kf) and t == kt for kf, kt in known)]


def check_page(at: AppTest, where: str, known=()) -> str:
    """Assert nothing hostile is rendered raw; returns the page's Markdown, unescaped."""
    bad = raw_markdown(at, known)
    assert not bad, f"{where}: catalogue text reaches Markdown unescaped: {bad[:5]}"
    for spec in plotly_specs(at):
        text = json.dumps(spec, ensure_ascii=False)
        for token in ("<script", "<img", "<b>col"):
            assert token not in text, f"{where}: raw {token!r} in a plotly figure"
    return re.sub(r"\\(.)", r"\1", " ".join(t for _, t in rendered_markdown(at)))


# ---------------------------------------------------------------------------- pages
def test_no_page_uses_unsafe_html():
    """Catalogue text is only ever shown through Markdown with HTML off (or plain text)."""
    sources = [REPO / "app.py", *sorted((REPO / "pages").glob("*.py")),
               *sorted((REPO / "explorer").rglob("*.py"))]
    hits = [f"{p.relative_to(REPO)}:{i}" for p in sources
            for i, line in enumerate(p.read_text().splitlines(), 1)
            if re.search(r"unsafe_allow_html|st\.html\(|components\.v1|\.html\(", line)]
    # the catalogue map's components (2-D: explorer/app/mapcomponent.py, 3-D:
    # explorer/app/map3d.py, one frontend folder) are the reviewed exceptions: their frontend
    # puts every string in the page with textContent (checked below and, with hostile text, in
    # tests/test_browser_map.py), and the 3-D view's plotly text is HTML-escaped in Python
    # (explorer/render/map3d.py; tests/test_map3d.py)
    reviewed = ("explorer/app/mapcomponent.py:", "explorer/app/map3d.py:")
    assert [h for h in hits if not h.startswith(reviewed)] == []
    frontend = sorted((REPO / "explorer" / "app" / "map_frontend").glob("*.js"))
    # every file of ours (the vendored libraries aside): a shared module moved or renamed
    # must still be read here
    assert {"map.js", "map3d.js", "protocol.js", "thumbs.js"} <= {js.name for js in frontend}
    for js in frontend:
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write",
                             js.read_text()), js.name


def test_model_card_shows_catalogue_text_literally(hostile_bundle):
    at = _open(hostile_bundle, "pages/overview.py")
    text = check_page(at, "model card")
    assert HOSTILE_COLUMN in text          # the metadata column list


def test_home_shows_catalogue_text_literally(hostile_bundle):
    at = _open(hostile_bundle)
    check_page(at, "home")


def test_sliders_and_cards_show_names_literally(hostile_bundle):
    at = _open(hostile_bundle, "pages/sliders.py")
    text = check_page(at, "sliders", known=[])
    # the closest-product cards show names and brands, escaped but readable
    assert SCRIPT in text and IMG in text and LINK in text and BOLD in text
    # a search for markup is echoed as text
    at.text_input(key="a__q").input(SCRIPT + " nothing like it")
    at.run()
    _ok(at)
    assert SCRIPT in check_page(at, "sliders search", known=[])


def test_sliders_anchor_caption_is_escaped(hostile_bundle):
    at = _open(hostile_bundle, "pages/sliders.py")
    assert CAPTION_BUG not in rendered_markdown(at)


@pytest.mark.parametrize("page", ["pages/interpolation.py", "pages/arithmetic.py",
                                  "pages/similar.py"])
def test_other_explore_pages(hostile_bundle, page):
    at = _open(hostile_bundle, page)
    check_page(at, page)


@pytest.mark.parametrize("section", ["Information", "Factor names", "Metrics",
                                     "Attribute directions"])
def test_lab_sections(hostile_bundle, section):
    at = _open(hostile_bundle, "pages/lab.py", state={"section": section})
    check_page(at, f"lab/{section}")


@pytest.mark.parametrize("colour", ["colour", "brand", HOSTILE_COLUMN, "cluster"])
def test_catalogue_map_hover_legend_and_filters(hostile_bundle, colour):
    at = _open(hostile_bundle, "pages/catalogue_map.py", query={"proj": "PCA"})
    at.selectbox(key="colour").set_value(colour)
    at.run()
    _ok(at)
    check_page(at, f"catalogue map coloured by {colour}", known=[])
    # the map component gets catalogue text as data (legend labels; hover texts per image
    # shard) and shows it with textContent: it arrives unescaped, and is never HTML
    from explorer.app import mapcomponent
    args = json.loads(at.get("component_instance")[0].proto.json_args)
    if colour == "brand":
        assert any(SCRIPT in label or IMG in label for label, _ in args["legend"])
    from explorer.bundle.core import load_bundle
    texts = json.loads(mapcomponent.shard_texts(
        load_bundle(hostile_bundle, check_hashes=False).metadata, 0, 1024))
    joined = " ".join(" ".join(row) for row in texts)
    assert "<script>alert(1)</script>" in joined and "<img src=x onerror=alert(1)>" in joined
    # a selection shows cards: their text is escaped too
    next(b for b in at.button if b.key == "pick_cluster_0").click()
    at.run()
    _ok(at)
    check_page(at, "catalogue map selection", known=[])


def test_catalogue_map_filter_labels_are_escaped(hostile_bundle):
    at = _open(hostile_bundle, "pages/catalogue_map.py", query={"proj": "PCA"})
    assert FILTER_LABEL_BUG not in rendered_markdown(at)


# ---------------------------------------------------------------------------- uploads
def _png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit greyscale PNG of width x height white pixels, a few tens of KB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0,
                                                              0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def _upload(bundle: Path, page: str, radio_key: str | None, uploader_key: str,
            name: str, data: bytes) -> AppTest:
    at = _open(bundle, page)
    if radio_key:
        at.radio(key=radio_key).set_value("Upload a photo")
        at.run()
        _ok(at)
    at.file_uploader(key=uploader_key).set_value((name, data, "image/png"))
    at.run()
    _ok(at)
    return at


@pytest.mark.parametrize("page, radio_key, uploader_key", [
    ("pages/sliders.py", "a__src", "a__up"),          # the anchor picker
    ("pages/similar.py", None, "photo_up"),            # query by photo
])
def test_decompression_bomb_upload_is_refused_with_a_message(hostile_bundle, page, radio_key,
                                                              uploader_key):
    bomb = _png_bomb(20_000, 20_000)                 # 400 Mpx declared
    assert len(bomb) < 200_000
    at = _upload(hostile_bundle, page, radio_key, uploader_key, "bomb.png", bomb)
    errors = " ".join(e.value for e in at.error)
    assert "bomb.png was not used" in errors.replace("\\", "")
    assert "decompression bomb" in errors and "pixels" in errors


@pytest.mark.parametrize("page, radio_key, uploader_key", [
    ("pages/sliders.py", "a__src", "a__up"),
    ("pages/similar.py", None, "photo_up"),
])
def test_200mb_upload_is_refused_before_decoding(hostile_bundle, page, radio_key,
                                                 uploader_key):
    big = bytes(200 * 1024 * 1024)
    at = _upload(hostile_bundle, page, radio_key, uploader_key, "huge.png", big)
    errors = re.sub(r"\\(.)", r"\1", " ".join(e.value for e in at.error))
    assert "huge.png: 200.0 MiB is over the 20 MiB upload limit" in errors, errors
    assert not [i for i in at.image if "as the model sees it" in (i.captions or [])]


# ---------------------------------------------------------------------------- tag CSV
FORMULAS = ['=HYPERLINK("http://evil.example","click")', "+cmd|' /C calc'!A0", "-2+3",
            "@SUM(A1:A9)"]


def test_formula_tags_imported_in_the_app_are_exported_neutralised(hostile_bundle,
                                                                   monkeypatch):
    import streamlit
    downloads: list[tuple[str, object]] = []
    original = streamlit.download_button

    def recording(label, data, file_name=None, *args, **kwargs):
        if file_name and file_name.endswith(".csv"):
            downloads.append((file_name, data))
        return original(label, data, file_name, *args, **kwargs)

    monkeypatch.setattr(streamlit, "download_button", recording)
    at = _open(hostile_bundle, "pages/catalogue_map.py", query={"proj": "PCA"})
    rows = ["sku,tag"] + [f'SKU-{i:04d},"{f.replace(chr(34), chr(34) * 2)}"'
                          for i, f in enumerate(FORMULAS)]
    at.file_uploader(key="tag_import").set_value(
        ("evil.csv", ("\n".join(rows) + "\n").encode(), "text/csv"))
    at.run()
    _ok(at)
    assert "4 tag(s) added" in re.sub(r"\\(.)", r"\1", " ".join(s.value for s in at.success))
    check_page(at, "catalogue map after import", known=[])
    name, data = downloads[-1]
    assert name.startswith("tags-")
    data = data() if callable(data) else data      # made when the button is clicked
    data = data if isinstance(data, bytes) else data.encode()
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0] == ["sku", "tag", "changed_at", "changed_by"]
    got = {row[0]: row[1] for row in table[1:]}
    assert got == {f"SKU-{i:04d}": "'" + f for i, f in enumerate(FORMULAS)}
    for row in table[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row


@pytest.mark.parametrize("section", ["duplicates", "audit", "clusters"])
def test_hygiene_page_shows_catalogue_text_literally(hostile_bundle, section):
    at = _open(hostile_bundle, "pages/hygiene.py", state={
        "hy_section": section, "audit_col": HOSTILE_COLUMN, "audit_share": 0.5})
    text = check_page(at, f"hygiene/{section}")
    if section == "duplicates":          # the blocks repeat: groups captioned with names
        assert any(h in text for h in HOSTILE), text[:300]
    elif section == "audit":
        assert HOSTILE_COLUMN in text, text[:300]


# ---------------------------------------------------------------------------- bundle.json, saved
# names and directions (issue 15, part 2): text that does not come from the catalogue's table
@pytest.fixture(scope="module")
def hostile_info_bundle(hostile_bundle, tmp_path_factory) -> Path:
    """The hostile bundle with hostile bundle.json text: catalogue name, source, columns."""
    import shutil
    out = tmp_path_factory.mktemp("hostile-info") / "bundle"
    shutil.copytree(hostile_bundle, out, ignore=shutil.ignore_patterns("checkpoint"))
    info = json.loads((out / "bundle.json").read_text())
    info["catalogue"]["name"] = f"{LINK} [Re-login here]({URL}) ![x](http://evil.example/i.png)"
    info["catalogue"]["source"] = {"kind": IMG, "url": URL, "note": BOLD}
    info["metrics"]["device"] = SCRIPT + URL
    (out / "bundle.json").write_text(json.dumps(info))
    return out


def _save_hostile_names_and_direction(bundle: Path) -> None:
    from explorer.bundle.core import load_bundle
    from explorer.latent.directions import fit_direction, save_direction
    from explorer.latent.naming import save_names
    b = load_bundle(bundle, check_hashes=False)
    save_names(bundle, b.key, {d: f"{LINK} {IMG} {URL} {d}" for d in range(b.latent_dim)})
    labels = b.metadata["colour"]
    d = fit_direction(b.mu, labels, labels.iloc[0], name=f"{SCRIPT} {BOLD} {URL}")
    save_direction(bundle, b.key, d)


@pytest.mark.parametrize("page, state", [
    (None, {}), ("pages/sliders.py", {}), ("pages/similar.py", {}),
    ("pages/lab.py", {"section": "Factor names"}),
    ("pages/lab.py", {"section": "Attribute directions"}),
    ("pages/catalogue_map.py", {}),
])
def test_bundle_json_saved_names_and_directions_render_as_text(hostile_info_bundle, page,
                                                               state):
    _save_hostile_names_and_direction(hostile_info_bundle)
    at = _open(hostile_info_bundle, page, state=state)
    text = check_page(at, f"{page or 'overview'} with hostile names", known=[])
    helps = [t for f, t in rendered_markdown(at) if f.endswith(".help")]
    assert helps, "no tooltip was scanned"
    if page in (None,):
        assert "Re-login here" in text and "evil.example" in text
    if page == "pages/sliders.py":
        # the direction's tooltip (its classes are hostile catalogue values) was scanned
        assert any("alert" in h for h in helps), helps
