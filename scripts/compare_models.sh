#!/usr/bin/env bash
# Compare model kinds on one catalogue with the same budget (the same number of optimiser
# steps, batch 64, 16 latents, the same seed and split), then print the evaluate table: each
# model beside a PCA baseline of the same size fitted on the same training split.
#
# Usage: scripts/compare_models.sh CATALOGUE OUT_DIR [STEPS]      (default 4000 steps)
#   JOBS=2 runs two trainings at a time (one thread each); the default is one at a time.
#   KINDS="vae-b1 wae-mmd" picks a subset of the runs below.
set -euo pipefail
CAT=${1:?catalogue}; OUT=${2:?out dir}; STEPS=${3:-4000}; JOBS=${JOBS:-1}
mkdir -p "$OUT"
# epochs that give STEPS optimiser steps on this catalogue's training split
EPOCHS=$(python3 - "$CAT" "$STEPS" <<'EOF'
import math, sys
from explorer.data.catalogue import Catalogue
from explorer.data.splits import split_indices
from explorer.training.config import TrainConfig
n = len(Catalogue.load(sys.argv[1]))
cfg = TrainConfig()
train, _ = split_indices(n, cfg.val_fraction, cfg.seed, cfg.max_val)
print(max(1, round(int(sys.argv[2]) / math.ceil(len(train) / 64))))
EOF
)
echo "budget: $EPOCHS epochs (~$STEPS steps of 64) per model on $CAT"
common=(--epochs "$EPOCHS" --batch-size 64 --latent-dim 16 --threads 1 --projections pca
        --no-progress)
declare -A ARGS=(
  [vae-b1]="--model beta-vae --beta 1"                       # the default recipe
  [vae-b1-grey]="--model beta-vae --beta 1 --colour-boost 1" # ... without the colour curriculum
  [vae-b4]="--model beta-vae --beta 4"
  [tcvae-b6]="--model beta-tcvae --beta 6"
  [wae-mmd]="--model wae-mmd --mmd-weight 100"
)
KINDS=${KINDS:-"vae-b1 vae-b1-grey vae-b4 tcvae-b6 wae-mmd"}
run() {
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=1 python3 -m explorer train "$CAT" --out "$OUT/$1" "${common[@]}" ${ARGS[$1]} \
    > "$OUT/$1.log" 2>&1 && echo "trained $1" || { echo "FAILED $1 (see $OUT/$1.log)"; return 1; }
}
running=0
for k in $KINDS; do
  if [ -f "$OUT/$k/bundle.json" ]; then echo "have $k"; continue; fi
  run "$k" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait
bundles=(); for k in $KINDS; do bundles+=("$OUT/$k"); done
OMP_NUM_THREADS=1 python3 -m explorer evaluate "${bundles[@]}" --json "$OUT/evaluate.json" \
  | tee "$OUT/evaluate.txt"
