import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from explorer.bundle.checks import sha256_file
from explorer.bundle.core import BundleError, check_catalogue_matches, find_bundles, load_bundle
from explorer.bundle.write import write_bundle
from explorer.cli import main as cli_main
from explorer.models import build_model
from explorer.training.config import TrainConfig
from explorer.training.loop import train
from tests.helpers import TINY_MODEL, blocks_catalogue


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundles")
    cat = blocks_catalogue(80)
    cat.save(root / "cat")
    # t-SNE, not UMAP, as the second map: UMAP's first fit in a process spends ~20 s compiling
    # (numba); test_a_umap_map_is_trained_stored_and_read_back (slow) covers it
    train(cat, TrainConfig(epochs=2, batch_size=16, projections=("pca", "tsne"), threads=1),
          TINY_MODEL, root / "b", progress=False)
    return root, cat


def _copy(trained, tmp_path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(trained[0] / "b", dst)
    return dst


def _rehash(bundle: Path, name: str) -> None:
    """Make bundle.json agree with a replaced file, so that only its content is judged."""
    info = json.loads((bundle / "bundle.json").read_text())
    fp = bundle / name
    info["files"][name] = {"bytes": fp.stat().st_size, "sha256": sha256_file(fp)}
    (bundle / "bundle.json").write_text(json.dumps(info))


def test_round_trip_config_and_every_tensor_equal(trained, tmp_path):
    root, cat = trained
    b = load_bundle(root / "b")
    assert b.info["model_config"] == b.model.cfg.to_dict()
    rebuilt = build_model(b.kind, b.info["model_config"])
    saved = load_file(str(root / "b" / "model.safetensors"))
    assert set(saved) == set(rebuilt.state_dict())
    for k, v in b.model.state_dict().items():
        assert torch.equal(v, saved[k]), k
    # write it again from the loaded parts and compare every array
    write_bundle(tmp_path / "again", b.model, cat, train_config=b.info["train_config"],
                 history=b.history, gallery=b.gallery, projections=("pca",), mu=b.mu,
                 logvar=b.logvar)
    b2 = load_bundle(tmp_path / "again")
    assert b2.info["model_config"] == b.info["model_config"]
    for k, v in b.model.state_dict().items():
        assert torch.equal(v, b2.model.state_dict()[k])
    assert np.array_equal(b.mu, b2.mu) and np.array_equal(b.logvar, b2.logvar)
    assert np.array_equal(b.gallery, b2.gallery)
    assert np.array_equal(b.images.all(), cat.images)  # lossless by default
    assert b.metadata["sku"].tolist() == cat.metadata["sku"].tolist()
    assert b.projections["pca"].shape == (80, 2) and b.projections["tsne"].shape == (80, 2)


@pytest.mark.slow
def test_a_umap_map_is_trained_stored_and_read_back(tmp_path):
    cat = blocks_catalogue(80)
    train(cat, TrainConfig(epochs=1, batch_size=16, projections=("pca", "umap"), threads=1),
          TINY_MODEL, tmp_path / "b", progress=False)
    b = load_bundle(tmp_path / "b")
    assert b.projections["umap"].shape == (80, 2) and np.isfinite(b.projections["umap"]).all()
    assert b.projections["umap"].std(0).min() > 0          # a map, not one point


def test_train_writes_the_decoder_as_onnx_listed_and_checksummed(trained):
    pytest.importorskip("onnxruntime")
    from explorer.bundle.onnx import onnx_weights_sha, run_onnx
    b = load_bundle(trained[0] / "b")
    fp = trained[0] / "b" / "decoder.onnx"
    assert b.info["files"]["decoder.onnx"]["sha256"] == sha256_file(fp)
    assert onnx_weights_sha(fp) == b.info["files"]["model.safetensors"]["sha256"]
    assert np.abs(run_onnx(fp, b.mu[:8]).astype(int) - b.decode(b.mu[:8]).astype(int)).max() <= 1


def test_embeddings_match_a_fresh_encoding(trained):
    root, cat = trained
    b = load_bundle(root / "b")
    mu, logvar = b.encode(cat.images[:10])
    assert np.allclose(mu, b.mu[:10], atol=1e-5)
    assert b.decode(mu).shape == (10, 32, 32, 3)


def test_bf16_encoding_stays_close_to_fp32(trained):
    from explorer.bundle.encode import encode_images
    root, cat = trained
    b = load_bundle(root / "b")
    mu, logvar = encode_images(b.model, cat.images[:40], precision="bf16")
    assert mu.dtype == np.float32 and mu.shape == b.mu[:40].shape
    sigma = np.exp(0.5 * b.logvar[:40])
    # bfloat16 keeps ~3 significant digits: the means move by a few % of their range at most
    # (this tiny model's posteriors are wide, so that is also well inside them)
    assert np.abs(mu - b.mu[:40]).max() < 0.05 * max(float(np.abs(b.mu).max()), 1e-3)
    assert np.median(np.abs(mu - b.mu[:40]) / sigma) < 0.05
    with pytest.raises(ValueError, match="precision"):
        encode_images(b.model, cat.images[:2], precision="fp8")


def test_catalogue_fingerprint_is_checked(trained):
    root, cat = trained
    b = load_bundle(root / "b")
    check_catalogue_matches(b.info, cat)
    with pytest.raises(BundleError, match="fingerprint"):
        check_catalogue_matches(b.info, blocks_catalogue(80, seed=5))


def test_pickle_checkpoint_is_refused_without_running_code(trained, tmp_path):
    bundle = _copy(trained, tmp_path)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (bundle / "model.safetensors").write_bytes(pickle.dumps({"w": Evil()}))
    with pytest.raises(BundleError, match="model.safetensors"):
        load_bundle(bundle)
    _rehash(bundle, "model.safetensors")
    with pytest.raises(BundleError, match="not a readable safetensors file"):
        load_bundle(bundle)
    assert not marker.exists()


def test_safetensors_with_wrong_shapes_is_refused(trained, tmp_path):
    bundle = _copy(trained, tmp_path)
    trained_cfg = load_bundle(trained[0] / "b").info["model_config"]
    other = build_model("beta-vae", {**trained_cfg, "latent_dim": 6})
    save_file({k: v.contiguous() for k, v in other.state_dict().items()},
              str(bundle / "model.safetensors"))
    _rehash(bundle, "model.safetensors")
    with pytest.raises(BundleError, match=r"tensor '.*' has shape .* the config needs"):
        load_bundle(bundle)


def test_missing_and_truncated_files_are_named(trained, tmp_path):
    bundle = _copy(trained, tmp_path)
    (bundle / "embeddings.safetensors").unlink()
    with pytest.raises(BundleError, match="embeddings.safetensors: missing"):
        load_bundle(bundle)
    bundle = _copy(trained, tmp_path / "t")
    data = (bundle / "model.safetensors").read_bytes()
    (bundle / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="model.safetensors: .* bytes, expected .*truncated"):
        load_bundle(bundle)


@pytest.mark.parametrize("patch, message", [
    ({"format_version": "1"}, "'format_version' should be int"),
    ({"format_version": 99}, "format_version 99 is not supported"),
    ({"model_config": [1, 2]}, "'model_config' should be dict"),
    ({"model_kind": "gan"}, "unknown model_kind 'gan'"),
    ({"catalogue": {"fingerprint": 3, "count": 80, "size": 32}}, "catalogue.fingerprint"),
    ({"files": {"../../etc/passwd": {"bytes": 1, "sha256": "x"}}}, "points outside"),
])
def test_bundle_json_with_wrong_types_is_refused(trained, tmp_path, patch, message):
    bundle = _copy(trained, tmp_path)
    info = json.loads((bundle / "bundle.json").read_text())
    info.update(patch)
    (bundle / "bundle.json").write_text(json.dumps(info))
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle)


