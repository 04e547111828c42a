#!/usr/bin/env bash
# Held-out KL of `eigenflow train` beyond 2D, against the full-covariance Gaussian:
#   bash benchmarks/beyond_2d.sh "DIMS" "ROWS" "SEEDS" [train flags...]
# e.g. bash benchmarks/beyond_2d.sh "8 16" "5000 8000" "0 1 2" --start gaussian
# Data: EIGENFLOW_DATASET (docs/datasets.md), by default mixed-moons with noise 0.08
# (two thin moons and D − 2 Gaussian directions under a fixed mixing); mixed-helix and
# mixed-sources at their own noise: N training rows (the trainer's own
# validation split), 50,000 fresh test rows (seed S + 1000), the exact entropy by
# Monte Carlo (dataset_entropy, 200,000 draws: standard error ≤ 0.007). KL = test NLL −
# entropy, nats per point; a negative KL beyond twice that error would be a bug.
# The default flow beyond 2D is the subspace flow ("kept" is then its chosen k); pass
# --flow nsf for the flow that was the default before it. EIGENFLOW_ENTROPY_DIR: a
# directory of entropy_NAME_D.txt files (this script's dataset_entropy output) to reuse.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
cd "$EIGENFLOW_ROOT"
eigenflow_configure build
cmake --build build -j "$EIGENFLOW_JOBS" --target eigenflow_cli dataset_entropy >/dev/null
eigenflow=$PWD/build/examples/eigenflow entropy=$PWD/build/benchmarks/dataset_entropy
dims=$1 rows=$2 seeds=$3
dataset=${EIGENFLOW_DATASET:-mixed-moons}
noise=() entropy_noise=-
if [ "$dataset" = mixed-moons ]; then noise=(--noise 0.08) entropy_noise=0.08; fi
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "| D | N | seed | flow KL | Gaussian KL | kept | seconds |"
echo "|---|---|---|---|---|---|---|"
for d in $dims; do
  cached=${EIGENFLOW_ENTROPY_DIR:-/nonexistent}/entropy_${dataset}_$d.txt
  if [ -s "$cached" ]; then h=$(awk '{print $2}' "$cached"); else h=$("$entropy" "$dataset" 50000 "$entropy_noise" 200000 "$d" | awk '{print $2}'); fi
  for n in $rows; do
    for s in $seeds; do
      "$eigenflow" generate --dataset "$dataset" --dim "$d" "${noise[@]}" --n "$n" --seed "$s" --out "$work/train.csv" >/dev/null
      "$eigenflow" generate --dataset "$dataset" --dim "$d" "${noise[@]}" --n 50000 --seed $((s + 1000)) --out "$work/test.csv" >/dev/null
      "$eigenflow" train --data "$work/train.csv" --test-data "$work/test.csv" "$@" --out "$work/model.json" >"$work/log.txt" 2>&1
      awk -v h="$h" -v d="$d" -v n="$n" -v s="$s" '
        /^final/ { for (i = 1; i <= NF; ++i) { split($i, kv, "="); v[kv[1]] = kv[2] }; kept = $0; sub(/.*kept_epoch=/, "", kept); sub(/.*kept_k=/, "k=", kept); if ($0 ~ /kept_flow=nsf/) kept = "nsf" }
        /^baseline/ { for (i = 1; i <= NF; ++i) if ($i ~ /^test_nll=/) { split($i, kv, "="); g = kv[2] } }
        END { printf "| %s | %s | %s | %.3f | %.3f | %s | %.1f |\n", d, n, s, v["test_nll"] - h, g - h, kept, v["seconds"] }' "$work/log.txt"
    done
  done
done
