import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from explorer.bundle.core import load_bundle
from explorer.data.catalogue import Catalogue
from explorer.cli import main as cli_main
from explorer.data.splits import split_indices
from explorer.training.config import TrainConfig, TrainingError
from explorer.training.loop import train
from tests.helpers import TINY_MODEL, blocks_catalogue

REPO = Path(__file__).resolve().parents[1]
FAST = dict(batch_size=16, projections=("pca",), threads=1, val_fraction=0.2)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path / "model.safetensors"))


def test_split_is_deterministic_and_disjoint():
    a_tr, a_va = split_indices(100, 0.2, seed=3)
    b_tr, b_va = split_indices(100, 0.2, seed=3)
    assert np.array_equal(a_tr, b_tr) and np.array_equal(a_va, b_va)
    assert len(a_va) == 20 and not set(a_tr) & set(a_va)
    assert sorted(np.concatenate([a_tr, a_va])) == list(range(100))


def test_training_is_seeded_and_repeatable(tmp_path):
    cat = blocks_catalogue(64)
    # fp32 pinned: --precision auto times bf16 against fp32 per run, and on a loaded AMX
    # machine two runs can choose differently (the same seed, another arithmetic)
    cfg = TrainConfig(epochs=1, precision="fp32", **FAST)
    train(cat, cfg, TINY_MODEL, tmp_path / "a", progress=False)
    train(cat, cfg, TINY_MODEL, tmp_path / "b", progress=False)
    wa, wb = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_resume_continues_where_it_stopped(tmp_path):
    # schedules in steps and a constant learning rate: a 1-epoch run resumed to 2 epochs is
    # the 2-epoch run (fraction schedules stretch over the new length instead)
    cat = blocks_catalogue(64)
    # fp32 pinned: under auto, each run times bf16 against fp32 and a loaded AMX machine can
    # pick differently for the straight run and the first part of the resumed one
    fixed = dict(FAST, lr_schedule="constant", warmup=0.0, precision="fp32")
    model = dict(TINY_MODEL, schedule="steps")
    train(cat, TrainConfig(epochs=2, **fixed), model, tmp_path / "straight", progress=False)
    train(cat, TrainConfig(epochs=1, **fixed), model, tmp_path / "resumed", progress=False)
    b1 = load_bundle(tmp_path / "resumed")
    assert len(b1.history) == 1
    train(cat, TrainConfig(epochs=2, **fixed), model, tmp_path / "resumed", resume=True,
          progress=False)
    ws, wr = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    assert all(torch.allclose(ws[k], wr[k], atol=1e-6) for k in ws)
    b2 = load_bundle(tmp_path / "resumed")
    assert [h["epoch"] for h in b2.history] == [1, 2]
    assert b2.gallery.shape[0] == 2


def test_resume_under_auto_precision_keeps_the_runs_own_choice(tmp_path):
    # --precision auto times bf16 against fp32 at the start of every run; a resumed run takes
    # the precision its checkpoint was trained in instead, so that it goes on as it began
    cat = blocks_catalogue(64)
    train(cat, TrainConfig(epochs=1, precision="bf16", **FAST), TINY_MODEL, tmp_path / "r",
          progress=False)
    logs: list[str] = []
    train(cat, TrainConfig(epochs=2, **FAST), TINY_MODEL, tmp_path / "r", resume=True,
          progress=False, log=logs.append)
    assert any("precision: bf16 (the resumed run's own choice" in ln for ln in logs), logs
    assert load_bundle(tmp_path / "r").info["metrics"]["precision"]["chosen"] == "bf16"