def test_bad_model_config_values_are_refused(trained, tmp_path):
    bundle = _copy(trained, tmp_path)
    info = json.loads((bundle / "bundle.json").read_text())
    info["model_config"]["latent_dim"] = "sixteen"
    (bundle / "bundle.json").write_text(json.dumps(info))
    with pytest.raises(BundleError, match="bad model_config"):
        load_bundle(bundle)


def test_a_failed_write_leaves_the_previous_bundle_intact(trained, tmp_path, monkeypatch):
    bundle = _copy(trained, tmp_path)
    before = (bundle / "bundle.json").read_text()
    b = load_bundle(bundle)
    import explorer.bundle.write as bundle_mod

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bundle_mod, "write_images", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_bundle(bundle, b.model, trained[1], train_config={}, history=[],
                     gallery=b.gallery, projections=("pca",))
    assert (bundle / "bundle.json").read_text() == before
    load_bundle(bundle)
    assert not [p for p in bundle.parent.iterdir() if ".tmp-" in p.name]


def test_info_and_encode_commands(trained, tmp_path, capsys):
    root, cat = trained
    assert cli_main(["info", str(root / "b")]) == 0
    text = capsys.readouterr().out
    assert "beta-vae" in text and "80 items at 32 px" in text and "pca (80, 2)" in text
    new = blocks_catalogue(40, seed=9)
    new.save(tmp_path / "new")
    assert cli_main(["encode", str(root / "b"), str(tmp_path / "new"), "--out",
                     str(tmp_path / "enc"), "--projections", "pca"]) == 0
    enc = load_bundle(tmp_path / "enc")
    assert len(enc) == 40 and enc.fingerprint == new.fingerprint
    assert cli_main(["info", str(tmp_path / "nothing")]) == 2


def test_find_bundles_lists_demo_first(tmp_path, trained):
    for name in ("zeta", "demo", "alpha"):
        shutil.copytree(trained[0] / "b", tmp_path / name)
    assert [p.name for p in find_bundles(tmp_path)] == ["demo", "alpha", "zeta"]
