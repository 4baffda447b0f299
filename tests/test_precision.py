"""Hardware-aware defaults: the precision and thread rules, and that train/encode apply and
record them."""
import json

import numpy as np
import pytest

from explorer.bundle.core import load_bundle
from explorer.bundle.encode import encode_images, encode_precision
from explorer.cli import build_parser
from explorer.training.precision import (MIN_SPEEDUP, choose_precision, choose_threads, cpu_flags,
                                resolve_precision, time_precisions)
from explorer.cli.train import config_from_args
from explorer.training.config import TrainConfig
from explorer.training.loop import train
from tests.helpers import TINY_MODEL, blocks_catalogue

AVX512_NO_BF16 = {"avx2", "avx512f", "avx512bw", "avx512_vnni"}
SAPPHIRE = AVX512_NO_BF16 | {"avx512_bf16", "amx_bf16", "amx_tile"}


def test_cpu_without_native_bfloat16_stays_float32_even_if_timings_favour_bf16():
    c = choose_precision("auto", "cpu", AVX512_NO_BF16, timings={"fp32": 100, "bf16": 500})
    assert c.precision == "fp32" and "emulated" in c.reason
    assert choose_precision("auto", "cpu", set()).precision == "fp32"


def test_amx_cpu_picks_bf16_only_when_measured_clearly_faster():
    assert choose_precision("auto", "cpu", SAPPHIRE).precision == "bf16"  # not timed
    fast = choose_precision("auto", "cpu", SAPPHIRE, timings={"fp32": 800, "bf16": 1260})
    assert fast.precision == "bf16" and "1.57x" in fast.reason and "amx_bf16" in fast.reason
    close = choose_precision("auto", "cpu", SAPPHIRE,
                             timings={"fp32": 1000, "bf16": 1000 * (MIN_SPEEDUP - 0.02)})
    assert close.precision == "fp32" and "only" in close.reason
    only_vnni = choose_precision("auto", "cpu", {"avx512_bf16"}, timings={"fp32": 1, "bf16": 2})
    assert only_vnni.precision == "bf16"


def test_cuda_follows_bf16_support_and_an_explicit_choice_is_kept():
    assert choose_precision("auto", "cuda", set(), cuda_bf16=True).precision == "bf16"
    assert choose_precision("auto", "cuda", set(), cuda_bf16=False).precision == "fp32"
    assert choose_precision("bf16", "cpu", set()).precision == "bf16"
    assert choose_precision("fp32", "cpu", SAPPHIRE).reason == "asked for"
    with pytest.raises(ValueError, match="precision must be one of"):
        choose_precision("fp16", "cpu", set())


def test_resolve_times_only_where_bf16_could_pay():
    calls = []

    def step(bf16):
        calls.append(bf16)
        return 8

    assert resolve_precision("auto", "cpu", step, flags=frozenset(AVX512_NO_BF16)).precision \
        == "fp32"
    assert calls == []  # no timing where bfloat16 would be emulated
    c = resolve_precision("auto", "cpu", step, flags=frozenset(SAPPHIRE))
    assert set(calls) == {False, True} and set(c.timings) == {"fp32", "bf16"}
    t = time_precisions(lambda bf16: 4, seconds=0.0, max_steps=2)
    assert set(t) == {"fp32", "bf16"} and all(v > 0 for v in t.values())


def test_cpu_flags_read_from_a_cpuinfo_file(tmp_path):
    f = tmp_path / "cpuinfo"
    f.write_text("processor\t: 0\nflags\t\t: fpu avx2 amx_bf16 avx512_bf16\n\nprocessor\t: 1\n")
    assert {"amx_bf16", "avx512_bf16", "avx2"} <= cpu_flags(str(f))
    assert cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_threads_default_to_the_cpus_this_process_may_use():
    assert choose_threads(3, 16) == (3, "asked for with --threads")
    n, why = choose_threads(0, 16)
    assert n == 16 and "16 CPUs" in why
    assert choose_threads(0, 16, processes_here=4)[0] == 4
    assert choose_threads(0, 2, processes_here=4)[0] == 1


def test_cli_precision_flag_and_bf16_alias():
    p = build_parser()
    for argv, want in ((["train", "C", "--out", "O"], "auto"),
                       (["train", "C", "--out", "O", "--bf16"], "bf16"),
                       (["train", "C", "--out", "O", "--precision", "fp32"], "fp32")):
        cfg, _ = config_from_args(p.parse_args(argv))
        assert cfg.precision == want
    assert p.parse_args(["encode", "B", "C", "--out", "O"]).precision == "auto"
    with pytest.raises(SystemExit):
        p.parse_args(["train", "C", "--out", "O", "--precision", "fp16"])


def test_train_logs_and_records_the_choice(tmp_path):
    cat = blocks_catalogue(48)
    lines = []
    train(cat, TrainConfig(epochs=1, batch_size=16, projections=("pca",), val_fraction=0.2),
          TINY_MODEL, tmp_path / "b", progress=False, log=lines.append)
    info = json.loads((tmp_path / "b" / "bundle.json").read_text())
    m = info["metrics"]
    here = choose_precision("auto", "cpu", cpu_flags())
    assert m["precision"]["asked"] == "auto" and m["precision"]["reason"]
    if here.precision == "fp32":  # no native bfloat16 here: no timing, float32
        assert m["precision"]["chosen"] == "fp32"
    assert m["threads"]["n"] >= 1 and "CPUs available" in m["threads"]["reason"]
    assert any(ln.startswith("threads: ") and "precision: " + m["precision"]["chosen"] in ln
               for ln in lines)
    assert info["encoding"]["precision"]["chosen"] in ("fp32", "bf16")
    b = load_bundle(tmp_path / "b")
    mu, _ = encode_images(b.model, cat.images[:8], precision="auto")
    assert mu.shape == (8, 4) and np.isfinite(mu).all()
    assert encode_precision(b.model, cat.images[:8], "fp32").precision == "fp32"
