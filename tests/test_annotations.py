"""explorer.store.annotations: tags and accepted imputations in a real SQLite file.

No mocks: every test works on a database file under tmp_path; the concurrency and crash tests
use real processes (spawn) and real SIGKILLs.
"""
from __future__ import annotations

import csv
import io
import multiprocessing as mp
import os
import random
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest

from explorer.store.annotations import (UNTAGGED, AnnotationStore, AnnotationStoreError,
                                  default_db_path, neutralize_cell, normalize_tag,
                                  unneutralize_cell)

FP = "0123456789abcdef"
SKUS = [f"SKU-{i:04d}" for i in range(2000)]
EVIL = '=HYPERLINK("http://evil","x")'


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "annotations.sqlite"


@pytest.fixture
def store(db) -> AnnotationStore:
    return AnnotationStore(db, FP, known_skus=SKUS)


def tag_rows(path: Path, fingerprint: str = FP) -> set[tuple]:
    """Every tag row exactly as stored, read with a connection of our own."""
    with sqlite3.connect(path) as conn:
        return set(conn.execute("SELECT sku, tag, changed_at, changed_by, action_id FROM tags "
                                "WHERE fingerprint = ?", (fingerprint,)))


def pairs(path: Path, fingerprint: str = FP) -> set[tuple[str, str]]:
    return {(sku, tag) for sku, tag, *_ in tag_rows(path, fingerprint)}


# ---------------------------------------------------------------------------- paths
def test_default_db_path_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("KICKSPACE_ANNOTATIONS_DB", raising=False)
    monkeypatch.delenv("KICKSPACE_DATA_DIR", raising=False)
    assert default_db_path("checkpoints/demo", FP) == Path("data") / f"annotations-{FP}.sqlite"
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(tmp_path / "d"))
    assert default_db_path(None, FP) == tmp_path / "d" / f"annotations-{FP}.sqlite"
    monkeypatch.setenv("KICKSPACE_ANNOTATIONS_DB", str(tmp_path / "one.sqlite"))
    assert default_db_path("checkpoints/demo", FP) == tmp_path / "one.sqlite"
    with pytest.raises(ValueError, match="fingerprint"):
        default_db_path(None, "../../etc/passwd")
    with pytest.raises(ValueError, match="fingerprint"):
        default_db_path(None, "")


def test_for_bundle_uses_fingerprint_and_skus(monkeypatch, tmp_path):
    import pandas as pd
    class FakeBundle:  # the two attributes for_bundle reads (a real Bundle needs a model)
        path = tmp_path / "bundle"
        fingerprint = FP
        metadata = pd.DataFrame({"sku": ["A1", "B2"]})
    monkeypatch.delenv("KICKSPACE_ANNOTATIONS_DB", raising=False)
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(tmp_path / "data"))
    s = AnnotationStore.for_bundle(FakeBundle())
    assert s.path == tmp_path / "data" / f"annotations-{FP}.sqlite" and s.path.is_file()
    assert s.known_skus == {"A1", "B2"}
    with pytest.raises(ValueError, match="not in this catalogue"):
        s.add_tag("x", ["C3"])


def test_database_settings_and_bad_files(db, tmp_path):
    s = AnnotationStore(db, FP)
    assert s.journal_mode == "wal"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database, just text " * 100)
    with pytest.raises(AnnotationStoreError, match="not a usable SQLite database"):
        AnnotationStore(junk, FP)
    with pytest.raises(ValueError, match="database file"):
        AnnotationStore(":memory:", FP)


def test_stores_for_two_catalogues_share_a_file_without_mixing(db):
    a, b = AnnotationStore(db, "aaaa"), AnnotationStore(db, "bbbb")
    a.add_tag("retro", ["X1", "X2"])
    b.add_tag("retro", ["X3"])
    assert a.skus_with("retro") == ["X1", "X2"] and b.skus_with("retro") == ["X3"]
    assert b.undo_last() is not None and a.skus_with("retro") == ["X1", "X2"]


