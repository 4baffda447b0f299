"""Faults tried for real: SIGKILLed training, bundle writes and app server, broken bundle
files, and a full disk (a real 3 MB tmpfs when this machine allows mounting one).

What the module tests already cover is not repeated: Ctrl-C during training and a NaN loss
(test_train.py), a simulated ENOSPC inside write_bundle and a missing embeddings file or a
truncated model file (test_bundle.py), SIGKILLed annotation writers without a server
(test_annotations.py).
"""
from __future__ import annotations

import dataclasses
import errno
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from streamlit.testing.v1 import AppTest

from explorer.store.annotations import AnnotationStore
from explorer.bundle.core import BundleError, find_bundles, load_bundle
from explorer.bundle.write import write_bundle
from explorer.data.catalogue import Catalogue
from explorer.latent.directions import fit_direction, load_directions, save_direction
from explorer.latent.naming import load_names, save_names
from explorer.training.checkpoint import save_checkpoint
from explorer.training.config import TrainConfig
from explorer.training.loop import train
from tests.helpers import TINY_MODEL, blocks_catalogue

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                 "KICKSPACE_TORCH_THREADS": "1", "PYTHONUNBUFFERED": "1"}
TINY_FLAGS = ["--latent-dim", "4", "--channels", "8,8,8", "--hidden-dim", "32"]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL, mount")


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, **SINGLE_THREAD, **extra}


