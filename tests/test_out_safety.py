"""`--out` never destroys what the command did not make (issue 15, part 1)."""
import os
import shutil

import pytest

from explorer.data import atomic
from explorer.bundle.core import find_bundles, load_bundle
from explorer.cli import main as cli_main
from explorer.training.config import TrainConfig
from explorer.training.loop import train
from tests.helpers import TINY_MODEL, blocks_catalogue

FAST = ["--epochs", "1", "--batch-size", "16", "--projections", "pca", "--threads", "1",
        "--no-progress", "--latent-dim", "4", "--channels", "8,8,8", "--hidden-dim", "32"]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("out")
    cat = blocks_catalogue(40)
    cat.save(root / "cat")
    train(cat, TrainConfig(epochs=1, batch_size=16, projections=("pca",), threads=1),
          TINY_MODEL, root / "b", progress=False)
    return root, cat


def _tree(p):
    return sorted((q.relative_to(p).as_posix(), q.stat().st_size) for q in p.rglob("*"))


def test_train_into_a_folder_of_bundles_is_refused_and_deletes_nothing(made, tmp_path, capsys):
    root, _ = made
    ckpts = tmp_path / "checkpoints"
    shutil.copytree(root / "b", ckpts / "demo")
    (ckpts / "notes.txt").write_text("keep me")
    before = _tree(ckpts)
    rc = cli_main(["train", str(root / "cat"), "--out", str(ckpts), *FAST])
    err = capsys.readouterr().err
    assert rc == 2 and "not a bundle" in err and "--overwrite" in err
    assert "Traceback" not in err
    assert _tree(ckpts) == before


def test_a_bundle_folder_with_foreign_files_is_refused(made, tmp_path, capsys):
    root, _ = made
    b = tmp_path / "b"
    shutil.copytree(root / "b", b)
    (b / "my-notes.md").write_text("x")
    rc = cli_main(["train", str(root / "cat"), "--out", str(b), *FAST])
    assert rc == 2 and "my-notes.md" in capsys.readouterr().err
    assert (b / "my-notes.md").read_text() == "x"


def test_overwrite_replaces_a_folder_that_is_not_a_bundle(made, tmp_path):
    root, _ = made
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.txt").write_text("x")
    assert cli_main(["train", str(root / "cat"), "--out", str(junk), "--overwrite",
                     *FAST]) == 0
    assert len(load_bundle(junk)) == 40 and not (junk / "a.txt").exists()


def test_retraining_into_a_bundle_and_an_empty_folder_is_allowed(made, tmp_path):
    root, _ = made
    b = tmp_path / "b"
    shutil.copytree(root / "b", b)
    (tmp_path / "empty").mkdir()
    for out in (b, tmp_path / "empty"):
        assert cli_main(["train", str(root / "cat"), "--out", str(out), *FAST]) == 0
        load_bundle(out)


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_encode_never_replaces_the_catalogue_or_bundle_it_reads(made, tmp_path, capsys,
                                                                overwrite):
    root, _ = made
    cat, b = tmp_path / "cat", tmp_path / "b"
    shutil.copytree(root / "cat", cat)
    shutil.copytree(root / "b", b)
    before = _tree(tmp_path)
    for out in (cat, b, tmp_path):
        rc = cli_main(["encode", str(b), str(cat), "--out", str(out), "--projections", "pca",
                       *overwrite])
        err = capsys.readouterr().err
        assert rc == 2 and "which this command reads" in err, err
    assert cli_main(["train", str(cat), "--out", str(cat), *FAST, *overwrite]) == 2
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_out_naming_an_existing_file_is_refused_not_hidden(made, tmp_path, capsys, overwrite):
    root, _ = made
    f = tmp_path / "report.pdf"
    f.write_bytes(b"%PDF precious")
    for cmd in (["train", str(root / "cat"), "--out", str(f), *FAST],
                ["encode", str(root / "b"), str(root / "cat"), "--out", str(f)]):
        rc = cli_main(cmd + overwrite)
        err = capsys.readouterr().err
        assert rc == 2 and "existing file" in err, err
    assert f.read_bytes() == b"%PDF precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.pdf"]


def _dead_pid() -> int:
    pid = 2 ** 22 - 7
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


def test_a_crash_between_the_two_renames_is_repaired_on_the_next_load(made, tmp_path):
    root, _ = made
    ckpts = tmp_path / "checkpoints"
    ckpts.mkdir()
    # what a kill between atomic_replace_dir's two renames leaves: only the hidden old copy
    shutil.copytree(root / "b", ckpts / f".demo.old-{_dead_pid()}")
    assert len(load_bundle(ckpts / "demo")) == 40
    assert [p.name for p in ckpts.iterdir()] == ["demo"]
    shutil.move(ckpts / "demo", ckpts / f".demo.old-{_dead_pid()}")
    assert [p.name for p in find_bundles(ckpts)] == ["demo"]
    # a copy of a process still running (mid-replace) is left alone
    shutil.move(ckpts / "demo", ckpts / f".demo.old-{os.getpid()}")
    assert find_bundles(ckpts) == []


def test_replacing_a_folder_swaps_in_one_step(tmp_path, monkeypatch):
    final, new = tmp_path / "b", tmp_path / ".b.tmp-1"
    final.mkdir()
    (final / "v").write_text("old")
    new.mkdir()
    (new / "v").write_text("new")
    if not atomic._exchange(tmp_path / "b", tmp_path / "b"):
        pytest.skip("this file system cannot swap two folders atomically")
    moved = []
    real = os.replace
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (moved.append((a, b)), real(a, b)))
    atomic.atomic_replace_dir(new, final)
    assert (final / "v").read_text() == "new"
    assert moved == [] and sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_without_a_swap_a_failed_second_rename_puts_the_old_folder_back(tmp_path, monkeypatch):
    final, new = tmp_path / "b", tmp_path / ".b.tmp-1"
    final.mkdir()
    (final / "v").write_text("old")
    new.mkdir()
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    real = os.replace

    def second_fails(a, b):
        if str(a) == str(new):
            raise OSError(28, "No space left on device")
        return real(a, b)

    monkeypatch.setattr(atomic.os, "replace", second_fails)
    with pytest.raises(OSError):
        atomic.atomic_replace_dir(new, final)
    assert (final / "v").read_text() == "old"