# ---------------------------------------------------------------------------- validation
@pytest.mark.parametrize("bad, why", [
    ("", "empty"), ("   ", "empty"), ("x" * 101, "at most 100"), ("a\x00b", "control"),
    ("line\nbreak", "control"), ("tab\there", "control"), ("\u202eevil", "control"),
    (None, "string"), (3, "string"), ("Untagged", "reserved"),
])
def test_bad_tags_are_refused_with_a_reason(store, db, bad, why):
    with pytest.raises(ValueError, match=why):
        store.add_tag(bad, SKUS[:2])
    assert pairs(db) == set()


def test_tags_are_trimmed_and_normalised(store):
    assert normalize_tag("  retro  ") == "retro"
    assert normalize_tag("x" * 100) == "x" * 100
    assert normalize_tag("Cafe\u0301") == "Caf\u00e9"
    store.add_tag("  retro ", SKUS[:2])
    assert store.add_tag("retro", SKUS[:2]) == 0
    assert store.skus_with(" retro") == SKUS[:2]


def test_bad_skus_and_users_are_refused(store, db):
    with pytest.raises(ValueError, match="not one string"):
        store.add_tag("retro", "SKU-0001")
    with pytest.raises(ValueError, match="not in this catalogue"):
        store.add_tag("retro", [SKUS[0], "NOPE-1"])
    with pytest.raises(ValueError, match="must be a string"):
        store.add_tag("retro", [SKUS[0], float("nan")])
    with pytest.raises(ValueError, match="empty"):
        store.add_tag("retro", [""])
    with pytest.raises(ValueError, match="user"):
        store.add_tag("retro", SKUS[:1], user="a\nb")
    assert pairs(db) == set()                       # a refused call changes nothing at all
    assert store.history().empty
    assert store.add_tag("retro", []) == 0


# ---------------------------------------------------------------------------- bulk operations
def test_bulk_add_is_idempotent_and_counts(store, db):
    assert store.add_tag("retro", SKUS[:100], user="ann") == 100
    assert store.add_tag("retro", SKUS[50:150] + SKUS[50:60], user="bob") == 50
    assert store.add_tag("retro", SKUS[:150]) == 0
    assert len(tag_rows(db)) == 150
    tags = store.tags()
    assert list(tags.columns) == ["tag", "count", "last_changed"]
    assert tags.set_index("tag")["count"].to_dict() == {"retro": 150}
    by = {r[0]: r[3] for r in tag_rows(db)}
    assert by[SKUS[0]] == "ann" and by[SKUS[120]] == "bob" and by[SKUS[55]] == "ann"
    h = store.history()
    assert list(h["kind"]) == ["add", "add"] and list(h["rows"]) == [50, 100]
    assert list(h["changed_by"]) == ["bob", "ann"]
    assert h["changed_at"].dt.tz is not None


def test_remove_and_its_undo_restore_exactly(store, db):
    store.add_tag("retro", SKUS[:10], user="ann")
    store.add_tag("retro", SKUS[10:20], user="bob")
    before = tag_rows(db)
    assert store.remove_tag("retro", SKUS[5:15] + ["SKU-1999"], user="cat") == 10
    assert store.skus_with("retro") == SKUS[:5] + SKUS[15:20]
    assert store.remove_tag("retro", SKUS[5:15]) == 0          # no-op: not recorded
    assert len(store.history()) == 3
    text = store.undo_last()
    assert text.startswith("undid #3") and "removed tag 'retro' from 10 SKUs" in text
    assert tag_rows(db) == before                  # same rows, times, users and action ids


def test_add_undo_removes_only_what_it_added(store, db):
    store.add_tag("retro", SKUS[:5], user="ann")
    before = tag_rows(db)
    assert store.add_tag("retro", SKUS[:10], user="bob") == 5
    assert "added tag 'retro' to 5 SKUs" in store.undo_last()
    assert tag_rows(db) == before


