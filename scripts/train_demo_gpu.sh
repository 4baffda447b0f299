#!/usr/bin/env bash
# How the demo bundle and the model-kind comparison were trained: on one GPU, several runs side
# by side, each writing only its checkpoint (weights, history, gallery). The bundle itself is
# then finished on any machine with `python -m explorer train ... --resume` (encoding,
# projections and image packing need no GPU). Usage: scripts/train_demo_gpu.sh OUT_DIR
set -euo pipefail
OUT=${1:?usage: $0 OUT_DIR}
EPOCHS=${EPOCHS:-50}
N=${N:-30000}
DEVICE=${DEVICE:-cuda}
LIMIT=${LIMIT:-420}   # seconds for all runs together; a run stopped early keeps its last epoch
CAT=${CAT:-/tmp/kickspace-demo-catalogue}
RUNS=${RUNS:-/tmp/kickspace-runs}
mkdir -p "$OUT" "$RUNS"

python3 -m explorer synth --n "$N" --size 64 --seed 0 --out "$CAT" --workers "$(nproc)"

common=(--epochs "$EPOCHS" --batch-size 128 --lr 1e-3 --latent-dim 16 --device "$DEVICE"
        --projections pca --no-write-bundle --threads 2 --no-progress)
declare -A RUN=(
  [tcvae-b6]="--model beta-tcvae --beta 6"
  [tcvae-b12]="--model beta-tcvae --beta 12"
  [vae-b1]="--model beta-vae --beta 1"
  [vae-b4]="--model beta-vae --beta 4"
  [wae-mmd]="--model wae-mmd --recon-loss mse --mmd-weight 100"
  [vae-b1-z32]="--model beta-vae --beta 1 --latent-dim 32"
)
for name in "${!RUN[@]}"; do
  # shellcheck disable=SC2086
  timeout "$LIMIT" python3 -m explorer train "$CAT" --out "$RUNS/$name" "${common[@]}" \
    ${RUN[$name]} > "$RUNS/$name.log" 2>&1 &
done
wait || true
for name in "${!RUN[@]}"; do echo "== $name"; tail -n 3 "$RUNS/$name.log"; done

# keep weights, history and gallery; drop the optimizer state (not needed to finish a bundle)
python3 - "$RUNS" <<'PY'
import sys, pathlib
from safetensors.torch import load_file, save_file
for st in pathlib.Path(sys.argv[1]).glob("*/checkpoint/state.safetensors"):
    t = load_file(str(st))
    save_file({k: v for k, v in t.items() if not k.startswith("opt.")}, str(st))
PY
python3 -m explorer info "$CAT" | tee "$OUT/catalogue.txt"
tar -C "$RUNS" -czf "$RUNS.tgz" --exclude='*.tmp' $(cd "$RUNS" && ls -d */checkpoint *.log)
split -b 15m -d "$RUNS.tgz" "$OUT/runs.tgz.part"
ls -la "$OUT"