def _wait_for(predicate, what: str, timeout: float, proc: subprocess.Popen | None = None,
              log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise AssertionError(f"process exited ({proc.returncode}) before {what}: {tail}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def small_bundle(tmp_path_factory) -> tuple[Path, Catalogue]:
    """A tiny trained bundle (96 coloured blocks, 32 px) and its catalogue."""
    root = tmp_path_factory.mktemp("faults")
    cat = blocks_catalogue(96)
    cat.save(root / "cat")
    train(cat, TrainConfig(epochs=1, batch_size=16, projections=("pca",), threads=1),
          TINY_MODEL, root / "b", progress=False)
    return root / "b", Catalogue.load(root / "cat")


def _tmp_leftovers(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.name.endswith(".tmp") or ".tmp-" in p.name)


# ---------------------------------------------------------------------------- (a) training
@pytest.mark.slow
def test_training_sigkilled_mid_epoch_resumes_from_an_intact_checkpoint(tmp_path):
    blocks_catalogue(768).save(tmp_path / "cat")
    out = tmp_path / "run"
    ck = out / "checkpoint"
    cmd = [sys.executable, "-m", "explorer", "train", str(tmp_path / "cat"), "--epochs", "3",
           *TINY_FLAGS, "--batch-size", "4", "--projections", "pca", "--threads", "1",
           "--no-progress", "--out", str(out)]
    log = tmp_path / "train.log"
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=f, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: (ck / "state.json").exists(), "the first checkpoint", 180, proc, log)
        first = json.loads((ck / "state.json").read_text())
        assert first["epoch"] == 1
        # well into the second epoch: a third to a half of the first epoch's training time
        time.sleep(max(0.2, first["seconds"] * random.uniform(0.33, 0.5)))
        assert proc.poll() is None, "training ended before it could be killed"
    finally:
        _kill(proc)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "bundle.json").exists()        # killed long before the bundle

    # every checkpoint file parses, and the pair agrees with itself
    meta = json.loads((ck / "state.json").read_text())
    tensors = load_file(str(ck / "state.safetensors"))
    assert meta["epoch"] in (1, 2) and meta["batch"] == 0
    assert tensors["gallery"].shape[0] == meta["epoch"] == len(meta["history"])
    assert any(k.startswith("model.") for k in tensors) and "rng.torch" in tensors
    # a kill during a checkpoint write would leave a half-written temporary file: plant
    # such leftovers, they must never be read as the checkpoint
    data = (ck / "state.safetensors").read_bytes()
    (ck / ".state.safetensors.k1ll3d.tmp").write_bytes(data[: len(data) // 3])
    (ck / ".state.json.k1ll3d.tmp").write_text('{"epoch": 99, "batch"')
    leftovers = {p.name for p in _tmp_leftovers(out)}

    res = subprocess.run(cmd + ["--resume"], cwd=REPO, env=_env(), capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"resuming from epoch {meta['epoch']} batch 0" in res.stdout
    b = load_bundle(out)
    assert [h["epoch"] for h in b.history] == [1, 2, 3] and b.gallery.shape[0] == 3
    assert not [name for name in b.info["files"] if name.endswith(".tmp")]
    assert {p.name for p in _tmp_leftovers(out)} <= leftovers    # carried, never read
    assert "Traceback" not in res.stdout + res.stderr


WRITER = textwrap.dedent("""
    import sys
    from explorer.bundle.core import load_bundle
    from explorer.bundle.write import write_bundle
    from explorer.data.catalogue import Catalogue
    src, cat_dir, out = sys.argv[1:4]
    b, cat = load_bundle(src), Catalogue.load(cat_dir)
    for k in range(10_000):
        write_bundle(out, b.model, cat, train_config={"round": k}, history=b.history,
                     gallery=b.gallery, projections=(), mu=b.mu, logvar=b.logvar)
        print(k, flush=True)
""")


def test_bundle_writer_sigkilled_mid_write_leaves_a_loadable_bundle(small_bundle, tmp_path):
    src, cat = small_bundle
    root = tmp_path / "checkpoints"
    out = root / "b"
    log = tmp_path / "writer.log"
    with open(log, "w") as f:
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(src), str(cat.path),
                                 str(out)], cwd=REPO, env=_env(), stdout=f,
                                stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: len(log.read_text().split()) >= 3, "three bundle writes", 180,
                  proc, log)
        time.sleep(random.uniform(0.0, 0.3))       # the loop is always inside write_bundle
    finally:
        _kill(proc)
    done = [int(w) for w in log.read_text().split() if w.isdigit()]
    b = load_bundle(out)                           # the last complete bundle, or the next
    assert b.info["train_config"]["round"] in (done[-1], done[-1] + 1)
    assert len(b) == len(cat)
    # a new write (another process id) still works and replaces it
    write_bundle(out, b.model, cat, train_config={"round": "after"}, history=b.history,
                 gallery=b.gallery, projections=(), mu=b.mu, logvar=b.logvar)
    assert load_bundle(out).info["train_config"]["round"] == "after"
    assert [p.name for p in find_bundles(root) if not p.name.startswith(".")] == ["b"]


def test_leftovers_of_a_killed_bundle_write_are_not_offered_as_bundles(small_bundle,
                                                                       tmp_path):
    src, _ = small_bundle
    root = tmp_path / "checkpoints"
    shutil.copytree(src, root / "demo")
    # what SIGKILL leaves: after write_bundle wrote bundle.json into its temporary folder,
    # and between atomic_replace_dir's two renames
    shutil.copytree(src, root / ".demo.tmp-4242")
    shutil.copytree(src, root / ".demo.old-4242")
    assert [p.name for p in find_bundles(root)] == ["demo"]


# ---------------------------------------------------------------------------- (b) the app
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str], log: Path, timeout: float = 120
                 ) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` on a free loopback port; returns (process, base URL)."""
    port = _free_port()
    with open(log, "w") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", APP, "--server.headless=true",
             f"--server.port={port}", "--server.address=127.0.0.1",
             "--browser.gatherUsageStats=false"],
            cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return urllib.request.urlopen(url + "/_stcore/health", timeout=2).status == 200
        except OSError:
            return False
    try:
        _wait_for(healthy, "the app server", timeout, proc, log)
    except BaseException:
        _kill(proc)
        raise
    return proc, url


TAGGER = textwrap.dedent("""
    import sys
    from explorer.store.annotations import AnnotationStore
    db, fingerprint, progress, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    store = AnnotationStore(db, fingerprint)
    with open(progress, "a") as report:
        for k in range(100_000):
            store.add_tag(f"w-{k:05d}", [f"SKU-{k % n:04d}"], user="writer")
            report.write(f"{k}\\n")      # only once add_tag has returned: committed
            report.flush()
""")


def _wait_idle(page, timeout: float = 90) -> None:
    page.wait_for_selector("[data-testid='stAppViewContainer']", timeout=timeout * 1000)
    time.sleep(0.3)
    deadline = time.monotonic() + timeout
    while page.query_selector("[data-testid='stStatusWidget']") is not None:
        assert time.monotonic() < deadline, "the app kept running for too long"
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.browser
def test_app_and_tag_writer_sigkilled_keep_every_committed_tag(small_bundle, tmp_path,
                                                               chromium_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    src, cat = small_bundle
    ckpt = tmp_path / "checkpoints"
    shutil.copytree(src, ckpt / "demo")
    data = tmp_path / "data"
    db = data / "tags.sqlite"
    env = _env(KICKSPACE_CHECKPOINTS=str(ckpt), KICKSPACE_DATA_DIR=str(data),
               KICKSPACE_ANNOTATIONS_DB=str(db))
    fingerprint = load_bundle(src, check_hashes=False).fingerprint
    server, url = start_server(env, tmp_path / "server.log")
    progress = tmp_path / "progress.txt"
    writer = None
    ui_committed: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path, args=[
                "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update"])
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            page.goto(url)                       # through app.py, as people arrive
            _wait_idle(page)
            page.locator("[data-testid='stSidebarNav'] a", has_text="Catalogue map").click()
            page.get_by_text("Tag a whole cluster").wait_for(timeout=90_000)
            _wait_idle(page)
            writer = subprocess.Popen([sys.executable, "-c", TAGGER, str(db), fingerprint,
                                       str(progress), str(len(cat))], cwd=REPO, env=env)
            _wait_for(lambda: progress.exists() and progress.stat().st_size > 0,
                      "the first committed tag", 60, writer)
            box = page.get_by_role("textbox", name="Tag", exact=True)
            for i in range(3):
                box.fill(f"ui-{i}")
                box.press("Enter")
                _wait_idle(page)
                page.get_by_role("button", name="Tag cluster").click()
                if i == 2:                       # the last one: kill the app mid-request
                    time.sleep(random.uniform(0.0, 0.3))
                    _kill(server)
                    break
                page.get_by_text(f"with 'ui-{i}'").first.wait_for(timeout=60_000)
                ui_committed.append(f"ui-{i}")
            time.sleep(random.uniform(0.1, 0.4))   # the writer goes on without the app
            _kill(writer)
            browser.close()
    finally:
        _kill(server)
        if writer is not None:
            _kill(writer)
    assert server.returncode == writer.returncode == -signal.SIGKILL

    reported = [int(line) for line in progress.read_text().split()]
    assert reported == list(range(len(reported))) and len(reported) >= 2
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    store = AnnotationStore(db, fingerprint)
    counts = store.tags().set_index("tag")["count"].to_dict()
    written = sorted(t for t in counts if t.startswith("w-"))
    # every reported tag is there; at most the one being reported when killed is extra
    assert written[:len(reported)] == [f"w-{k:05d}" for k in reported]
    assert len(written) - len(reported) in (0, 1)
    assert ui_committed == ["ui-0", "ui-1"]
    cluster = counts["ui-0"]
    assert all(counts[t] == cluster for t in ui_committed)
    assert counts.get("ui-2", cluster) == cluster         # all of it or none of it
    assert store.add_tag("after", ["SKU-0000"]) == 1       # no lock left behind

    # the app, started again on the same database, shows them (AppTest: no second server)
    monkeypatch.setenv("KICKSPACE_ANNOTATIONS_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["bundle_path"] = str(ckpt / "demo")
    at.query_params["proj"] = "PCA"
    at.switch_page("pages/catalogue_map.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = at.dataframe[0].value
    assert set(written) | set(ui_committed) | {"after"} <= set(shown["tag"])
    # undo is scoped to the session: this new session made none of those writes, so it is
    # offered nothing to undo (another process's last action is not its to take back)
    captions = re.sub(r"\\(.)", r"\1", " ".join(c.value for c in at.caption))
    assert "Nothing of yours to undo." in captions, captions


@pytest.mark.browser
def test_a_deep_link_right_after_a_restart_goes_through_app_py(small_bundle, tmp_path,
                                                                 chromium_path):
    from playwright.sync_api import sync_playwright

    src, _ = small_bundle
    ckpt = tmp_path / "checkpoints"
    for name in ("demo", "other"):
        shutil.copytree(src, ckpt / name, ignore=shutil.ignore_patterns("checkpoint"))
    server, url = start_server(_env(KICKSPACE_CHECKPOINTS=str(ckpt),
                                    KICKSPACE_DATA_DIR=str(tmp_path / "data")),
                               tmp_path / "server.log")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path, args=[
                "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update"])
            page = browser.new_page()
            page.goto(f"{url}/sliders?bundle=other")     # a shared link, first visitor
            page.get_by_text("Factor sliders").first.wait_for(timeout=90_000)
            _wait_idle(page)
            nav = page.locator("[data-testid='stSidebarNav']").inner_text()
            # the picker is drawn by app.py before the page runs; wait for it by its label
            page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first \
                .wait_for(timeout=60_000)
            side = page.locator("[data-testid='stSidebar']").inner_text() + " ".join(
                page.locator("[data-testid='stSidebar'] input").evaluate_all(
                    "els => els.map(e => e.value)"))
            browser.close()
    finally:
        _kill(server)
    assert "Factor sliders" in nav and "Disentanglement lab" in nav, nav
    assert "other" in side, side                  # the bundle picker took ?bundle=other


# ---------------------------------------------------------------------------- (c) broken files
def _break(bundle: Path, name: str, how: str) -> None:
    fp = bundle / name
    if how == "missing":
        fp.unlink()
    elif how == "truncated":
        data = fp.read_bytes()
        fp.write_bytes(data[: len(data) // 2])
    else:                                    # same size, other bytes
        data = bytearray(fp.read_bytes())
        data[len(data) // 2] ^= 0xFF
        fp.write_bytes(bytes(data))


BROKEN = [("images/images-00000.webp", "missing", "missing from the bundle"),
          ("images/images-00000.webp", "truncated", "truncated or replaced"),
          ("images/images-00000.webp", "corrupted", "checksum mismatch"),
          ("gallery.webp", "missing", "missing from the bundle"),
          ("gallery.webp", "truncated", "truncated or replaced"),
          ("metadata.csv.gz", "missing", "missing from the bundle"),
          ("metadata.csv.gz", "truncated", "truncated or replaced"),
          ("history.json", "corrupted", "checksum mismatch")]


@pytest.mark.parametrize("name, how, message", BROKEN,
                         ids=[f"{n.replace('/', '_')}-{h}" for n, h, _ in BROKEN])
def test_a_broken_bundle_is_refused_by_name_and_the_app_says_so(small_bundle, tmp_path, name,
                                                                how, message):
    src, _ = small_bundle
    bundle = tmp_path / "broken"
    shutil.copytree(src, bundle, ignore=shutil.ignore_patterns("checkpoint"))
    _break(bundle, name, how)
    with pytest.raises(BundleError) as e:
        load_bundle(bundle)
    assert str(bundle / name) in str(e.value) and message in str(e.value)

    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["bundle_path"] = str(bundle)
    at.run()
    assert not at.exception, [x.value for x in at.exception]
    errors = [re.sub(r"\\(.)", r"\1", x.value) for x in at.error]
    assert any(str(bundle / name) in x and message in x for x in errors), errors
    assert not at.image and not at.slider       # the page stopped after its message
    at.switch_page("pages/sliders.py")           # and so does any other page
    at.run()
    assert not at.exception, [x.value for x in at.exception]
    assert any(name in x.value.replace("\\", "") for x in at.error)


# ---------------------------------------------------------------------------- (d) full disk
@pytest.fixture
def small_disk(tmp_path):
    """A real 3 MB tmpfs mounted under tmp_path (needs root and mount permission)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a 3 MB tmpfs needs root; the simulated ENOSPC test in "
                    "test_bundle.py covers the logic")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0755", "tmpfs",
                          str(disk)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in this container ({res.stderr.strip()}); the "
                    f"simulated ENOSPC test in test_bundle.py covers the logic")
    try:
        yield disk
    finally:
        if subprocess.run(["umount", str(disk)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def _fill(disk: Path) -> Path:
    """Fill the disk to the last byte with one file; returns it."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        for chunk in (1 << 16, 4096, 1):
            try:
                while True:
                    f.write(b"\xab" * chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC
    assert shutil.disk_usage(disk).free == 0
    return filler


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_full_disk_while_writing_a_bigger_bundle_keeps_the_previous_one(small_bundle,
                                                                        small_disk):
    src, cat = small_bundle
    b = load_bundle(src)
    out = small_disk / "b"
    write_bundle(out, b.model, cat, train_config={"v": 1}, history=b.history,
                 gallery=b.gallery, projections=("pca",))
    before = _snapshot(out)
    used = shutil.disk_usage(small_disk).used
    # 2,000 noise images do not compress: about 6 MB of WebP on a 3 MB disk
    noise = np.random.default_rng(0).integers(0, 256, (2000, 32, 32, 3), dtype=np.uint8)
    big = blocks_catalogue(2000)
    big = Catalogue(noise, big.metadata, name="noise", source={"kind": "noise"})
    with pytest.raises(OSError) as e:
        write_bundle(out, b.model, big, train_config={"v": 2}, history=b.history,
                     gallery=b.gallery, projections=("pca",))
    assert e.value.errno == errno.ENOSPC
    assert _snapshot(out) == before
    again = load_bundle(out)
    assert again.info["train_config"] == {"v": 1} and len(again) == len(cat)
    assert [p.name for p in small_disk.iterdir()] == ["b"]       # no temporary folder
    assert _tmp_leftovers(small_disk) == []
    assert shutil.disk_usage(small_disk).used == used             # its space came back


def test_full_disk_while_saving_names_and_directions_keeps_the_saved_ones(small_bundle,
                                                                          small_disk,
                                                                          monkeypatch):
    src, _ = small_bundle
    b = load_bundle(src)
    bundle = small_disk / "b"
    shutil.copytree(src, bundle, ignore=shutil.ignore_patterns("checkpoint"))
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(small_disk / "data"))   # the fallback too
    db = save_names(bundle, b.key, {0: "height", 1: "colour"})   # the annotations database
    assert db.parent == small_disk / "data"
    tall = b.metadata["factor_height"] > b.metadata["factor_height"].median()
    first = fit_direction(b.mu, tall, True, name="tall")
    save_direction(bundle, b.key, first)

    _fill(small_disk)
    from explorer.store.annotations import AnnotationStoreError
    with pytest.raises(AnnotationStoreError, match="full"):
        save_names(bundle, b.key, {d: f"factor number {d} " * 400 for d in range(b.latent_dim)})
    red = b.metadata["colour"] == "red"
    big = fit_direction(b.mu, red, True, name="red " * 19)
    with pytest.raises(AnnotationStoreError, match="full"):
        for k in range(40):
            save_direction(bundle, b.key, dataclasses.replace(big, name=f"red {k} " * 9))
    assert load_names(bundle, b.key) == {0: "height", 1: "colour"}
    assert [d.name for d in load_directions(bundle, b.key, b.latent_dim)][0] == "tall"
    assert _tmp_leftovers(small_disk) == []


def test_full_disk_while_checkpointing_keeps_the_last_checkpoint(small_bundle, small_disk):
    src, _ = small_bundle
    model = load_bundle(src).model
    model.train()
    for prm in model.parameters():
        prm.requires_grad_(True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(4, 3, 32, 32)
    model.loss(x, 0, 100).loss.backward()
    opt.step()
    run = small_disk / "run"
    gallery = [np.zeros((2, 32, 32, 3), np.uint8)]
    save_checkpoint(run, model, opt, {"epoch": 1, "batch": 0, "step": 1, "history": []},
                    gallery)
    before = _snapshot(run)
    _fill(small_disk)
    with pytest.raises(OSError) as e:
        save_checkpoint(run, model, opt, {"epoch": 2, "batch": 0, "step": 2, "history": []},
                        gallery * 2)
    assert e.value.errno == errno.ENOSPC
    assert _snapshot(run) == before
    assert json.loads((run / "checkpoint" / "state.json").read_text())["epoch"] == 1
    with safe_open(str(run / "checkpoint" / "state.safetensors"), "pt") as f:
        assert f.get_tensor("gallery").shape[0] == 1
    assert _tmp_leftovers(small_disk) == []
