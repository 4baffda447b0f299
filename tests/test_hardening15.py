"""Issue 15, part 7: smaller holes found by trying the app as a careless user would."""
import contextlib
import os
import sqlite3
import subprocess

import numpy as np
import pandas as pd
import pytest

from explorer.render import mapview
from explorer.store.annotations import AnnotationStore, AnnotationStoreError
from explorer.cli import main as cli_main
from explorer.data.ingest import IngestError, IngestReport
from explorer.data.ingest_csv import _read_catalog_csv
from tests.helpers import blocks_catalogue


FAST = ["--batch-size", "16", "--projections", "pca", "--threads", "1", "--no-progress",
        "--latent-dim", "4", "--channels", "8,8,8", "--hidden-dim", "32"]


@pytest.fixture(scope="module")
def cat_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cat")
    blocks_catalogue(40).save(root / "cat")
    return root / "cat"


@pytest.mark.parametrize("flags, message", [
    (["--epochs", "0"], "--epochs must be an integer >= 1"),
    (["--batch-size", "0"], "--batch-size must be an integer >= 1"),
    (["--lr", "nan"], "--lr must be a number > 0"),
    (["--val-fraction", "1"], "--val-fraction must be in [0, 1)"),
    (["--hidden-dim", "200000"], "hidden_dim must be in 1..8192"),
    (["--channels", "4096,4096,4096"], "parameters"),
])
def test_bad_training_settings_are_refused_before_anything_is_written(cat_dir, tmp_path,
                                                                       capsys, flags, message):
    out = tmp_path / "b"
    args = ["train", str(cat_dir), "--out", str(out), "--epochs", "1", *FAST, *flags]
    rc = cli_main(args)
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err, err
    assert not out.exists()


def _write_csv(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_a_long_unquoted_cell_is_not_reported_as_an_unclosed_quote(tmp_path):
    big = "x" * (200 * 1024)
    cases = {
        "unquoted": f"sku,name\nA,short\nB,{big}\n",
        "quoted": f'sku,name\nA,short\nB,"{big}"\n',
    }
    for what, text in cases.items():
        with pytest.raises(IngestError) as e:
            _read_catalog_csv(_write_csv(tmp_path / f"{what}.csv", text), IngestReport())
        msg = str(e.value)
        assert f"line 3: a {what} cell is longer than 128 KiB" in msg, msg
        assert "never closed" not in msg
    with pytest.raises(IngestError, match="line 3: a quoted field is never closed"):
        _read_catalog_csv(_write_csv(tmp_path / "open.csv", f'sku,name\nA,x\nB,"{big}\n'),
                          IngestReport())


def test_catalogue_columns_named_like_built_in_colourings_stay_reachable():
    choices = mapview.colour_choices(["brand", "tag", "cluster", "tag (column)", "none"])
    assert choices["tag"] == ("tag", None) and choices["cluster"] == ("cluster", None)
    assert choices["none"] == ("none", None)
    assert choices["tag (column)"] == ("column", "tag")
    assert choices["cluster (column)"] == ("column", "cluster")
    assert choices["tag (column) (column)"] == ("column", "tag (column)")
    assert choices["none (column)"] == ("column", "none")
    assert choices["brand"] == ("column", "brand")
    assert len(set(choices.values())) == len(choices)


@contextlib.contextmanager
def _read_only(*paths):
    """Make paths unwritable for this process, even for root (immutable attribute)."""
    if os.geteuid() != 0:
        modes = [(p, p.stat().st_mode) for p in paths]
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, m in modes:
                p.chmod(m)
        return
    done = []
    try:
        for p in paths:
            if subprocess.run(["chattr", "+i", str(p)], capture_output=True).returncode:
                pytest.skip("running as root and chattr +i is not available")
            done.append(p)
        yield
    finally:
        for p in done:
            subprocess.run(["chattr", "-i", str(p)], capture_output=True)


@pytest.mark.parametrize("folder_too", [False, True])
def test_a_read_only_tag_database_shows_its_tags_and_refuses_writes(tmp_path, folder_too):
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "annotations.sqlite"
    store = AnnotationStore(db, "f" * 16)
    store.add_tag("retro", ["A", "B"], user="ann")
    store.close()
    with sqlite3.connect(db) as conn:  # fold the WAL in, as after a clean shutdown
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for extra in ("-wal", "-shm"):
        p = db.with_name(db.name + extra)
        if p.exists():
            p.unlink()
    with _read_only(*([db, folder] if folder_too else [db])):
        ro = AnnotationStore(db, "f" * 16)
        assert ro.read_only
        assert ro.skus_with("retro") == ["A", "B"]
        assert ro.tag_column(["A", "C"]) == ["retro", "untagged"]
        with pytest.raises(AnnotationStoreError, match="read-only"):
            ro.add_tag("x", ["A"])
        ro.close()


def test_find_similar_opens_when_an_attribute_has_exactly_two_known_values(tmp_path,
                                                                          monkeypatch):
    import gzip
    import json

    from explorer.bundle.checks import sha256_file
    from explorer.data.catalogue import metadata_to_csv_bytes, read_metadata_csv
    from tests.helpers import copy_demo_bundle, open_page
    bundle = copy_demo_bundle(tmp_path / "bundle")
    md = read_metadata_csv(bundle / "metadata.csv.gz")
    rare = pd.Series([None] * len(md), dtype=object)
    rare.iloc[0], rare.iloc[1] = "suede", "mesh"
    md.insert(1, "upper", rare)
    (bundle / "metadata.csv.gz").write_bytes(gzip.compress(metadata_to_csv_bytes(md), mtime=0))
    info = json.loads((bundle / "bundle.json").read_text())
    fp = bundle / "metadata.csv.gz"
    info["files"]["metadata.csv.gz"] = {"bytes": fp.stat().st_size, "sha256": sha256_file(fp)}
    (bundle / "bundle.json").write_text(json.dumps(info))
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(tmp_path / "data"))
    at = open_page(bundle, "pages/similar.py")
    assert any("too few to measure" in i.value for i in at.info), [i.value for i in at.info]
