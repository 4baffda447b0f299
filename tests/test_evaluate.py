"""`evaluate`: a tiny bundle trained here, its PCA baseline, the table and the CLI."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from explorer.bundle.core import load_bundle
from explorer.cli import main as cli_main
from explorer.evaluation.evaluate import evaluate_bundle
from explorer.evaluation.report import evaluation_table, format_table
from explorer.data.splits import split_for
from explorer.training.config import TrainConfig
from explorer.training.loop import train
from tests.helpers import TINY_MODEL, blocks_catalogue

CFG = TrainConfig(epochs=1, batch_size=16, projections=("pca",), threads=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("evaluate")
    cat = blocks_catalogue()
    cat.save(tmp / "cat")
    train(cat, CFG, TINY_MODEL, tmp / "b", progress=False, log=lambda *a: None)
    return tmp


@pytest.fixture(scope="module")
def result(trained):
    return evaluate_bundle(load_bundle(trained / "b"), seed=0)


def test_evaluate_bundle_uses_the_bundles_split(result):
    cat = blocks_catalogue()  # it has pixel-identical twins: the split keeps them together
    _, val = split_for(CFG.to_dict(), 96, cat.images, cat.metadata)
    assert result["n_items"] == 96 and result["n_val"] == len(val)
    assert result["factor_columns"] == ["factor_height", "factor_colour"]
    assert {"colour", "brand", "factor_colour"} <= set(result["knn_columns"])
    assert "sku" not in result["knn_columns"] and "name" not in result["knn_columns"]
    model, pca = result["rows"]
    assert model["model"] == "beta-vae" and pca["model"] == "PCA" and pca["baseline"]
    assert model["latent_dim"] == pca["latent_dim"] == 4
    assert model["kl"] is not None and model["kl"] >= 0 and pca["kl"] is None
    assert isinstance(model["active_dims"], int)   # its value: the known-answer test below
    for row in (model, pca):
        assert 0 < row["mse"] < 1 and math.isfinite(row["psnr"])
        assert row["psnr"] == pytest.approx(10 * math.log10(1 / row["mse"]))
        for key in ("mig", "sap", "dci_d", "dci_c", "dci_i", "modularity"):
            assert 0.0 <= row[key] <= 1.0, key
        assert set(row["per_factor"]["mig"]) == {"factor_height", "factor_colour"}
        assert 0.0 <= row["knn"]["colour"] <= 1.0
    # a 4-component PCA of flat colour blocks reconstructs well
    assert pca["psnr"] > 12


def _set_encoder(model, mu_bias, logvar_bias=(), keep_linear=()):
    """Make the encoder's output known: the conv path gives mu = mu_bias and logvar =
    logvar_bias (0 where not given) for every image; the (PCA-initialised) linear path is kept
    only for the dimensions named."""
    import torch
    with torch.no_grad():
        last = model.encoder.fc[-1]
        last.weight.zero_()
        last.bias.zero_()
        last.bias[:len(mu_bias)] = torch.tensor(mu_bias)
        d = model.cfg.latent_dim
        if logvar_bias:
            last.bias[d:d + len(logvar_bias)] = torch.tensor(logvar_bias)
        for d in range(model.cfg.latent_dim):
            if d not in keep_linear:
                model.lin_enc.weight[d].zero_()
                model.lin_enc.bias[d] = 0.0


def test_active_dims_and_kl_known_answer(trained):
    # mu = (3, 3, 0, 0), logvar = (0, 0, 0, -1/2) for every item: KL per dimension
    # (mu^2 + e^logvar - 1 - logvar) / 2 = 9/2, 9/2, 0 and (e^-0.5 - 1/2) / 2 = 0.0533 nats,
    # so two dimensions pass the 0.1-nat threshold (a constant logvar for all dimensions
    # would read as a deterministic code: hence the -1/2)
    bundle = load_bundle(trained / "b")
    _set_encoder(bundle.model, [3.0, 3.0, 0.0, 0.0], [0.0, 0.0, 0.0, -0.5])
    model = evaluate_bundle(bundle, seed=0)["rows"][0]
    assert model["active_dims"] == 2
    assert model["kl"] == pytest.approx(9.0 + 0.5 * (math.exp(-0.5) - 0.5), abs=1e-4)


def test_posteriors_on_the_log_variance_floor_are_reported(trained, result):
    """A model whose encoder asks for log-variances below the hard floor (as a long faded run
    on the demo catalogue did: -12 for every item and dimension) is reported as such, with
    its KL blank; a model off the floor gets no line."""
    from explorer.evaluation.report import posterior_report
    from explorer.models.base import LOGVAR_FLOOR
    assert result["posterior"]["share"] < 0.5 and posterior_report([result]) == []
    bundle = load_bundle(trained / "b")
    _set_encoder(bundle.model, [1.0, -1.0, 0.5, 0.0], [-30.0] * 4, keep_linear=(0, 1, 2, 3))
    res = evaluate_bundle(bundle, seed=0)
    assert res["posterior"] == {"floor": LOGVAR_FLOOR, "share": 1.0, "dims": 4}
    assert res["rows"][0]["kl"] is None                    # counted as deterministic codes
    (line,) = posterior_report([res])
    assert line.startswith("b: every posterior log-variance sits on the encoder's floor (-12;")
    assert "4 of 4 dimensions" in line
    # half the dimensions on it: a share, and the dimensions wholly on it
    _set_encoder(bundle.model, [1.0, -1.0, 0.5, 0.0], [-30.0, -30.0, -1.0, -2.0],
                 keep_linear=(0, 1, 2, 3))
    res = evaluate_bundle(bundle, seed=0)
    assert res["posterior"]["share"] == 0.5 and res["posterior"]["dims"] == 2
    assert res["rows"][0]["kl"] is not None
    assert "50% of the posterior log-variances sit" in posterior_report([res])[0]
    assert posterior_report([res], share=0.6) == []


def test_evaluation_table_has_model_and_pca_rows(result):
    df = evaluation_table([result, result])
    assert len(df) == 4
    assert list(df["model"]) == ["beta-vae", "PCA", "beta-vae", "PCA"]
    for col in ("bundle", "dims", "KL", "active", "MSE", "PSNR", "kNN colour",
                "kNN factor_colour", "MIG", "SAP", "DCI D", "DCI C", "DCI I", "modularity"):
        assert col in df.columns, col
    assert np.isnan(df.loc[1, "KL"]) and np.isfinite(df["PSNR"]).all()
    text = format_table(df)
    lines = text.splitlines()
    assert len(lines) == 6 and lines[0].startswith("bundle")
    assert len({len(line) for line in lines[:2]}) == 1       # header and rule align


def test_evaluate_is_repeatable(trained, result):
    again = evaluate_bundle(load_bundle(trained / "b"), seed=0)
    assert again["rows"][1]["mse"] == pytest.approx(result["rows"][1]["mse"])
    assert again["rows"][0]["dci_d"] == result["rows"][0]["dci_d"]
    assert again["rows"][0]["knn"] == result["rows"][0]["knn"]


def test_cli_prints_the_table_and_writes_json(trained, capsys):
    out_json = trained / "results.json"
    rc = cli_main(["evaluate", str(trained / "b"), "--catalogue", str(trained / "cat"),
                   "--json", str(out_json), "--seed", "0"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "PCA" in out and "beta-vae" in out and "kNN colour" in out and "MIG" in out
    assert "majority class" in out and "top-1 accuracy" in out
    data = json.loads(out_json.read_text())
    assert len(data["results"]) == 1 and len(data["results"][0]["rows"]) == 2


def test_cli_refuses_a_non_bundle(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli_main(["evaluate", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "bundle.json" in err and "Traceback" not in err
    assert cli_main(["evaluate", str(tmp_path / "nowhere")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_cli_refuses_another_catalogue(trained, tmp_path, capsys):
    blocks_catalogue(seed=1).save(tmp_path / "other")
    rc = cli_main(["evaluate", str(trained / "b"), "--catalogue", str(tmp_path / "other")])
    assert rc == 2
    assert "fingerprint" in capsys.readouterr().err


def test_deterministic_model_has_no_kl_and_counts_active_dims_by_variance(trained):
    cat = blocks_catalogue(64)
    cfg = TrainConfig(model="wae-mmd", epochs=1, batch_size=16, projections=(), threads=1)
    train(cat, cfg, TINY_MODEL, trained / "wae", progress=False, log=lambda *a: None)
    res = evaluate_bundle(load_bundle(trained / "wae"), seed=0, max_items=50)
    model = res["rows"][0]
    assert model["model"] == "wae-mmd" and model["kl"] is None
    assert isinstance(model["active_dims"], int) and 0 <= model["active_dims"] <= 4
    # known answer: codes constant in dimensions 2 and 3 (variance 0), whitened PCA codes
    # (variance ~1) in 0 and 1: the variance rule counts 2
    bundle = load_bundle(trained / "wae")
    _set_encoder(bundle.model, [0.0] * 4, keep_linear=(0, 1))
    again = evaluate_bundle(bundle, seed=0, max_items=50)["rows"][0]
    assert again["active_dims"] == 2 and again["kl"] is None
    assert math.isfinite(model["psnr"]) and math.isfinite(res["rows"][1]["psnr"])


def test_shipped_study_bundle_keeps_its_disentanglement_above_pca():
    """The committed study bundle (β-VAE β=16 on the six-factor study catalogue; README,
    Disentanglement study) against its PCA baseline, on a 3,000-item sample: the README's
    figures (MIG 0.318 vs 0.111, DCI D 0.382 vs 0.318 on 5,000) with room for the sample."""
    res = evaluate_bundle(load_bundle(Path(__file__).resolve().parents[1] / "checkpoints"
                                      / "study"), max_items=3000)
    assert res["factor_columns"] == [f"factor_{n}" for n in (
        "silhouette", "sole_thickness", "upper_hue", "accent_hue", "sole_light", "scale")]
    model, pca = res["rows"]
    assert model["mig"] >= 0.25 and model["mig"] > pca["mig"] + 0.1, (model["mig"], pca["mig"])
    assert model["dci_d"] > pca["dci_d"], (model["dci_d"], pca["dci_d"])
    assert model["psnr"] > pca["psnr"] + 3.0


def test_the_lab_warns_when_the_stored_posteriors_sit_on_the_floor(trained, tmp_path,
                                                                    monkeypatch):
    """The Information tab's KL and KL-active counts measure the floor for such a bundle (5.5
    nats a dimension at -12): it says so above them; a bundle off the floor gets no warning."""
    import hashlib
    import json
    import shutil
    from safetensors.numpy import load_file, save_file
    from tests.helpers import open_page
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(tmp_path / "data"))
    dst = tmp_path / "floored"
    shutil.copytree(trained / "b", dst, ignore=shutil.ignore_patterns("checkpoint"))
    emb = load_file(str(dst / "embeddings.safetensors"))
    emb["logvar"] = np.full_like(emb["logvar"], -12.0)
    save_file(emb, str(dst / "embeddings.safetensors"))
    raw = (dst / "embeddings.safetensors").read_bytes()
    info = json.loads((dst / "bundle.json").read_text())
    info["files"]["embeddings.safetensors"] = {"bytes": len(raw),
                                               "sha256": hashlib.sha256(raw).hexdigest()}
    (dst / "bundle.json").write_text(json.dumps(info))

    def warnings(bundle) -> list[str]:
        return [w.value for w in open_page(bundle, "pages/lab.py").warning]

    (line,) = [w for w in warnings(dst) if "floor" in w]
    assert line.startswith("floored: every posterior log-variance sits on the encoder's floor "
                           "(-12; 4 of 4 dimensions wholly)")
    assert not [w for w in warnings(trained / "b") if "floor" in w]