def test_time_limit_scales_the_schedules_stops_mid_epoch_and_resume_goes_on(tmp_path):
    cat = blocks_catalogue(64)
    logs: list[str] = []
    # any step takes more than a microsecond: the run is at the end of its schedules after its
    # first step and stops there, in the first of five epochs, and says so
    train(cat, TrainConfig(epochs=5, time_limit=1e-6, **FAST), TINY_MODEL, tmp_path / "t",
          progress=False, log=logs.append)
    b = load_bundle(tmp_path / "t")
    assert [h["epoch"] for h in b.history] == [1] and b.history[0]["partial"]
    assert b.info["metrics"]["epochs"] == 0 and b.info["metrics"]["steps"] == 1
    assert any("time limit" in line and "STOPPED EARLY at step 1 of the 20 planned (epoch 1 of 5"
               in line for line in logs), logs
    stop = b.info["metrics"]["stopped_early"]
    assert stop["reason"] == "time_limit" and (stop["at_step"], stop["planned_steps"]) == (1, 20)
    assert stop["time_limit"] == 1e-6 and b.info["train_config"]["time_limit"] == 1e-6
    assert stop["schedules_completed"]
    # without a limit, --resume trains the rest of the cut epoch and the remaining ones
    train(cat, TrainConfig(epochs=3, **FAST), TINY_MODEL, tmp_path / "t", resume=True,
          progress=False)
    b = load_bundle(tmp_path / "t")
    assert [h["epoch"] for h in b.history] == [1, 2, 3]
    assert b.info["metrics"]["steps"] == 12 and b.gallery.shape[0] == 3


def test_a_run_planned_until_its_time_limit_ends_there_without_stopped_early(tmp_path):
    # epochs >= UNTIL_LIMIT_EPOCHS (what bench.bench_recipe plans): the time limit is the
    # plan, so reaching it is no early stop; the log and bundle.json say so plainly
    from explorer.training.config import UNTIL_LIMIT_EPOCHS
    cat = blocks_catalogue(64)
    logs: list[str] = []
    t0 = time.monotonic()
    train(cat, TrainConfig(epochs=UNTIL_LIMIT_EPOCHS, time_limit=4.0, **FAST), TINY_MODEL,
          tmp_path / "t", progress=False, log=logs.append)
    assert time.monotonic() - t0 < 120
    b = load_bundle(tmp_path / "t")
    m = b.info["metrics"]
    assert m["steps"] > 8                       # more than one epoch of 4 steps
    assert "stopped_early" not in m and m["stopped_at_time_limit"]["at_step"] == m["steps"]
    said = [ln for ln in logs if ln.startswith("time limit reached: ")]
    assert len(said) == 1 and "the schedules ran to their end" in said[0], logs
    assert not any("STOPPED EARLY" in ln or "would fit" in ln for ln in logs), logs


@pytest.mark.parametrize("epochs", [5, 10_000])
def test_a_limit_reached_right_at_an_epochs_end_adds_no_empty_epoch(tmp_path, monkeypatch,
                                                                     epochs):
    # the limit checked before a step: reached by an epoch's last step, it stops the next
    # epoch before its first step; that epoch trained nothing and gets no row (CI once failed
    # there with KeyError 'loss' on a 4-step-epoch run planned to its limit)
    import explorer.training.loop as loop
    steps_per_epoch = 4                               # 51 training items in batches of 16
    monkeypatch.setattr(loop, "run_progress",
                        lambda step, planned, seconds, limit: 1.0 if step >= steps_per_epoch
                        else step / planned)
    logs: list[str] = []
    train(blocks_catalogue(64), TrainConfig(epochs=epochs, time_limit=600.0, **FAST),
          TINY_MODEL, tmp_path / "b", progress=False, log=logs.append)
    b = load_bundle(tmp_path / "b")
    assert [h["epoch"] for h in b.history] == [1] and not b.history[0].get("partial")
    assert b.info["metrics"]["steps"] == steps_per_epoch and b.gallery.shape[0] == 1
    assert sum(ln.startswith("epoch ") for ln in logs) == 1, logs
    assert any("time limit" in ln for ln in logs), logs


