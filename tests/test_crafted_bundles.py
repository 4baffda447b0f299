"""Crafted bundles (issue 15, part 6): the loader checks config values and sizes against the
tensors before building anything, refuses bombs, wrong dtypes, NaN/inf and unlisted files,
and the app shows one clear message instead of a traceback."""
from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file as np_save_file
from safetensors.torch import load_file, save_file

import explorer.bundle.core as bundle_mod
from explorer.bundle.checks import sha256_file
from explorer.bundle.core import BundleError, load_bundle
from explorer.training.config import TrainConfig
from explorer.training.loop import train
from tests.helpers import TINY_MODEL, blocks_catalogue
from tests.test_hostile import _png_bomb

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("crafted") / "b"
    train(blocks_catalogue(40), TrainConfig(epochs=2, batch_size=16, projections=("pca",),
                                            threads=1), TINY_MODEL, out, progress=False)
    return out


@pytest.fixture
def copy(good, tmp_path) -> Path:
    dst = tmp_path / "b"
    shutil.copytree(good, dst, ignore=shutil.ignore_patterns("checkpoint"))
    return dst


def _info(b: Path) -> dict:
    return json.loads((b / "bundle.json").read_text())


def _save_info(b: Path, info: dict) -> None:
    (b / "bundle.json").write_text(json.dumps(info))


def _rehash(b: Path, *names: str) -> None:
    info = _info(b)
    for name in names:
        info["files"][name] = {"bytes": (b / name).stat().st_size, "sha256": sha256_file(b / name)}
    _save_info(b, info)


def _refused(b: Path, *words: str) -> str:
    with pytest.raises(BundleError) as e:
        load_bundle(b)
    msg = str(e.value)
    for w in words:
        assert w in msg, msg
    return msg


# ---------------------------------------------------------------------------- config vs tensors
@pytest.mark.parametrize("patch, words", [
    ({"hidden_dim": 200000}, ["hidden_dim must be in 1..8192"]),
    ({"hidden_dim": 16000}, ["hidden_dim must be in 1..8192"]),
    ({"hidden_dim": 4096}, ["model.safetensors", "has shape"]),
    ({"channels": [-8, 8, 8]}, ["channels"]),
    ({"latent_dim": "4"}, ["latent_dim must be an integer"]),
    ({"beta": float("nan")}, ["beta must be a finite number"]),
])
def test_config_is_checked_against_the_weights_before_building(copy, monkeypatch, patch,
                                                                words):
    info = _info(copy)
    info["model_config"].update(patch)
    _save_info(copy, info)
    built = []
    monkeypatch.setattr(bundle_mod, "build_model", lambda *a: built.append(a) or 1 / 0)
    _refused(copy, "bad model_config" if "has shape" not in words else "", *words)
    assert built == []


def _nan_weights(b: Path) -> None:
    state = load_file(str(b / "model.safetensors"))
    save_file({k: torch.full_like(v, float("nan")) for k, v in state.items()},
              str(b / "model.safetensors"))
    _rehash(b, "model.safetensors")


def test_a_lazy_load_reads_all_but_the_model_and_a_bad_model_says_so_at_every_use(copy):
    _nan_weights(copy)
    b = load_bundle(copy, lazy_model=True)          # what the app does: the map needs no model
    assert not b.model_loaded
    assert len(b) == 40 and b.latent_dim == b.mu.shape[1] == TINY_MODEL["latent_dim"]
    assert b.image_size == _info(copy)["catalogue"]["size"] and "pca" in b.projections
    for _ in range(2):                               # not only the first use
        with pytest.raises(BundleError, match="NaN"):
            b.model
    assert not b.model_loaded


def test_a_lazy_model_is_checked_against_the_embeddings_it_came_with(copy):
    d = TINY_MODEL["latent_dim"]
    wide = {k: np.zeros((40, d + 1), np.float32) for k in ("mu", "logvar")}
    np_save_file(wide, str(copy / "embeddings.safetensors"))
    _rehash(copy, "embeddings.safetensors")
    _refused(copy, "embeddings.safetensors", f"(40, {d})")     # eager: at the load
    b = load_bundle(copy, lazy_model=True)                      # lazy: at the model's first use
    assert b.latent_dim == d + 1
    with pytest.raises(BundleError, match=f"latent_dim is {d} but embeddings.safetensors "
                                          f"holds {d + 1}"):
        b.model


def test_weights_of_another_dtype_or_all_nan_are_refused(copy):
    state = load_file(str(copy / "model.safetensors"))
    save_file({k: v.to(torch.bfloat16) for k, v in state.items()}, str(copy / "model.safetensors"))
    _rehash(copy, "model.safetensors")
    _refused(copy, "BF16", "float32")
    save_file({k: torch.full_like(v, float("nan")) for k, v in state.items()},
              str(copy / "model.safetensors"))
    _rehash(copy, "model.safetensors")
    _refused(copy, "NaN")


@pytest.mark.parametrize("mutate, words", [
    (lambda mu: mu.astype(np.int8), ["mu is I8"]),
    (lambda mu: mu > 0, ["mu is BOOL"]),
    (lambda mu: np.where(np.arange(mu.size).reshape(mu.shape) == 3, np.nan, mu), ["NaN"]),
    (lambda mu: np.where(np.arange(mu.size).reshape(mu.shape) == 3, np.inf, mu), ["infinite"]),
    ("bf16", ["mu is BF16"]),
])
def test_embeddings_of_a_wrong_type_or_not_finite_are_refused(copy, mutate, words):
    fp = copy / "embeddings.safetensors"
    emb = bundle_mod.np_load_file(str(fp))
    if mutate == "bf16":
        save_file({"mu": torch.from_numpy(emb["mu"]).to(torch.bfloat16),
                   "logvar": torch.from_numpy(emb["logvar"])}, str(fp))
    else:
        np_save_file({"mu": np.ascontiguousarray(mutate(emb["mu"])), "logvar": emb["logvar"]},
                     str(fp))
    _rehash(copy, "embeddings.safetensors")
    _refused(copy, "embeddings.safetensors", *words)