def test_rename_merge_and_undo_restore_exactly(store, db):
    store.add_tag("retro", SKUS[:10], user="ann")
    store.add_tag("vintage", SKUS[5:15], user="bob")
    before = tag_rows(db)
    assert store.rename_tag("retro", "vintage", user="cat") == 10
    assert store.skus_with("retro") == []
    assert store.skus_with("vintage") == SKUS[:15]
    assert "merged tag 'retro' into 'vintage'" in store.history()["description"].iloc[0]
    store.undo_last()
    assert tag_rows(db) == before
    assert store.rename_tag("retro", "classic") == 10
    assert store.tags().set_index("tag")["count"].to_dict() == {"classic": 10, "vintage": 10}
    with pytest.raises(ValueError, match="no SKU has the tag 'retro'"):
        store.rename_tag("retro", "x")
    assert store.rename_tag("classic", " classic ") == 0


def test_delete_and_undo_restore_exactly(store, db):
    store.add_tag("retro", SKUS[:30], user="ann")
    store.add_tag("grail", SKUS[:3], user="ann")
    before = tag_rows(db)
    assert store.delete_tag("retro", user="bob") == 30
    assert store.delete_tag("retro") == 0
    assert pairs(db) == {(s, "grail") for s in SKUS[:3]}
    assert "deleted tag 'retro' (30 SKUs)" in store.undo_last()
    assert tag_rows(db) == before


def test_undo_walks_back_through_every_kind_and_by_user(store, db):
    states = [tag_rows(db)]
    store.add_tag("a", SKUS[:4], user="ann"); states.append(tag_rows(db))
    store.add_tag("b", SKUS[2:6], user="bob"); states.append(tag_rows(db))
    store.remove_tag("a", SKUS[:2], user="ann"); states.append(tag_rows(db))
    store.rename_tag("b", "a", user="bob"); states.append(tag_rows(db))
    store.delete_tag("a", user="ann"); states.append(tag_rows(db))
    for expected in reversed(states[:-1]):
        assert store.undo_last() is not None
        assert tag_rows(db) == expected
    assert store.undo_last() is None
    h = store.history()
    assert h["undone"].sum() == 5 and (h["kind"] == "undo").sum() == 5

    # undo by user: bob's last action, even though ann acted after him
    store.add_tag("x", SKUS[:3], user="bob")
    store.add_tag("y", SKUS[:3], user="ann")
    assert "'x'" in store.undo_last(user="bob")
    assert store.skus_with("x") == [] and store.skus_with("y") == SKUS[:3]
    assert store.undo_last(user="nobody") is None


def test_undo_leaves_rows_changed_since_and_says_so(store, db):
    store.add_tag("retro", SKUS[:4], user="ann")
    store.remove_tag("retro", SKUS[:1], user="bob")
    text = store.undo_last(user="ann")         # bob already removed one of ann's four rows
    assert "1 row changed by later actions was left as they are" in text
    assert store.skus_with("retro") == []


def test_queries(store):
    store.add_tag("retro", SKUS[:3])
    store.add_tag("grail", SKUS[1:2])
    store.add_tag(EVIL, SKUS[2:3])
    assert store.tags_for([SKUS[1], SKUS[5]]) == {SKUS[1]: ["grail", "retro"], SKUS[5]: []}
    big = store.tags_for(SKUS)                     # more than one IN (...) list holds
    assert len(big) == len(SKUS) and big[SKUS[2]] == sorted([EVIL, "retro"])
    assert store.skus_with("grail") == [SKUS[1]]
    assert store.skus_with("nothing") == []
    col = store.tag_column([SKUS[0], SKUS[1], SKUS[2], SKUS[3], SKUS[0], "unknown"])
    assert col == ["retro", "grail, retro", f"{EVIL}, retro", UNTAGGED, "retro", UNTAGGED]
    assert store.tag_column([]) == []
    t = store.tags()
    assert list(t["tag"]) == ["retro", EVIL, "grail"] and list(t["count"]) == [3, 1, 1]


def test_store_created_in_one_thread_works_in_another(store):
    out = {}

    def use():
        try:
            out["n"] = store.add_tag("retro", SKUS[:3])
            out["col"] = store.tag_column(SKUS[:4])
        except Exception as e:  # pragma: no cover - reported below
            out["error"] = e
    t = threading.Thread(target=use)
    t.start(); t.join()
    assert "error" not in out and out["n"] == 3 and out["col"][3] == UNTAGGED


