"""explorer.data.ingest: folder + CSV ingest with real bad files, Fashion-MNIST, the CLI."""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from explorer.data.catalogue import Catalogue
from explorer.cli.ingest import add_arguments, run
from explorer.data.ingest import (FMNIST_CLASSES, IngestError, IngestReport, ingest_fashion_mnist,
                                  ingest_folder)
from tests.test_images import write_png_bomb

COLOURS = {"red": (220, 30, 30), "green": (30, 190, 30), "blue": (30, 30, 220),
           "black": (10, 10, 10), "orange": (250, 150, 20)}


def put(folder: Path, rel: str, colour=(200, 0, 0), size=(60, 80), fmt=None) -> Path:
    p = folder / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, (255, 255, 255))
    img.paste(Image.new("RGB", (size[0] // 2, size[1] // 2), colour), (size[0] // 4, size[1] // 4))
    img.save(p, format=fmt)
    return p


def good_folder(root: Path) -> Path:
    images = root / "images"
    put(images, "red.jpg", COLOURS["red"])
    put(images, "green.png", COLOURS["green"])
    put(images, "sub/blue.webp", COLOURS["blue"])
    put(images, "sub/deeper/black.bmp", COLOURS["black"])
    return images


def bad_folder(root: Path) -> Path:
    """The good images plus one real file of each bad kind."""
    images = good_folder(root)
    full = put(images, "truncated.jpg", COLOURS["orange"], size=(200, 200)).read_bytes()
    (images / "truncated.jpg").write_bytes(full[: len(full) // 2])
    (images / "empty.png").write_bytes(b"")
    (images / "text.jpg").write_text("not really a jpeg")
    write_png_bomb(images / "bomb.png", 20000, 20000)
    (images / "notes.txt").write_text("shoot list")
    (images / ".DS_Store").write_bytes(b"\x00\x01")
    (images / ".thumbs").mkdir()
    put(images, ".thumbs/red.jpg", COLOURS["red"])
    outside = root / "outside.jpg"
    put(root, "outside.jpg", COLOURS["orange"])
    os.symlink(outside, images / "link_out.jpg")
    return images


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under folder: (kind, size, mtime_ns, sha256 or link target)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            if p.is_symlink():
                out[str(p.relative_to(folder))] = ("link", os.readlink(p), st.st_mtime_ns)
            elif p.is_dir():
                out[str(p.relative_to(folder))] = ("dir", st.st_mtime_ns, st.st_mode)
            else:
                out[str(p.relative_to(folder))] = ("file", st.st_size, st.st_mtime_ns,
                                                   st.st_mode,
                                                   hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def entries_by_item(report: IngestReport) -> dict[str, list]:
    out: dict[str, list] = {}
    for e in report.entries:
        out.setdefault(e.item, []).append(e)
    return out


def write_csv(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


# ----------------------------------------------------------------------------- folder only
def test_folder_without_csv(tmp_path):
    images = good_folder(tmp_path)
    put(images, "other/red.png", COLOURS["orange"])  # same stem as red.jpg
    cat, report = ingest_folder(images, size=32, progress=False)
    assert isinstance(cat, Catalogue)
    assert cat.images.shape == (5, 32, 32, 3) and cat.images.dtype == np.uint8
    assert list(cat.metadata.columns) == ["sku", "file", "name"]
    assert list(cat.metadata["file"]) == ["green.png", "red.jpg", "other/red.png",
                                          "sub/blue.webp", "sub/deeper/black.bmp"]
    assert list(cat.metadata["sku"]) == ["green", "red", "red-2", "blue", "black"]
    assert list(cat.metadata["name"]) == ["green", "red", "red", "blue", "black"]
    assert cat.metadata["sku"].is_unique
    (renamed,) = report.flagged
    assert renamed.item == "other/red.png" and renamed.kind == "renamed-sku"
    assert "red-2" in renamed.reason
    # white padding, product colour in the middle
    assert tuple(cat.images[1, 0, 0]) == (255, 255, 255)
    assert np.abs(cat.images[1, 16, 16].astype(int) - COLOURS["red"]).max() < 25
    assert cat.source["kind"] == "folder" and cat.name == "images"


def test_bad_files_are_skipped_with_reasons_and_source_untouched(tmp_path):
    images = bad_folder(tmp_path)
    before = snapshot(images)
    cat, report = ingest_folder(images, size=32, progress=False)
    assert snapshot(images) == before  # listing, sizes, mtimes, modes, hashes

    assert sorted(cat.metadata["file"]) == ["green.png", "red.jpg", "sub/blue.webp",
                                            "sub/deeper/black.bmp"]
    got = {e.item: (e.kind, e.action) for e in report.entries}
    assert got == {
        "truncated.jpg": ("corrupt", "skipped"),
        "empty.png": ("empty-file", "skipped"),
        "text.jpg": ("not-an-image", "skipped"),
        "bomb.png": ("too-many-pixels", "skipped"),
        "notes.txt": ("not-an-image-extension", "skipped"),
        "link_out.jpg": ("outside-folder", "skipped"),
    }
    reasons = {e.item: e.reason for e in report.entries}
    assert "truncated" in reasons["truncated.jpg"]
    assert "empty" in reasons["empty.png"]
    assert "not an image" in reasons["text.jpg"]
    assert "20000x20000" in reasons["bomb.png"] or "bomb" in reasons["bomb.png"]
    assert "outside" in reasons["link_out.jpg"]
    assert report.hidden_ignored == 2 and report.ingested == 4
    c = report.counts
    assert c["skipped"] == 6 and c["flagged"] == 0 and c["by_kind"]["corrupt"]["skipped"] == 1

    text = report.to_text()
    for item, reason in reasons.items():
        assert item in text and reason in text
    data = json.loads(report.to_json())
    assert len(data["entries"]) == 6 and data["counts"]["ingested"] == 4
    assert {"item", "kind", "action", "reason"} <= set(data["entries"][0])
    assert data["policies"]


def test_only_bad_files_is_a_clear_error(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.jpg").write_text("nope")
    (images / "b.png").write_bytes(b"")
    with pytest.raises(IngestError, match="no valid images") as e:
        ingest_folder(images, progress=False)
    assert "not-an-image" in str(e.value) and "empty-file" in str(e.value)
    assert e.value.report is not None and len(e.value.report.skipped) == 2
    with pytest.raises(IngestError, match="does not exist"):
        ingest_folder(tmp_path / "missing", progress=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(IngestError, match="no valid images"):
        ingest_folder(empty, progress=False)


def test_duplicate_images_are_kept_and_flagged(tmp_path):
    images = good_folder(tmp_path)
    put(images, "copy_of_red.png", COLOURS["red"])  # PNG of the JPEG's content: not the same
    (images / "z_same_red.jpg").write_bytes((images / "red.jpg").read_bytes())
    cat, report = ingest_folder(images, size=32, progress=False)
    assert len(cat) == 6
    dups = [e for e in report.entries if e.kind == "duplicate-image"]
    assert [(e.item, e.action) for e in dups] == [("z_same_red.jpg", "flagged")]
    assert "red.jpg" in dups[0].reason and "'red'" in dups[0].reason


def test_parallel_equals_serial(tmp_path):
    images = tmp_path / "many"
    rng = np.random.default_rng(1)
    for i in range(80):
        put(images, f"p{i:03d}.jpg", tuple(int(v) for v in rng.integers(0, 255, 3)))
    (images / "p999.jpg").write_text("broken")
    serial, rep1 = ingest_folder(images, size=16, workers=1, progress=False)
    para, rep2 = ingest_folder(images, size=16, workers=2, progress=False)
    assert np.array_equal(serial.images, para.images)
    pd.testing.assert_frame_equal(serial.metadata, para.metadata)
    assert serial.fingerprint == para.fingerprint and rep1.entries == rep2.entries


def test_saved_catalogue_round_trips(tmp_path):
    images = good_folder(tmp_path)
    csv = write_csv(tmp_path / "catalog.csv", "file,sku,price,colorway\n"
                    "red.jpg,007,120,\ngreen.png,S2,99.5,Bred\n")
    cat, report = ingest_folder(images, csv, size=16, progress=False)
    cat.save(tmp_path / "out")
    back = Catalogue.load(tmp_path / "out", verify=True)
    assert back.fingerprint == cat.fingerprint
    pd.testing.assert_frame_equal(back.metadata, cat.metadata)
    assert cat.metadata.loc[0, "sku"] == "007"



def test_a_sparse_column_reads_as_one_type_without_a_warning(tmp_path):
    # pandas guesses types per chunk of rows unless told otherwise: a column with a few text
    # values at the top and a long empty stretch came back mixed, with a DtypeWarning
    import warnings

    from explorer.data.catalogue import metadata_to_csv_bytes, read_metadata_csv
    n = 300_000
    upper = pd.Series([None] * n, dtype=object)
    upper.iloc[0], upper.iloc[1], upper.iloc[n - 1] = "suede", "mesh", "9.5"
    md = pd.DataFrame({"sku": [f"S{i}" for i in range(n)], "upper": upper})
    path = tmp_path / "metadata.csv"
    path.write_bytes(metadata_to_csv_bytes(md))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = read_metadata_csv(path)
    kinds = {type(v).__name__ for v in back["upper"].dropna()}
    assert kinds == {"str"}, kinds
    assert list(back["upper"].dropna()) == ["suede", "mesh", "9.5"]

# ----------------------------------------------------------------------------- CSV joins
def test_csv_join_on_file(tmp_path):
    images = good_folder(tmp_path)
    csv = write_csv(tmp_path / "catalog.csv",
                    "file,sku,name,brand,price\n"
                    "sub/blue.webp,B-1,Blue Runner,Acme,120\n"
                    "./red.jpg,R-1,Red Court,,89.5\n"
                    "sub/deeper/../deeper/black.bmp,K-1,Black Boot,Boots Co,\n")
    cat, report = ingest_folder(images, csv, size=16, progress=False)
    md = cat.metadata
    assert list(md.columns) == ["sku", "file", "name", "brand", "price"]
    assert list(md["sku"]) == ["B-1", "R-1", "K-1", "green"]  # CSV order, then the rest
    assert list(md["file"]) == ["sub/blue.webp", "red.jpg", "sub/deeper/black.bmp", "green.png"]
    assert md.loc[0, "name"] == "Blue Runner" and md.loc[3, "name"] == "green"
    assert pd.isna(md.loc[1, "brand"]) and pd.isna(md.loc[2, "price"])
    assert md.loc[1, "price"] == 89.5
    (flag,) = report.flagged
    assert (flag.item, flag.kind) == ("green.png", "no-csv-row") and "catalog.csv" in flag.reason
    assert report.join == "file" and report.csv_rows == 3


def test_csv_join_on_sku(tmp_path):
    images = good_folder(tmp_path)
    csv = write_csv(tmp_path / "catalog.csv",
                    "sku,colorway\nred,University Red\nblue,Royal\nmissing,Ghost\n")
    cat, report = ingest_folder(images, csv, size=16, progress=False)
    md = cat.metadata
    assert list(md["sku"]) == ["red", "blue", "green", "black"]
    assert list(md["file"][:2]) == ["red.jpg", "sub/blue.webp"]
    assert md.loc[1, "colorway"] == "Royal" and pd.isna(md.loc[2, "colorway"])
    got = {(e.item, e.kind, e.action) for e in report.entries}
    assert got == {("catalog.csv:4", "missing-file", "skipped"),
                   ("green.png", "no-csv-row", "flagged"),
                   ("sub/deeper/black.bmp", "no-csv-row", "flagged")}
    assert report.join == "sku"


def test_csv_rows_pointing_at_missing_or_outside_files(tmp_path):
    images = good_folder(tmp_path)
    secret = tmp_path / "secret.jpg"
    put(tmp_path, "secret.jpg", COLOURS["orange"])
    os.symlink(secret, images / "sneaky.jpg")
    csv = write_csv(tmp_path / "catalog.csv",
                    "file,sku\n"
                    "red.jpg,R\n"
                    "nothere.jpg,M\n"
                    "../../etc/passwd,P\n"
                    f"{secret},A\n"
                    "sneaky.jpg,S\n"
                    "sub/../../secret.jpg,T\n"
                    ",E\n")
    before = snapshot(images)
    cat, report = ingest_folder(images, csv, size=16, progress=False)
    assert snapshot(images) == before
    assert "R" in set(cat.metadata["sku"])
    assert not {"M", "P", "A", "S", "T", "E"} & set(cat.metadata["sku"])
    by = entries_by_item(report)
    assert by["catalog.csv:3"][0].kind == "missing-file"
    assert "nothere.jpg" in by["catalog.csv:3"][0].reason
    for line in (4, 5, 6, 7):
        (e,) = by[f"catalog.csv:{line}"]
        assert (e.kind, e.action) == ("outside-folder", "skipped"), e
        assert "line" in e.reason
    assert "../../etc/passwd" in by["catalog.csv:4"][0].reason
    assert "absolute" in by["catalog.csv:5"][0].reason
    assert "symbolic link" in by["catalog.csv:6"][0].reason
    assert by["catalog.csv:8"][0].kind == "empty-key"
    assert by["sneaky.jpg"][0].kind == "outside-folder"  # the walk refuses it too


def test_malformed_csv_rows_are_skipped_with_line_numbers(tmp_path):
    images = good_folder(tmp_path)
    csv = write_csv(tmp_path / "catalog.csv",
                    'file,sku,name\n'
                    'red.jpg,R,"Red, the ""classic"""\n'
                    'green.png,G,Green,extra\n'
                    'sub/blue.webp,B,"Blue"oops\n'
                    '\n'
                    'sub/deeper/black.bmp,K,"multi\nline name"\n')
    cat, report = ingest_folder(images, csv, size=16, progress=False)
    md = cat.metadata.set_index("sku")
    assert md.loc["R", "name"] == 'Red, the "classic"'
    assert md.loc["K", "name"] == "multi\nline name"
    by = entries_by_item(report)
    (e3,) = by["catalog.csv:3"]
    assert e3.kind == "malformed-row" and "expected 3 fields" in e3.reason and "4" in e3.reason
    (e4,) = by["catalog.csv:4"]
    assert e4.kind == "malformed-row" and "line 4" in e4.reason
    # the images of skipped rows are not lost: kept with file-name metadata, flagged
    assert {"green", "blue"} <= set(cat.metadata["sku"])
    assert {e.kind for e in by["green.png"]} == {"no-csv-row"}
    assert report.csv_rows == 4
    assert "skipped" in report.policies[0]


def test_csv_with_unclosed_quote_is_refused(tmp_path):
    images = good_folder(tmp_path)
    csv = write_csv(tmp_path / "catalog.csv",
                    'file,sku\nred.jpg,R\ngreen.png,"G\nsub/blue.webp,B\n')
    with pytest.raises(IngestError, match=r"line 3.*never closed"):
        ingest_folder(images, csv, progress=False)


def test_non_utf8_csv_is_refused_with_position(tmp_path):
    images = good_folder(tmp_path)
    csv = write_csv(tmp_path / "catalog.csv",
                    "file,sku,name\nred.jpg,R,Red\ngreen.png,G,Caf\xe9 Green\n".encode("latin-1"))
    with pytest.raises(IngestError) as e:
        ingest_folder(images, csv, progress=False)
    msg = str(e.value)
    assert "not UTF-8" in msg and "line 3" in msg and "byte 16" in msg and "0xe9" in msg
    # a UTF-8 BOM (Excel's "CSV UTF-8") is fine
    write_csv(csv, b"\xef\xbb\xbf" + "file,sku,name\nred.jpg,R,Caf\xe9\n".encode())
    cat, _ = ingest_folder(images, csv, progress=False)
    assert cat.metadata.loc[0, "name"] == "Caf\xe9"


def test_csv_without_key_column_is_refused(tmp_path):
    images = good_folder(tmp_path)
    csv = write_csv(tmp_path / "catalog.csv", "path,title\nred.jpg,Red\n")
    with pytest.raises(IngestError) as e:
        ingest_folder(images, csv, progress=False)
    msg = str(e.value)
    assert "no 'file' or 'sku' column" in msg and "'path'" in msg and "expected" in msg
    for text, pattern in [("", "empty"), ("file,sku,file\nred.jpg,R,x\n", "appears twice")]:
        write_csv(csv, text)
        with pytest.raises(IngestError, match=pattern):
            ingest_folder(images, csv, progress=False)
    with pytest.raises(IngestError, match="not found"):
        ingest_folder(images, tmp_path / "nope.csv", progress=False)


def test_duplicate_skus_keep_first(tmp_path):
    images = good_folder(tmp_path)
    csv = write_csv(tmp_path / "catalog.csv",
                    "file,sku\nred.jpg,DUP\ngreen.png,DUP\nsub/blue.webp,OK\nred.jpg,OTHER\n")
    cat, report = ingest_folder(images, csv, size=16, progress=False)
    md = cat.metadata.set_index("sku")
    assert md.loc["DUP", "file"] == "red.jpg" and "OTHER" not in md.index
    assert cat.metadata["sku"].is_unique
    by = entries_by_item(report)
    (dup,) = by["catalog.csv:3"]
    assert (dup.kind, dup.action) == ("duplicate-sku", "skipped") and "line 2" in dup.reason
    (dfile,) = by["catalog.csv:5"]
    assert dfile.kind == "duplicate-file-row" and "line 2" in dfile.reason
    (kept,) = by["green.png"]  # the image of the skipped row is still in the catalogue
    assert kept.kind == "no-csv-row" and "line 3" in kept.reason
    assert md.loc["green", "file"] == "green.png"


def test_csv_inside_images_folder_is_not_an_image(tmp_path):
    images = good_folder(tmp_path)
    csv = write_csv(images / "catalog.csv", "file,sku\nred.jpg,R\n")
    cat, report = ingest_folder(images, csv, size=16, progress=False)
    assert not [e for e in report.entries if "catalog.csv" == e.item]
    assert len(cat) == 4


# ----------------------------------------------------------------------------- CLI
def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return run(parser.parse_args(argv))


def test_cli_folder_writes_catalogue_and_report(tmp_path, capsys):
    images = bad_folder(tmp_path)
    csv = write_csv(tmp_path / "catalog.csv", "file,sku\nred.jpg,R\n../../etc/passwd,X\n")
    out = tmp_path / "out"
    assert cli([str(images), "--catalog", str(csv), "--size", "16", "--out", str(out),
                "--background", "#F0F0F0", "--workers", "1", "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    assert "truncated.jpg" in stdout and "outside-folder" in stdout
    cat = Catalogue.load(out, verify=True)
    assert len(cat) == 4 and cat.size == 16
    assert tuple(cat.images[0, 0, 0]) == (240, 240, 240)
    rep = json.loads((out / "ingest_report.json").read_text())
    assert rep["counts"]["ingested"] == 4
    assert "catalog.csv:3" in (out / "ingest_report.txt").read_text()


@pytest.mark.parametrize("make_args, pattern", [
    (lambda t: [str(t / "missing"), "--out", str(t / "o")], "does not exist"),
    (lambda t: [str(t / "images"), "--out", str(t / "images" / "out")], "inside the images"),
    (lambda t: [str(t / "images"), "--catalog", str(t / "bad.csv"), "--out", str(t / "o")],
     "not UTF-8"),
    (lambda t: [str(t / "images"), "--out", str(t / "o"), "--background", "nope"],
     "background"),
    (lambda t: [str(t / "images"), "--out", str(t / "o"), "--size", "3"], "size"),
    (lambda t: ["--out", str(t / "o")], "IMAGES_DIR"),
    (lambda t: ["--fashion-mnist", "--fmnist-path", str(t / "nofm"), "--out", str(t / "o")],
     "not found"),
])
def test_cli_fatal_input_exits_2_with_one_line(tmp_path, capsys, make_args, pattern):
    good_folder(tmp_path)
    write_csv(tmp_path / "bad.csv", b"file\n\xff\xfe\n")
    assert cli(make_args(tmp_path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "Traceback" not in err[0]
    assert pattern in err[0]
    assert not (tmp_path / "images" / "out").exists()


# ----------------------------------------------------------------------------- Fashion-MNIST
def test_fashion_mnist_footwear(fashion_mnist_dir):
    cat = ingest_fashion_mnist(fashion_mnist_dir, size=32, limit=60)
    assert cat.images.shape == (60, 32, 32, 3) and cat.images.dtype == np.uint8
    md = cat.metadata
    assert set(md["class"]) <= {"Sandal", "Sneaker", "Ankle boot"} and md["class"].nunique() == 3
    assert list(md.columns) == ["sku", "name", "class", "split", "index"]
    assert md["sku"].is_unique and md["sku"].str.fullmatch(r"FMNIST-train-\d{6}").all()
    first = md.iloc[0]
    assert first["sku"] == f"FMNIST-train-{first['index']:06d}"
    assert first["name"] == f"{first['class']} #{first['index']}"
    # inverted: white background in every corner, a darker product in the middle
    for corner in (cat.images[:, 0, 0], cat.images[:, 0, -1], cat.images[:, -1, 0],
                   cat.images[:, -1, -1]):
        assert (corner >= 250).all()
    assert cat.images[:, 12:20, 12:20].mean() < 200
    assert np.array_equal(cat.images[..., 0], cat.images[..., 2])  # grey as RGB
    assert cat.source == {**cat.source, "kind": "fashion-mnist", "classes": "footwear",
                          "split": "train"}


def test_fashion_mnist_all_classes_test_split(fashion_mnist_dir):
    cat = ingest_fashion_mnist(fashion_mnist_dir, classes="all", split="test", size=28, limit=40)
    assert len(cat) == 40 and cat.size == 28
    assert set(cat.metadata["class"]) <= set(FMNIST_CLASSES)
    assert cat.metadata["class"].nunique() > 3
    assert (cat.metadata["split"] == "test").all()
    assert list(cat.metadata["index"]) == list(range(40))


def test_fashion_mnist_cli(fashion_mnist_dir, tmp_path, capsys):
    out = tmp_path / "fm"
    assert cli(["--fashion-mnist", "--fmnist-path", str(fashion_mnist_dir), "--split", "all",
                "--limit", "12", "--size", "16", "--out", str(out)]) == 0
    cat = Catalogue.load(out, verify=True)
    assert len(cat) == 12 and cat.source["kind"] == "fashion-mnist"


def write_idx(path: Path, magic: int, dims: tuple[int, ...], data: bytes) -> Path:
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims) + data)
    return path


def test_fashion_mnist_bad_files_are_named(tmp_path):
    fm = tmp_path / "fm"
    fm.mkdir()
    labels = bytes([7, 5, 0, 9])
    write_idx(fm / "train-labels-idx1-ubyte.gz", 0x801, (4,), labels)
    with pytest.raises(IngestError, match="train-images-idx3-ubyte.gz.*not found"):
        ingest_fashion_mnist(fm)
    # wrong magic (labels file in place of images)
    write_idx(fm / "train-images-idx3-ubyte.gz", 0x801, (4,), labels)
    with pytest.raises(IngestError, match=r"train-images-idx3-ubyte.gz: bad magic"):
        ingest_fashion_mnist(fm)
    # truncated data
    write_idx(fm / "train-images-idx3-ubyte.gz", 0x803, (4, 28, 28), b"\x00" * (28 * 28 * 2))
    with pytest.raises(IngestError, match="truncated"):
        ingest_fashion_mnist(fm)
    # not gzip at all
    (fm / "train-images-idx3-ubyte.gz").write_bytes(b"plain text")
    with pytest.raises(IngestError, match="train-images-idx3-ubyte.gz"):
        ingest_fashion_mnist(fm)
    # a good tiny file works
    pixels = np.zeros((4, 28, 28), np.uint8)
    pixels[:, 10:18, 10:18] = 255
    write_idx(fm / "train-images-idx3-ubyte.gz", 0x803, (4, 28, 28), pixels.tobytes())
    cat = ingest_fashion_mnist(fm, size=28)
    assert list(cat.metadata["class"]) == ["Sneaker", "Sandal", "Ankle boot"]
    assert list(cat.metadata["index"]) == [0, 1, 3]
    assert (cat.images[:, 0, 0] == 255).all() and (cat.images[:, 14, 14] == 0).all()
    with pytest.raises(IngestError, match="unknown Fashion-MNIST class"):
        ingest_fashion_mnist(fm, classes="hats")