# ---------------------------------------------------------------------------- images
def test_a_png_bomb_as_the_gallery_or_an_image_shard_is_refused(copy):
    bomb = _png_bomb(40_000, 40_000)
    for name in ("gallery.webp", "images/images-00000.webp"):
        saved = (copy / name).read_bytes()
        (copy / name).write_bytes(bomb)
        _rehash(copy, name)
        _refused(copy, name.split("/")[-1])
        (copy / name).write_bytes(saved)
        _rehash(copy, name)
    load_bundle(copy)


def test_the_gallery_decodes_on_first_use_and_broken_pixels_say_so(copy):
    """load_bundle checks the gallery's header but decodes its pixels on first use (about
    1 s for the demo, and only the home page shows it); pixels that then fail to decode are
    a BundleError naming the file, not a crash."""
    b = load_bundle(copy)
    assert callable(b._gallery)                      # not decoded by the load
    g = b.gallery
    assert g.dtype == np.uint8 and g.ndim == 5 and g.shape[0] == 2
    assert b.gallery is g                            # decoded once
    data = bytearray((copy / "gallery.webp").read_bytes())
    data[40:] = bytes(len(data) - 40)                # header kept, pixel data zeroed
    (copy / "gallery.webp").write_bytes(bytes(data))
    _rehash(copy, "gallery.webp")
    broken = load_bundle(copy)
    with pytest.raises(BundleError, match="gallery.webp"):
        broken.gallery


def test_an_image_shard_of_the_wrong_size_is_refused_at_load(copy):
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(buf, format="WEBP", lossless=True)
    (copy / "images/images-00000.webp").write_bytes(buf.getvalue())
    _rehash(copy, "images/images-00000.webp")
    _refused(copy, "images-00000.webp", "64x64 px, expected")


# ---------------------------------------------------------------------------- files and JSON
@pytest.mark.parametrize("name", ["history.json", "gallery.webp", "projections.safetensors",
                                  "images/images-00000.webp"])
def test_a_file_not_listed_in_files_is_not_read_unverified(copy, name):
    info = _info(copy)
    del info["files"][name]
    _save_info(copy, info)
    _refused(copy, name.split("/")[-1])


@pytest.mark.parametrize("where, value, words", [
    (("metrics", "train_seconds"), "12 min", ["metrics.train_seconds"]),
    (("metrics", "val"), ["psnr", 3], ["metrics.val"]),
    (("metrics", "val"), {"psnr": "high"}, ["metrics.val"]),
    (("catalogue", "factor_columns"), "factor_height", ["catalogue.factor_columns"]),
    (("catalogue", "columns"), [1, 2], ["catalogue.columns"]),
    (("catalogue", "source"), "http://evil.example", ["catalogue.source"]),
    (("catalogue", "source"), {"kind": {"nested": 1}}, ["catalogue.source"]),
    (("catalogue", "fingerprint"), "[Re-login here](http://evil.example)",
     ["catalogue.fingerprint"]),
    (("train_config", "val_fraction"), "0.1", ["train_config.val_fraction"]),
])
def test_wrong_typed_bundle_json_values_are_refused(copy, where, value, words):
    info = _info(copy)
    info[where[0]][where[1]] = value
    _save_info(copy, info)
    _refused(copy, "bundle.json", *words)


@pytest.mark.parametrize("history", [{"epoch": 1}, [{"epoch": "1", "train": {"loss": 1}}],
                                     [{"epoch": 1, "train": {"loss": "x"}}], [1, 2],
                                     [{"epoch": 1, "train": {"loss": 1.0}, "val": None}]])
def test_a_malformed_history_is_refused(copy, history):
    (copy / "history.json").write_text(json.dumps(history))
    _rehash(copy, "history.json")
    _refused(copy, "history.json")


# ---------------------------------------------------------------------------- in the app
@pytest.mark.parametrize("page", [None, "pages/sliders.py", "pages/catalogue_map.py"])
def test_every_page_shows_one_clear_message_for_a_crafted_bundle(copy, tmp_path, monkeypatch,
                                                                 page):
    from streamlit.testing.v1 import AppTest
    (copy / "gallery.webp").write_bytes(_png_bomb(40_000, 40_000))
    _rehash(copy, "gallery.webp")
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(tmp_path / "data"))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["bundle_path"] = str(copy)
    if page:
        at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert errors and all("gallery" in e for e in errors), errors
    assert len({e.split(":", 1)[0] for e in errors}) == 1 or len(errors) <= 2, errors


def test_a_first_map_visit_draws_before_a_broken_model_is_needed_then_says_what_is_wrong(
        copy, tmp_path, monkeypatch):
    """A browser's first map visit waits for everything but the model (the map draws while
    torch loads); the next run, which lays out the panels, shows the model's error."""
    from streamlit.testing.v1 import AppTest

    from explorer.app import live_decoder
    _nan_weights(copy)
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(live_decoder, "browser_session", lambda: True)   # as in Chromium
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["bundle_path"] = str(copy)
    at.switch_page("pages/catalogue_map.py")
    at.run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    assert any("40 products are drawn" in c.value for c in at.caption), \
        [c.value for c in at.caption]
    at.session_state["map_drawn"] = True             # what the component's report sets
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "NaN" in errors[0] and "holds NaN" in errors[0], errors
