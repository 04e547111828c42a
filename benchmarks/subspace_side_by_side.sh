#!/usr/bin/env bash
# The subspace flow (the default beyond 2D) against its PyTorch twin (pytorch_subspace.py),
# in one run on this machine, one thread each:
#   step  one training step (speed's subspace_step_d16_kK cases against the twin's)
#   fit   one whole fit of the candidate k for a fixed number of epochs (no early stop) on the
#         same mixed-moons files: eigenflow's `train --active K` (its seconds include the
#         projection pursuit that starts R) against the twin's (R started at FOBI's directions,
#         no pursuit); the held-out KL of each beside it
#   default  eigenflow's whole default fit (the search over k, then nsf as one more candidate)
# Ratios are PyTorch's seconds over eigenflow's (> 1: eigenflow faster).
#   bash benchmarks/subspace_side_by_side.sh [D N EPOCHS]   (default 16 8000 30)
EIGENFLOW_EXTRA_PACKAGES="python3-torch libopenblas0-pthread"
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
cd "$EIGENFLOW_ROOT"
source benchmarks/pytorch_env.sh
d=${1:-16} n=${2:-8000} epochs=${3:-30}
eigenflow_configure build
cmake --build build -j "$EIGENFLOW_JOBS" --target eigenflow_cli speed dataset_entropy >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
eigenflow=./build/examples/eigenflow
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
h=$(./build/benchmarks/dataset_entropy mixed-moons 50000 0.08 200000 "$d" | awk '{print $2}')
"$eigenflow" generate --dataset mixed-moons --dim "$d" --noise 0.08 --n "$n" --seed 0 --out "$work/all.csv" >/dev/null
head -1 "$work/all.csv" >"$work/train.csv"
cp "$work/train.csv" "$work/val.csv"
sed -n "2,$((n * 9 / 10 + 1))p" "$work/all.csv" >>"$work/train.csv"  # (head would end the pipe early: set -o pipefail)
sed -n "$((n * 9 / 10 + 2)),\$p" "$work/all.csv" >>"$work/val.csv"
"$eigenflow" generate --dataset mixed-moons --dim "$d" --noise 0.08 --n 50000 --seed 1000 --out "$work/test.csv" >/dev/null
files=(--data "$work/train.csv" --validation-data "$work/val.csv" --test-data "$work/test.csv")
echo "mixed-moons D = $d, N = $n ($((n * 9 / 10)) training rows), entropy $h; one thread each"
echo "| case | eigenflow | PyTorch | ratio | KL eigenflow | KL PyTorch |"
echo "|---|---|---|---|---|---|"
for k in 2 8; do
  ours=$(./build/benchmarks/speed "subspace_step_d16_k$k" | awk '{print $2}')
  theirs=$(/usr/bin/python3 benchmarks/pytorch_subspace.py step 16 "$k" | awk '{print $2}')
  echo "| step d16 k=$k (ms) | $ours | $theirs | $(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", b / a }') | | |"
done
for k in 2 8; do
  line=$("$eigenflow" train "${files[@]}" --active "$k" --epochs "$epochs" --patience "$epochs" --threads 1 --out "$work/m.json" 2>/dev/null | grep '^final')
  ours=$(sed 's/.*seconds=\([0-9.]*\).*/\1/' <<<"$line") ours_nll=$(sed 's/.*test_nll=\([-0-9.]*\).*/\1/' <<<"$line")
  read -r theirs theirs_nll <<<"$(/usr/bin/python3 benchmarks/pytorch_subspace.py fit "$work/train.csv" "$work/val.csv" "$work/test.csv" "$k" "$epochs" 0 |
    awk '/^subspace_fit/ { s = $2 } /^test_nll/ { t = $2 } END { print s, t }')"
  echo "| fit k=$k, $epochs epochs (s) | $ours | $theirs | $(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", b / a }') |" \
    "$(awk -v t="$ours_nll" -v h="$h" 'BEGIN { printf "%.3f", t - h }') | $(awk -v t="$theirs_nll" -v h="$h" 'BEGIN { printf "%.3f", t - h }') |"
done
line=$("$eigenflow" train "${files[@]}" --threads 1 --out "$work/m.json" 2>/dev/null)
echo "| default fit (s), $(grep -c "^candidate" <<<"$line") candidates, $(grep '^final' <<<"$line" | sed 's/.*seconds=[0-9.]* //') |" \
  "$(grep '^final' <<<"$line" | sed 's/.*seconds=\([0-9.]*\).*/\1/') | | | $(grep '^final' <<<"$line" | awk -v h="$h" '{ for (i = 1; i <= NF; ++i) { split($i, kv, "="); if (kv[1] == "test_nll") printf "%.3f", kv[2] - h } }') | |"
