#!/usr/bin/env bash
# Data-parallel training (mpirun -np P eigenflow train) on this machine: seconds
# per training step and rows per second for P = 1 and 2 ranks of one thread
# each, beside one process with 2 threads (the shared-memory alternative on
# one machine); P = 4 and 8 run oversubscribed on the 2 cores, as a check that
# more ranks give the same model, not as a timing. Every run's model is
# compared with P = 1's: the largest difference of the log-densities of 2,000
# points (double precision); chunked runs (--chunk-rows, a quarter of the batch)
# against one chunked process, which they must equal bit for bit. The gradient
# each step sums across ranks is the parameter count × 8 bytes.
#   bash benchmarks/mpi_scaling.sh [EPOCHS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
cd "$EIGENFLOW_ROOT"
epochs=${1:-4}
eigenflow_configure build
cmake --build build -j "$EIGENFLOW_JOBS" --target eigenflow_cli >/dev/null
eigenflow=$PWD/build/examples/eigenflow
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1

"$eigenflow" generate --dataset two-moons --n 60000 --seed 1 --out moons.csv >/dev/null
"$eigenflow" generate --dataset two-moons --n 2000 --seed 2 --out moons_points.csv >/dev/null
"$eigenflow" generate --dataset mixed-moons --dim 16 --n 40000 --seed 1 --out mixed.csv >/dev/null
"$eigenflow" generate --dataset mixed-moons --dim 16 --n 2000 --seed 2 --out mixed_points.csv >/dev/null

# Numbers in the model file's layers, masks and permutations aside: the parameters.
parameters() {
  /usr/bin/python3 -c '
import json, sys
def count(node, key=""):
    if isinstance(node, dict): return sum(count(v, k) for k, v in node.items())
    if isinstance(node, list): return 0 if key in ("mask", "permutation", "order", "degrees") else sum(count(v, key) for v in node)
    return 1 if isinstance(node, float) else 0
print(count(json.load(open(sys.argv[1]))["layers"]))' "$1"
}

echo "| model | batch | P | threads per rank | ms per step | rows per second | speed-up | largest log-density difference from P = 1 |"
echo "|---|---|---|---|---|---|---|---|"
run_case() {
  local name=$1 data=$2 points=$3 batch=$4
  shift 4
  local flags=(train --data "$data" --batch "$batch" --epochs "$epochs" --patience 0 --seed 3 --precision double "$@")
  local base_ms=""
  local chunk=$((batch / 4))
  for setup in "1 1 0" "1 2 0" "2 1 0" "4 1 0" "8 1 0" "1 1 $chunk" "2 1 $chunk"; do
    read -r p threads chunk_rows <<<"$setup"
    local out=$name-$p-$threads-$chunk_rows run=("${flags[@]}" --threads "$threads" --chunk-rows "$chunk_rows" --out "$out.json")
    if [ "$p" -eq 1 ]; then
      "$eigenflow" "${run[@]}" >"$out.txt" 2>/dev/null
    else
      mpirun -np "$p" --oversubscribe --quiet "$eigenflow" "${run[@]}" >"$out.txt" 2>/dev/null
    fi
    "$eigenflow" logprob --model "$out.json" --in "$points" --out "$out.lp" >/dev/null
    local seconds rows steps ms
    seconds=$(grep '^final' "$out.txt" | sed 's/.*seconds=\([0-9.]*\).*/\1/')
    rows=$(grep -o 'N=[0-9]*' "$out.txt" | head -1 | cut -d= -f2)
    steps=$(( epochs * ((rows + batch - 1) / batch) ))
    ms=$(awk -v s="$seconds" -v n="$steps" 'BEGIN { printf "%.2f", 1000 * s / n }')
    [ -z "$base_ms" ] && base_ms=$ms
    [ "$p" -eq 1 ] && [ "$threads" -eq 1 ] && cp "$out.lp" "$name.reference.lp"  # chunked runs: against one chunked process
    local difference
    difference=$(paste -d, "$name.reference.lp" "$out.lp" |
      awk -F, 'NR > 1 { d = $1 - $2; if (d < 0) d = -d; if (d > w) w = d } END { printf "%.1e", w + 0 }')
    local note=""
    [ "$p" -gt 2 ] && note=" (oversubscribed)"
    [ "$chunk_rows" -gt 0 ] && note="$note, --chunk-rows $chunk_rows"
    echo "| $name | $batch | $p$note | $threads | $ms | $(awk -v s="$seconds" -v n="$rows" -v e="$epochs" 'BEGIN { printf "%.0f", n * e / s }') | $(awk -v a="$base_ms" -v b="$ms" 'BEGIN { printf "%.2f", a / b }') | $difference |"
  done
  local count
  count=$(parameters "$name-1-1-0.json")
  echo "| $name: $count parameters, $((count * 8)) gradient bytes summed per step | | | | | | | |"
}
run_case "realnvp, two moons" moons.csv moons_points.csv 1024 --flow realnvp
run_case "realnvp, two moons" moons.csv moons_points.csv 256 --flow realnvp
run_case "nsf, mixed-moons D=16" mixed.csv mixed_points.csv 512 --flow nsf