# ---------------------------------------------------------------------------- attributes
def test_attributes_are_stored_beside_the_tags_and_undoable(store):
    import pandas as pd
    assert store.set_attribute(SKUS[0], "colorway", "red", confidence=0.7, user="ann") == 1
    assert store.set_attribute(SKUS[0], "colorway", "red", confidence=0.7) == 0   # unchanged
    assert store.set_attributes("price", {SKUS[1]: 120, SKUS[2]: 99.5}, source="knn") == 2
    before = store.attributes()
    assert store.set_attribute(SKUS[0], "colorway", "blue", confidence=0.9, user="bob") == 1
    a = store.attributes("colorway")
    assert a.iloc[0][["sku", "value", "confidence", "changed_by"]].tolist() == \
        [SKUS[0], "blue", 0.9, "bob"]
    assert "colorway = 'blue'" in store.undo_last()
    pd.testing.assert_frame_equal(store.attributes(), before)
    store.undo_last()
    assert store.attributes("price").empty
    assert list(store.attributes()["value"]) == ["red"]
    with pytest.raises(ValueError, match="confidence"):
        store.set_attribute(SKUS[0], "colorway", "red", confidence=2)
    with pytest.raises(ValueError, match="missing"):
        store.set_attribute(SKUS[0], "colorway", None)
    with pytest.raises(ValueError, match="finite"):
        store.set_attribute(SKUS[0], "price", float("nan"))
    with pytest.raises(ValueError, match="not in this catalogue"):
        store.set_attribute("NOPE", "price", 1)
    assert store.tags().empty


# ---------------------------------------------------------------------------- CSV
def test_cells_are_neutralised_and_restored():
    for text in [EVIL, "+1", "-2", "@SUM(A1)", "\tx", "\rx", "'90s", "''", "'=x", "plain", ""]:
        assert unneutralize_cell(neutralize_cell(text)) == text
        assert not neutralize_cell(text).startswith(("=", "+", "-", "@", "\t", "\r"))
    assert neutralize_cell(EVIL) == "'" + EVIL
    assert unneutralize_cell("'90s") == "'90s"       # a hand-written apostrophe stays


def test_export_import_round_trip_neutralises_formulas(tmp_path, store, db):
    store.add_tag("retro", SKUS[:5], user="=cmd|' /C calc'!A0")
    store.add_tag(EVIL, SKUS[3:7], user="ann")
    store.add_tag("'90s", SKUS[:1])
    store.add_tag("Caf\u00e9, \"quoted\"", SKUS[8:9])
    data = store.export_csv()
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["sku", "tag", "changed_at", "changed_by"]
    assert len(rows) == 1 + 5 + 4 + 1 + 1
    assert ["SKU-0003", "'" + EVIL] == rows[[r[1] for r in rows].index("'" + EVIL)][:2]
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    assert data.startswith(b"\xef\xbb\xbf")         # BOM: spreadsheets read it as UTF-8

    other = AnnotationStore(tmp_path / "other.sqlite", FP, known_skus=SKUS)
    result = other.import_csv(data, user="importer")
    assert result.ok and result.added == 11 and result.skipped == []
    assert pairs(tmp_path / "other.sqlite") == pairs(db)
    assert other.skus_with(EVIL) == SKUS[3:7]
    assert other.import_csv(data).already_tagged == 11
    assert "imported 11 tag assignments" in other.undo_last(user="importer")
    assert other.tags().empty


