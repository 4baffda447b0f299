#!/usr/bin/env bash
# Compare model kinds on the same procedural catalogue with the same budget, then print the
# evaluate table (each model beside a PCA baseline of the same size on the same split).
# Usage: scripts/compare_models.sh CATALOGUE OUT_DIR [EPOCHS]   (two runs at a time, 1 thread each)
set -euo pipefail
CAT=${1:?catalogue}; OUT=${2:?out dir}; EPOCHS=${3:-6}
mkdir -p "$OUT"
common=(--epochs "$EPOCHS" --batch-size 64 --latent-dim 16 --threads 1 --projections pca --no-progress)
run() { OMP_NUM_THREADS=1 python3 -m explorer train "$CAT" --out "$OUT/$1" "${common[@]}" "${@:2}" \
          > "$OUT/$1.log" 2>&1; }
run vae-b1     --model beta-vae --beta 1 &
run vae-b4     --model beta-vae --beta 4 &
wait
run tcvae-b6   --model beta-tcvae --beta 6 &
run wae-mmd    --model wae-mmd --recon-loss mse --mmd-weight 100 &
wait
python3 -m explorer evaluate "$OUT"/vae-b1 "$OUT"/vae-b4 "$OUT"/tcvae-b6 "$OUT"/wae-mmd \
  --json "$OUT/evaluate.json" | tee "$OUT/evaluate.txt"
