#!/usr/bin/env bash
# eigenflow and PyTorch on the same flows, on this machine, in one run:
# a table of times and eigenflow/PyTorch speed ratios (> 1: eigenflow faster).
# eigenflow runs twice: the portable build (x86-64 baseline, SSE2) and the
# -DEIGENFLOW_NATIVE=ON build (-march=native). Cases without a suffix use one
# thread on both sides; "_2t" cases use two (both sides: OMP_NUM_THREADS and
# OPENBLAS_NUM_THREADS are pinned, so PyTorch's BLAS cannot take more).
# Installs what it needs (Debian's python3-torch with OpenBLAS), like the README's commands.
#   bash benchmarks/side_by_side.sh
EIGENFLOW_EXTRA_PACKAGES="python3-torch libopenblas0-pthread"
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
cd "$EIGENFLOW_ROOT"
eigenflow_configure build
eigenflow_configure build-native -DEIGENFLOW_NATIVE=ON -DEIGENFLOW_BUILD_TESTS=OFF -DEIGENFLOW_BUILD_EXAMPLES=OFF
cmake --build build -j "$EIGENFLOW_JOBS" --target speed >/dev/null
cmake --build build-native -j "$EIGENFLOW_JOBS" --target speed >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'):" \
  "$(/usr/bin/python3 -c 'import torch; print(torch.__config__.show())' | grep -oE 'BLAS_INFO=[a-z]+' || echo unknown)," \
  "libblas.so.3 -> $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
# PyTorch threads in two places: its own intra-op pool and OpenBLAS's pthreads. One
# thread: both pinned to 1. Two cores: each case gets the best of the three ways to
# give PyTorch two (pool 2 + BLAS 1, pool 1 + BLAS 2, both 2); they differ by up to 4x.
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 benchmarks/pytorch_flows.py 1 >"$work/pytorch.txt"
for pool_blas in "2 1" "1 2" "2 2"; do
  read -r pool blas <<<"$pool_blas"
  OMP_NUM_THREADS=$pool OPENBLAS_NUM_THREADS=$blas /usr/bin/python3 benchmarks/pytorch_flows.py "$pool" "_2t"
done | awk '{ if (!($1 in v) || ($3 == "ms" ? $2 < v[$1] : $2 > v[$1])) { v[$1] = $2; u[$1] = $3 } }
            END { for (k in v) print k, v[k], u[k] }' >>"$work/pytorch.txt"
sort -o "$work/pytorch.txt" "$work/pytorch.txt"
./build/benchmarks/speed | sort >"$work/portable.txt"
./build-native/benchmarks/speed | sort >"$work/native.txt"
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
    else if (name ~ /^(maf|iaf|nsf)/) printf "-"
    else printf "%s", v }'
}
printf '%-24s %12s %12s %12s %9s %9s %9s %10s %10s\n' case portable native pytorch unit "ratio(p)" "ratio(n)" \
  "GFLOP/s(n)" "GFLOP/s(pt)"
join <(join "$work/portable.txt" "$work/native.txt") "$work/pytorch.txt" |
  while read -r name portable unit native _ theirs _; do
    printf '%-24s %12s %12s %12s %9s %9s %9s %10s %10s\n' "$name" "$portable" "$native" "$theirs" "$unit" \
      "$(ratio "$portable" "$theirs" "$unit")" "$(ratio "$native" "$theirs" "$unit")" \
      "$(gflops "$name" "$native")" "$(gflops "$name" "$theirs")"
  done