def test_schedules_are_fractions_of_the_run():
    from explorer.models import build_model
    from explorer.models.base import colour_weight
    from explorer.training.schedule import lr_factor, run_progress
    m = build_model("beta-vae", {**TINY_MODEL, "schedule": "fraction", "colour_boost": 21.0,
                                 "colour_boost_end": 0.5, "capacity_max": 10.0})
    # the same fraction of a short and of a long run gives the same weights
    assert colour_weight(m.cfg, 50, run_progress(50, 200, 0, 0)) == pytest.approx(11.0)
    assert colour_weight(m.cfg, 5000, run_progress(5000, 20000, 0, 0)) == pytest.approx(11.0)
    assert colour_weight(m.cfg, 2500, run_progress(2500, 20000, 0, 0)) == pytest.approx(16.0)
    assert colour_weight(m.cfg, 150, run_progress(150, 200, 0, 0)) == 1.0
    x = torch.rand(4, 3, 64, 64)
    assert float(m.loss(x, 0, progress=0.5).parts["capacity"]) == pytest.approx(5.0)
    # a time limit compresses the schedule: half the time is half the run, whatever the steps
    assert run_progress(10, 1000, seconds=30, time_limit=60) == pytest.approx(0.5)
    assert run_progress(900, 1000, seconds=30, time_limit=60) == pytest.approx(0.9)
    cfg = TrainConfig(lr=1e-3, warmup=0.1, final_lr=0.05)
    assert lr_factor(cfg, 0.0) < 0.05 and lr_factor(cfg, 0.1) == pytest.approx(1.0)
    assert lr_factor(cfg, 1.0) == pytest.approx(0.05)
    assert lr_factor(cfg, 0.55) == pytest.approx(0.525)
    assert lr_factor(TrainConfig(lr_schedule="constant", warmup=0.0), 0.7) == 1.0


def test_nan_loss_stops_with_message_and_keeps_last_good_checkpoint(tmp_path):
    cat = blocks_catalogue(64)
    out = tmp_path / "run"
    train(cat, TrainConfig(epochs=1, **FAST), TINY_MODEL, out, progress=False)
    ck = (out / "checkpoint" / "state.safetensors").read_bytes()
    with pytest.raises(TrainingError, match="loss became .* last good checkpoint"):
        train(cat, TrainConfig(epochs=3, lr=1e12, **{**FAST, "batch_size": 8}), TINY_MODEL, out,
              resume=True, progress=False)
    assert (out / "checkpoint" / "state.safetensors").read_bytes() == ck
    assert json.loads((out / "checkpoint" / "state.json").read_text())["epoch"] == 1
    load_bundle(out)  # the bundle from the good run is still intact


def test_wrong_inputs_get_clear_errors(tmp_path):
    cat = blocks_catalogue(32)
    with pytest.raises(TrainingError, match="32 px but the model was asked for 64 px"):
        train(cat, TrainConfig(epochs=1, **FAST), {**TINY_MODEL, "image_size": 64},
              tmp_path / "x", progress=False)
    empty = Catalogue(np.zeros((0, 32, 32, 3), np.uint8), pd.DataFrame({"sku": []}), name="e")
    with pytest.raises(TrainingError, match="has 0 items"):
        train(empty, TrainConfig(epochs=1, **FAST), TINY_MODEL, tmp_path / "y", progress=False)
    train(cat, TrainConfig(epochs=1, **FAST), TINY_MODEL, tmp_path / "z", progress=False)
    with pytest.raises(TrainingError, match="is a beta-vae model, not wae-mmd"):
        train(cat, TrainConfig(model="wae-mmd", epochs=2, **FAST), TINY_MODEL, tmp_path / "z",
              resume=True, progress=False)
    other = blocks_catalogue(32, seed=1)
    with pytest.raises(TrainingError, match="another catalogue"):
        train(other, TrainConfig(epochs=2, **FAST), TINY_MODEL, tmp_path / "z", resume=True,
              progress=False)


