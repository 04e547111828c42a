#!/usr/bin/env bash
# Quality of the default `eigenflow train` on two moons (3000 points, noise
# 0.05): held-out NLL on 50,000 fresh points from the same distribution,
# minus the distribution's entropy (both in nats, raw coordinates), and the
# wall time of training, over a few seeds.
# Usage: bash benchmarks/quality_two_moons.sh [seeds...]   (default seeds: 0 1 2)
#        EIGENFLOW_TRAIN_ARGS="--flow nsf" bash benchmarks/quality_two_moons.sh   (any other train flags)
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
cd "$EIGENFLOW_ROOT"
eigenflow_configure build
cmake --build build -j "$EIGENFLOW_JOBS" --target eigenflow_cli dataset_entropy >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
eigenflow=./build/examples/eigenflow
read -r _ entropy _ stderr < <(./build/benchmarks/dataset_entropy two-moons 3000 0.05 200000)
./build/examples/eigenflow generate --dataset two-moons --n 50000 --seed 777 --out "$work/fresh.csv"
echo "two-moons n=3000 noise=0.05: entropy $entropy nats (MC stderr $stderr); train flags: ${EIGENFLOW_TRAIN_ARGS:-defaults}"
printf '%-6s %-10s %-14s %-8s\n' seed seconds heldout_nll gap
seeds=("$@")
[ ${#seeds[@]} -eq 0 ] && seeds=(0 1 2)
for seed in "${seeds[@]}"; do
  start=$(date +%s.%N)
  # shellcheck disable=SC2086  # the extra flags are meant to split into words
  $eigenflow train --dataset two-moons --n 3000 --seed "$seed" ${EIGENFLOW_TRAIN_ARGS:-} --out "$work/m.json" 2>/dev/null >/dev/null
  end=$(date +%s.%N)
  $eigenflow logprob --model "$work/m.json" --in "$work/fresh.csv" --out "$work/logp.csv"
  nll=$(awk 'NR > 1 { s -= $1; n++ } END { printf "%.4f", s / n }' "$work/logp.csv")
  awk -v s="$seed" -v a="$start" -v b="$end" -v nll="$nll" -v h="$entropy" \
    'BEGIN { printf "%-6s %-10.2f %-14.4f %-8.4f\n", s, b - a, nll, nll - h }'
done
