"""Distributed training under torchrun: two processes, shards of unequal size (issue 15,
part 5), identical weights on both ranks and one bundle. One launch checks it all (each torchrun
start costs ~12 s of the default run)."""
import os
import signal
import subprocess
import sys
from pathlib import Path

from explorer.bundle.core import load_bundle
from explorer.data.splits import split_indices
from tests.helpers import blocks_catalogue

REPO = Path(__file__).resolve().parents[1]


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_torchrun_two_processes_uneven_shards_identical_weights_one_bundle(tmp_path):
    # 143 items, 10% validation: 129 training items, 65 and 64 per rank, 2 batches of 64 on
    # one rank and 1 on the other unless the shards are padded to the same length (the
    # plain split: grouping blocks_catalogue's pixel-identical items would leave 127)
    n_train = len(split_indices(143, 0.1, 0)[0])
    assert n_train % 2 == 1
    blocks_catalogue(143).save(tmp_path / "cat")
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "explorer", "train", str(tmp_path / "cat"), "--epochs", "2", "--latent-dim",
           "2", "--channels", "4,4,4", "--hidden-dim", "8", "--batch-size", "64",
           "--val-fraction", "0.1", "--no-group-duplicates", "--projections", "pca",
           "--threads", "1", "--no-progress", "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        for pid in [*_children(proc.pid), proc.pid]:  # torchrun starts each rank in its
            try:                                      # own session
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        output, _ = proc.communicate()
        raise AssertionError("torchrun hung (a rank waits in an all-reduce):\n" + output[-3000:])
    assert proc.returncode == 0, output[-3000:]
    b = load_bundle(out)
    assert b.info["metrics"]["world_size"] == 2
    sums = b.info["metrics"]["rank_weight_checksums"]
    assert sums[0] == sums[1]
    assert len(sums) == 2
    assert b.info["metrics"]["steps"] == 4  # ceil(65 / 64) steps on every rank, 2 epochs
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".ddp")] == []
    assert output.count("wrote bundle") == 1
    # --no-progress drops the bars, not the one line per epoch a log file needs (rank 0 only)
    assert output.count("epoch 1: train loss") == 1 and output.count("epoch 2: train loss") == 1
