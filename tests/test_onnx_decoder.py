"""The decoder exported to ONNX (for decoding in the browser) decodes like torch."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from explorer.bundle import onnx as onnx_decoder
from explorer.bundle.core import load_bundle
from explorer.bundle.onnx import (DECODER_FILE, ensure_decoder_onnx, onnx_weights_sha,
                                   run_onnx)
from tests.helpers import copy_demo_bundle

REPO = Path(__file__).resolve().parents[1]
pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("name", ["demo", "study"])
def test_shipped_bundles_carry_a_checksummed_decoder_that_matches_torch(name):
    path = REPO / "checkpoints" / name
    b = load_bundle(path)          # checks decoder.onnx's size and SHA-256 like every file
    assert DECODER_FILE in b.info["files"]
    assert onnx_weights_sha(path / DECODER_FILE) == b.info["files"]["model.safetensors"]["sha256"]
    rng = np.random.default_rng(0)
    z = np.concatenate([b.mu[rng.choice(len(b), 24, replace=False)],
                        rng.standard_normal((24, b.latent_dim)).astype(np.float32) * 2.5])
    got, want = run_onnx(path / DECODER_FILE, z), b.decode(z)
    assert got.shape == want.shape == (48, b.image_size, b.image_size, 3)
    assert got.dtype == np.uint8
    # the same rounding as Bundle.decode: float noise may tip a pixel across a .5 boundary
    diff = np.abs(got.astype(int) - want.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01


def _older_bundle(tmp_path) -> Path:
    """A copy of the demo bundle as written before decoder.onnx existed."""
    b = copy_demo_bundle(tmp_path / "old")
    (b / DECODER_FILE).unlink()
    info = json.loads((b / "bundle.json").read_text())
    del info["files"][DECODER_FILE]
    (b / "bundle.json").write_text(json.dumps(info, indent=2))
    return b


def test_an_older_bundle_gets_its_decoder_beside_it_on_first_load(tmp_path, monkeypatch):
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(tmp_path / "data"))
    path = _older_bundle(tmp_path)
    b = load_bundle(path)
    got = ensure_decoder_onnx(b.path, b.info, b.model)
    assert got == path / DECODER_FILE and got.is_file()
    assert not (tmp_path / "data").exists()
    assert not [p for p in path.iterdir() if p.name.startswith(".")]   # no temp file left
    z = b.mu[:4]
    assert np.abs(run_onnx(got, z).astype(int) - b.decode(z).astype(int)).max() <= 1
    mtime = got.stat().st_mtime_ns
    assert ensure_decoder_onnx(b.path, b.info, b.model) == got    # the second load reuses it
    assert got.stat().st_mtime_ns == mtime


def test_a_stale_unlisted_decoder_is_exported_again(tmp_path, monkeypatch):
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(tmp_path / "data"))
    path = _older_bundle(tmp_path)
    shutil.copy(REPO / "checkpoints" / "study" / DECODER_FILE, path / DECODER_FILE)
    b = load_bundle(path)
    got = ensure_decoder_onnx(b.path, b.info, b.model)
    assert onnx_weights_sha(got) == b.info["files"]["model.safetensors"]["sha256"]
    assert run_onnx(got, b.mu[:1]).shape == (1, 64, 64, 3)   # 16 latents, not the study's 10


def test_a_read_only_bundle_gets_its_decoder_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(tmp_path / "data"))
    path = _older_bundle(tmp_path)
    b = load_bundle(path)
    path.chmod(0o555)
    if os.geteuid() == 0:   # root may write anywhere: judge by the mode bits alone
        monkeypatch.setattr(onnx_decoder, "_writable", lambda f: bool(f.stat().st_mode & 0o200))
    try:
        got = ensure_decoder_onnx(b.path, b.info, b.model)
    finally:
        path.chmod(0o755)
    assert got.parent.parent == tmp_path / "data" / "decoders"
    assert not (path / DECODER_FILE).exists()


def test_a_linear_path_model_decodes_in_onnx_like_torch(tmp_path):
    """The recipe's default models add a PCA-initialised linear decoder and output pixels, not
    logits: the export must go through model.decode (a sigmoid over the conv decoder alone
    gives a different, washed-out picture)."""
    import torch

    from explorer.bundle.encode import tensor_to_images
    from explorer.models import build_model

    torch.manual_seed(0)
    model = build_model("beta-vae", {"image_size": 32, "latent_dim": 6, "linear_path": True})
    x = torch.rand(64, 3, 32, 32)
    model.init_from_pca(x)
    with torch.no_grad():                 # give the conv decoder a residual of its own too
        for p in model.decoder.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model.eval()
    path = tmp_path / "decoder.onnx"
    path.write_bytes(onnx_decoder.export_decoder_bytes(model, "0" * 64))
    z = np.random.default_rng(1).standard_normal((16, 6)).astype(np.float32)
    with torch.inference_mode():
        want = tensor_to_images(model.decode(torch.from_numpy(z)))
    got = run_onnx(path, z)
    diff = np.abs(got.astype(int) - want.astype(int))
    assert diff.max() <= 1, diff.max()