def test_import_skips_bad_rows_with_reasons(store, db):
    data = ("sku,tag,note\r\n"
            f"{SKUS[0]},retro,ok\r\n"
            f"{SKUS[1]},,empty\r\n"
            "NOT-A-SKU,retro,unknown\r\n"
            f"{SKUS[2]},\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",formula\r\n"
            ",retro,no sku\r\n"
            "\r\n"
            f"{SKUS[3]},{'x' * 101},too long\r\n").encode()
    r = store.import_csv(data, user="ann")
    assert r.ok and r.added == 2
    assert [(s.line, s.reason) for s in r.skipped][:3] == [
        (3, "empty tag"), (4, "unknown sku"), (6, "empty sku")]
    assert r.skipped[3].line == 8 and r.skipped[3].reason.startswith("invalid tag")
    assert pairs(db) == {(SKUS[0], "retro"), (SKUS[2], EVIL)}
    assert "2 tag(s) added" in r.summary() and "1 skipped (unknown sku)" in r.summary()
    # known_skus given to the import wins over the store's
    r2 = store.import_csv(b"sku,tag\nNOT-A-SKU,retro\n", known_skus={"NOT-A-SKU"})
    assert r2.added == 1


@pytest.mark.parametrize("data, line, why", [
    (b"sku,tag\nA,retro\nB,\"unterminated\nC,x\n", 3, "malformed"),
    (b"sku,tag\nA,retro\nB,retro,extra\n", 3, "expected 2 fields"),
    (b"sku,label\nA,retro\n", 1, "sku and tag"),
    (b"", 1, "empty"),
    (b"sku,tag\nA,retro\nB,caf\xe9\n", 3, "UTF-8"),
])
def test_malformed_csv_imports_nothing_and_says_where(db, data, line, why):
    s = AnnotationStore(db, FP)
    s.add_tag("keep", ["K1"])
    before = tag_rows(db)
    r = s.import_csv(data)
    assert not r.ok and r.added == 0 and r.error_line == line
    assert f"line {line}" in r.error and why in r.error
    assert tag_rows(db) == before and len(s.history()) == 1


# ---------------------------------------------------------------------------- concurrency
N_PROCS, OPS = 4, 250


# pandas is imported inside the tests that use it, so that spawned children start quickly
def _hammer(path: str, worker: int, start, results) -> None:
    """One process: OPS tag operations, each on its own (tag, sku) pairs, plus shared ones."""
    try:
        # synchronous=NORMAL: no fsync per commit. Locking and atomicity are the same as with
        # the default FULL (which only adds durability against power loss) and the test is
        # three times faster.
        s = AnnotationStore(path, FP, synchronous="NORMAL")
        start.wait(timeout=60)                  # a barrier: all start hammering together
        newly_shared = 0
        for j in range(OPS):
            if j % 5 == 4:                      # overlapping: every process tags these
                k = j // 5                      # 0..49: 50 pairs, each tagged by all
                newly_shared += s.add_tag("shared", [f"S{k:02d}", f"S{(k + 25) % 50:02d}"],
                                          user=f"p{worker}")
            else:
                s.add_tag(f"p{worker}-t{j % 7}", [f"P{worker}-{j:03d}", f"Q{worker}-{j:03d}"],
                          user=f"p{worker}")
            if j % 25 == 0:
                s.tag_column([f"P{worker}-{j:03d}"])
        s.add_tag(f"temp-{worker}", ["T"], user=f"p{worker}")
        undone = s.undo_last(user=f"p{worker}")
        results.put((worker, newly_shared, undone, None))
    except BaseException as e:  # report it: the assertion below names it
        results.put((worker, 0, None, f"{type(e).__name__}: {e}"))