def test_cli_train_writes_bundle_and_rejects_bad_flags(tmp_path, capsys):
    blocks_catalogue(48).save(tmp_path / "cat")
    rc = cli_main(["train", str(tmp_path / "cat"), "--model", "beta-tcvae", "--epochs", "1",
                   "--latent-dim", "3", "--channels", "8,8,8", "--hidden-dim", "16",
                   "--beta", "4", "--batch-size", "16", "--projections", "pca",
                   "--no-progress", "--out", str(tmp_path / "b")])
    assert rc == 0
    b = load_bundle(tmp_path / "b")
    assert b.kind == "beta-tcvae" and b.model.cfg.beta == 4.0 and b.latent_dim == 3
    rc = cli_main(["train", str(tmp_path / "cat"), "--model", "wae-mmd", "--beta", "4",
                   "--out", str(tmp_path / "c")])
    assert rc == 2 and "--beta does not apply to wae-mmd" in capsys.readouterr().err
    rc = cli_main(["train", str(tmp_path / "nope"), "--out", str(tmp_path / "d")])
    assert rc == 2 and "not a catalogue folder" in capsys.readouterr().err


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    blocks_catalogue(256).save(tmp_path / "cat")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "explorer", "train", str(tmp_path / "cat"), "--epochs", "200",
           "--latent-dim", "4", "--channels", "8,8,8", "--hidden-dim", "32", "--batch-size", "8",
           "--projections", "pca", "--threads", "1", "--no-progress", "--out", str(out)]
    # a shell's background job starts with SIGINT ignored, and Python then never turns it into
    # KeyboardInterrupt: give the child the default disposition, as a terminal would
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 600  # a loaded machine can take minutes to finish epoch 1
    while not (out / "checkpoint" / "state.json").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, output
    assert "checkpoint saved" in output and "--resume" in output
    assert "Traceback" not in output
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["step"] > 0


# torchrun (two processes, identical weights, one bundle): tests/test_ddp_uneven.py


@pytest.mark.parametrize("kind", ["beta-vae", "beta-tcvae", "wae-mmd"])
def test_bf16_autocast_training_runs_and_keeps_a_float32_loss(tmp_path, kind):
    cat = blocks_catalogue(64)
    cfg = TrainConfig(epochs=1, precision="bf16", model=kind, **FAST)
    train(cat, cfg, TINY_MODEL, tmp_path / "b", progress=False)
    b = load_bundle(tmp_path / "b")
    assert b.info["train_config"]["precision"] == "bf16"
    assert b.info["metrics"]["precision"]["chosen"] == "bf16"
    assert np.isfinite(b.history[-1]["val"]["loss"])
    assert all(v.dtype == torch.float32 for v in _weights(tmp_path / "b").values())
    x = torch.rand(4, 3, 32, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = b.model.loss(x)
    assert out.loss.dtype == torch.float32 and out.recon.dtype == torch.float32


@pytest.mark.slow      # ~20-35 s here
def test_gpu_study_script_runs_end_to_end_on_the_cpu(tmp_path):
    """scripts/train_study_gpu.sh, shrunk to a few seconds on the CPU: it synthesises the
    study catalogue, trains, evaluates, and packs the best bundle (without its optimizer
    checkpoint) and every run's results."""
    import tarfile

    out, work = tmp_path / "out", tmp_path / "work"
    env = {**os.environ, "N": "160", "SIZE": "32", "LIMIT": "1", "DEVICE": "cpu",
           "THREADS": "1", "RUNS_SET": "vae-b4", "WORK": str(work), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(["bash", str(REPO / "scripts" / "train_study_gpu.sh"), str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "best: vae-b4" in proc.stdout
    parts = sorted(out.glob("best-vae-b4.tar.part*"))
    assert parts
    joined = tmp_path / "best.tar"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    with tarfile.open(joined) as tar:
        names = tar.getnames()
    assert "vae-b4/bundle.json" in names and not any("checkpoint" in n for n in names)
    with tarfile.open(out / "results.tgz") as tar:
        results = tar.getnames()
    assert "./vae-b4.eval.json" in results and "vae-b4/history.json" in results
    row = json.loads((work / "runs" / "vae-b4.eval.json").read_text())["results"][0]["rows"][0]
    assert row["model"] == "beta-vae" and row["mig"] is not None
