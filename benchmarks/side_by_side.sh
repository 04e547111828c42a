#!/usr/bin/env bash
# eigenflow and PyTorch on the same flows, on this machine, in one run:
# a table of times and eigenflow/PyTorch speed ratios (> 1: eigenflow faster).
# eigenflow is the default build (no -march flags, as users build it): its
# kernels pick AVX2 or AVX-512 at run time (core/isa.hpp). The "portable"
# column is the same binary with EIGENFLOW_ISA=portable (Eigen's SSE2 code
# only), to show what the dispatch brings. Cases without a suffix use one
# thread on both sides; "_2t" cases use two (both sides: OMP_NUM_THREADS and
# OPENBLAS_NUM_THREADS are pinned, so PyTorch's BLAS cannot take more).
# ROUNDS rounds (default 3) alternate the two sides; each figure is the best
# of its rounds (the minimum time). Then the peak memory (RSS) of each main
# recipe, each run alone in its own process.
# Installs what it needs (Debian's python3-torch with OpenBLAS), like the README's commands.
#   bash benchmarks/side_by_side.sh [ROUNDS]
EIGENFLOW_EXTRA_PACKAGES="python3-torch libopenblas0-pthread time"
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
cd "$EIGENFLOW_ROOT"
rounds=${1:-3}
eigenflow_configure build
cmake --build build -j "$EIGENFLOW_JOBS" --target speed >/dev/null
source benchmarks/pytorch_env.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'):" \
  "$(/usr/bin/python3 -c 'import torch; print(torch.__config__.show())' | grep -oE 'BLAS_INFO=[a-z]+' || echo unknown)," \
  "libblas.so.3 -> $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3), OpenBLAS core" \
  "$(OPENBLAS_VERBOSE=2 /usr/bin/python3 -c 'import torch; torch.mm(torch.ones(2, 2), torch.ones(2, 2))' 2>&1 | sed -n 's/^Core: //p')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs);" \
  "eigenflow's kernels: $(./build/benchmarks/speed isa | cut -d' ' -f2)"
pytorch_round() {
  # PyTorch threads in two places: its own intra-op pool and OpenBLAS's pthreads. One
  # thread: both pinned to 1. Two cores: each case gets the best of the three ways to
  # give PyTorch two (pool 2 + BLAS 1, pool 1 + BLAS 2, both 2); they differ by up to 4x.
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 benchmarks/pytorch_flows.py 1
  for k in 2 8; do OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 benchmarks/pytorch_subspace.py step 16 "$k"; done
  for pool_blas in "2 1" "1 2" "2 2"; do
    read -r pool blas <<<"$pool_blas"
    OMP_NUM_THREADS=$pool OPENBLAS_NUM_THREADS=$blas /usr/bin/python3 benchmarks/pytorch_flows.py "$pool" "_2t"
  done
}
for ((round = 0; round < rounds; ++round)); do
  ./build/benchmarks/speed >>"$work/ours.all"
  EIGENFLOW_ISA=portable ./build/benchmarks/speed >>"$work/portable.all"
  pytorch_round >>"$work/pytorch.all"
done
best() {  # the best line per case: the least time, or the highest rate
  awk '$1 != "isa" { if (!($1 in v) || ($3 == "ms" ? $2 < v[$1] : $2 > v[$1])) { v[$1] = $2; u[$1] = $3 } }
       END { for (k in v) print k, v[k], u[k] }' "$1" | sort
}
best "$work/ours.all" >"$work/ours.txt"
best "$work/portable.all" >"$work/portable.txt"
best "$work/pytorch.all" >"$work/pytorch.txt"
ratio() {  # time: theirs / ours; rate: ours / theirs
  awk -v a="$1" -v b="$2" -v u="$3" 'BEGIN { printf "%.2f", (u == "ms") ? b / a : a / b }'
}
# FLOP rate of a case: a forward pass of a coupling MLP costs 2·in·out per linear
# layer and point; a training step three times the forward (forward, dX, dW).
#   small: 32 points × 4 couplings × (2·2·32 + 2·32·32 + 2·32·4) × 3 = 0.934 MFLOP a step
#   large: 3000 points × 6 couplings × 2 nets × (2·2·128 + 2·128·128 + 2·128·2) × 3 = 3.65 GFLOP a step
#   inference: 6 × 2 × (2·2·128 + 2·128·128 + 2·128·2) = 405,504 FLOP a point
gflops() {
  awk -v name="$1" -v v="$2" 'BEGIN {
    if (name ~ /^small_step/) printf "%.1f", 32 * 4 * 2432 * 3 / (v / 1e3) / 1e9
    else if (name ~ /_epoch/) printf "%.1f", 3000 * 405504 * 3 / (v / 1e3) / 1e9
    else if (name ~ /^inference/) printf "%.1f", v * 405504 / 1e9
    else if (name ~ /^(maf|iaf|nsf|subspace)/) printf "-"
    else printf "%s", v }'
}
echo "best of $rounds interleaved rounds"
printf '%-24s %12s %12s %12s %9s %9s %9s %10s %10s\n' case eigenflow portable pytorch unit ratio "ratio(p)" \
  "GFLOP/s" "GFLOP/s(pt)"
join <(join "$work/ours.txt" "$work/portable.txt") "$work/pytorch.txt" |
  while read -r name ours unit portable _ theirs _; do
    printf '%-24s %12s %12s %12s %9s %9s %9s %10s %10s\n' "$name" "$ours" "$portable" "$theirs" "$unit" \
      "$(ratio "$ours" "$theirs" "$unit")" "$(ratio "$portable" "$theirs" "$unit")" \
      "$(gflops "$name" "$ours")" "$(gflops "$name" "$theirs")"
  done
echo
echo "peak memory (RSS, MB), each recipe alone in its own process, one thread:"
printf '%-20s %10s %10s\n' recipe eigenflow pytorch
for recipe in small_step large_epoch inference_log_prob; do
  ours=$( { OMP_NUM_THREADS=1 /usr/bin/time -f '%M' ./build/benchmarks/speed "$recipe" >/dev/null; } 2>&1 | tail -1)
  theirs=$( { OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/time -f '%M' /usr/bin/python3 benchmarks/pytorch_flows.py 1 "" "$recipe" >/dev/null; } 2>&1 | tail -1)
  printf '%-20s %10.1f %10.1f\n' "$recipe" "$(awk -v k="$ours" 'BEGIN { print k / 1024 }')" "$(awk -v k="$theirs" 'BEGIN { print k / 1024 }')"
done