def test_processes_hammering_one_file_lose_nothing(db):
    assert not db.exists()                      # the processes also race to create it
    ctx = mp.get_context("spawn")
    start, results = ctx.Barrier(N_PROCS), ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(str(db), w, start, results))
             for w in range(N_PROCS)]
    for p in procs:
        p.start()
    got = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    errors = [g[3] for g in got if g[3]]
    assert errors == []
    assert sum(g[1] for g in got) == 50            # each shared pair counted new exactly once
    for worker, _, undone, _ in got:
        assert undone == f"undid #{undone.split('#')[1].split(':')[0]}: added tag " \
                         f"'temp-{worker}' to 1 SKU"
    s = AnnotationStore(db, FP)
    counts = s.tags().set_index("tag")["count"].to_dict()
    assert counts.pop("shared") == 50
    assert sum(counts.values()) == N_PROCS * (OPS - OPS // 5) * 2
    assert all(not t.startswith("temp-") for t in counts)
    for w in range(N_PROCS):
        assert len([t for t in counts if t.startswith(f"p{w}-")]) == 7
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_two_stores_in_two_threads_lose_nothing(db):
    a, b = AnnotationStore(db, FP), AnnotationStore(db, FP)
    shared = AnnotationStore(db, FP)
    barrier = threading.Barrier(4)
    errors, shared_new = [], []

    def work(s, name):
        try:
            barrier.wait()
            n = 0
            for j in range(60):
                s.add_tag(f"{name}-{j % 3}", [f"{name}-{j}"], user=name)
                n += s.add_tag("both", [f"B{j % 20}"], user=name)
                s.tags_for([f"{name}-{j}"])
            shared_new.append(n)
        except Exception as e:
            errors.append(e)
    threads = [threading.Thread(target=work, args=(s, n))
               for s, n in [(a, "a"), (b, "b"), (shared, "c"), (shared, "d")]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(shared_new) == 20
    got = pairs(db)
    assert len(got) == 4 * 60 + 20
    assert {("a-7", "a-1"), ("d-59", "d-2"), ("B19", "both")} <= got


# ---------------------------------------------------------------------------- crashes
def _bulk_add_then_hang(path: str, skus: list[str], ready: str) -> None:
    s = AnnotationStore(path, FP)

    def pause(i: int) -> None:
        if i == len(skus) // 2:                 # half the rows written, inside the transaction
            Path(ready).touch()
            time.sleep(120)
    s.add_tag("bulk", skus, user="doomed", _after_row=pause)


def _bulk_adds_forever(path: str, ready: str) -> None:
    s = AnnotationStore(path, FP)
    Path(ready).touch()
    for k in range(10_000):
        s.add_tag(f"bulk-{k}", SKUS[:400], user="doomed")


def _wait_for(path: Path, child, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert child.is_alive(), f"child exited ({child.exitcode}) before {path.name}"
        assert time.monotonic() < deadline, f"child never reached {path.name}"
        time.sleep(0.01)


def _check_intact(db: Path) -> AnnotationStore:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    return AnnotationStore(db, FP)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_kill_mid_transaction_leaves_none_of_it(db, tmp_path):
    s = AnnotationStore(db, FP)
    s.add_tag("keep", SKUS[:100], user="ann")
    committed = tag_rows(db)
    ready = tmp_path / "ready"
    child = mp.get_context("spawn").Process(target=_bulk_add_then_hang,
                                            args=(str(db), SKUS, str(ready)))
    child.start()
    try:
        _wait_for(ready, child)
        assert s.skus_with("keep") == SKUS[:100]     # readers are not blocked by the writer
        assert s.skus_with("bulk") == []             # nor do they see its uncommitted rows
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL
    after = _check_intact(db)
    assert tag_rows(db) == committed
    assert list(after.history()["kind"]) == ["add"]
    assert after.add_tag("bulk", SKUS[:10]) == 10    # no lock left behind
    assert after.undo_last() is not None and tag_rows(db) == committed


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_at_a_random_moment_leaves_all_or_nothing(db, tmp_path, seed):
    s = AnnotationStore(db, FP)
    s.add_tag("keep", SKUS[:50])
    ready = tmp_path / "ready"
    child = mp.get_context("spawn").Process(target=_bulk_adds_forever, args=(str(db), str(ready)))
    child.start()
    try:
        _wait_for(ready, child)
        time.sleep(random.Random(seed).uniform(0.05, 0.6))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=30)
    after = _check_intact(db)
    counts = after.tags().set_index("tag")["count"].to_dict()
    assert counts.pop("keep") == 50
    assert set(counts.values()) <= {400}
    h = after.history(limit=1_000_000)   # every action: a fast machine commits > 100 in 0.6 s
    assert sorted(h.loc[h["kind"] == "add", "tag"]) == sorted(["keep", *counts])
    after.add_tag("after", SKUS[:3])
