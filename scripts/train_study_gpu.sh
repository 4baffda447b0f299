#!/usr/bin/env bash
# The disentanglement study: several models side by side on one GPU, trained on the six-factor
# study catalogue (`synth --design study`) for the same wall-clock budget, each written as a
# bundle and evaluated (MIG, SAP, DCI, modularity beside PCA). The bundle with the highest
# MIG + DCI disentanglement is packed into OUT_DIR (split into 15 MB parts), with every run's
# evaluate table, JSON and training history.
#
# Usage: scripts/train_study_gpu.sh OUT_DIR
#   N, SIZE (catalogue), LIMIT (training seconds per run), DEVICE, RUNS_SET (a subset of the
#   run names below), BATCH, THREADS (torch threads per run) may be set in the environment.
# On a CPU (DEVICE=cpu, small N, SIZE=32, LIMIT=10) the same script runs end to end as a check.
set -uo pipefail
OUT=${1:?usage: $0 OUT_DIR}
N=${N:-30000}; SIZE=${SIZE:-64}; LIMIT=${LIMIT:-270}; DEVICE=${DEVICE:-cuda}
BATCH=${BATCH:-128}; THREADS=${THREADS:-2}; QUALITY=${QUALITY:-0}
WORK=${WORK:-/tmp/kickspace-study}
CAT=$WORK/catalogue; RUNS=$WORK/runs
mkdir -p "$OUT" "$RUNS"
export PYTHONUNBUFFERED=1
t0=$(date +%s)
say() { echo "[$(( $(date +%s) - t0 )) s] $*"; }

say "synth: $N study items at $SIZE px"
python3 -m explorer synth --design study --n "$N" --size "$SIZE" --seed 0 --out "$CAT" \
  --workers "$(nproc)" --no-progress || exit 1

common=(--epochs 1000 --time-limit "$LIMIT" --batch-size "$BATCH" --latent-dim 10
        --device "$DEVICE" --bf16 --projections pca --threads "$THREADS" --image-quality "$QUALITY" --no-progress)
declare -A RUN=(
  [tcvae-b6]="--model beta-tcvae --beta 6"
  [tcvae-b6-s1]="--model beta-tcvae --beta 6 --seed 1"
  [tcvae-b3]="--model beta-tcvae --beta 3"
  [tcvae-b10]="--model beta-tcvae --beta 10"
  [vae-b4]="--model beta-vae --beta 4"
  [vae-b8]="--model beta-vae --beta 8"
  [vae-b16]="--model beta-vae --beta 16"
  [vae-b1]="--model beta-vae --beta 1"
  [vae-b12]="--model beta-vae --beta 12"
  [vae-b16-s1]="--model beta-vae --beta 16 --seed 1"
  [vae-b24]="--model beta-vae --beta 24"
  [vae-b32]="--model beta-vae --beta 32"
)
NAMES=${RUNS_SET:-"tcvae-b3 tcvae-b6 tcvae-b6-s1 tcvae-b10 vae-b1 vae-b4 vae-b8 vae-b16"}
for name in $NAMES; do
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=$THREADS python3 -m explorer train "$CAT" --out "$RUNS/$name" "${common[@]}" \
    ${RUN[$name]} > "$RUNS/$name.train.log" 2>&1 &
done
wait
say "trained"
for name in $NAMES; do
  echo "== $name"; grep -E "time limit|error|Error" "$RUNS/$name.train.log" | tail -n 2
done

# evaluate every bundle (in parallel, a few threads each)
for name in $NAMES; do
  [ -f "$RUNS/$name/bundle.json" ] || { echo "no bundle for $name"; continue; }
  OMP_NUM_THREADS=$THREADS python3 -m explorer evaluate "$RUNS/$name" --max-items 5000 \
    --json "$RUNS/$name.eval.json" > "$RUNS/$name.eval.txt" 2>&1 &
done
wait
say "evaluated"

best=$(python3 - "$RUNS" <<'PY'
import json, pathlib, sys
runs = pathlib.Path(sys.argv[1])
scores = []
for f in sorted(runs.glob("*.eval.json")):
    try:
        row = json.loads(f.read_text())["results"][0]["rows"][0]
    except Exception as e:  # a run that failed to evaluate is reported, not chosen
        print(f"{f.name}: unreadable ({e})", file=sys.stderr)
        continue
    name = f.name[: -len(".eval.json")]
    print(f"{name:14s} MIG {row['mig']:.3f}  DCI D {row['dci_d']:.3f}  PSNR {row['psnr']:.2f}  "
          f"active {row.get('active_dims')}", file=sys.stderr)
    scores.append((row["mig"] + row["dci_d"], name))
print(max(scores)[1] if scores else "")
PY
)
say "best: ${best:-none}"
for name in $NAMES; do cat "$RUNS/$name.eval.txt" 2>/dev/null | tail -n 4; done

# results: every run's tables, JSON, history and logs
( cd "$RUNS" && tar -czf "$OUT/results.tgz" ./*.eval.json ./*.eval.txt ./*.train.log \
    $(ls -d */history.json */bundle.json 2>/dev/null) )
if [ -n "$best" ]; then  # the bundle, without the training checkpoint (optimizer state)
  tar -C "$RUNS" -cf "$WORK/best.tar" --exclude="$best/checkpoint" "$best"
  split -b 15m -d "$WORK/best.tar" "$OUT/best-$best.tar.part"
fi
say "done"
ls -la "$OUT"
