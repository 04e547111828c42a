#!/usr/bin/env bash
# How a training step's cost grows with the dimension D, in the default build,
# one thread: 4 affine couplings (realnvp), 4 glow blocks [ActNorm, LU linear,
# affine coupling] and 4 MAF layers, conditioners 2 × 64 ReLU, batch 256, at
# D = 2, 8, 32, 128 (speed.cpp's scale_* cases); then realnvp at D = 8 against
# the batch size (64 … 4096) and against the number of couplings (2 … 16).
# Prints ms per step and each step's cost relative to D = 8 (batch 256,
# 4 layers), best of ROUNDS runs (default 3).
#   bash benchmarks/scaling.sh [ROUNDS]
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
cd "$EIGENFLOW_ROOT"
rounds=${1:-3}
eigenflow_configure build
cmake --build build -j "$EIGENFLOW_JOBS" --target speed >/dev/null
cases=()
for kind in realnvp glow maf; do for d in 2 8 32 128; do cases+=("scale_${kind}_d$d"); done; done
for b in 64 256 1024 4096; do cases+=("scale_realnvp_b$b"); done
for l in 2 4 8 16; do cases+=("scale_realnvp_l$l"); done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for ((round = 0; round < rounds; ++round)); do OMP_NUM_THREADS=1 ./build/benchmarks/speed "${cases[@]}" >>"$work/all.txt"; done
awk '{ if (!($1 in v) || $2 < v[$1]) v[$1] = $2 }
     END { printf "%-8s %10s %10s %10s %10s   (ms per step; x: relative to D = 8)\n", "flow", "D=2", "D=8", "D=32", "D=128"
           split("realnvp glow maf", kinds, " ")
           for (k = 1; k <= 3; ++k) {
             printf "%-8s", kinds[k]
             for (d = 2; d <= 128; d *= 4) { key = "scale_" kinds[k] "_d" d; printf " %6.3f %-4s", v[key], sprintf("%.1fx", v[key] / v["scale_" kinds[k] "_d8"]) }
             printf "\n"
           } }' "$work/all.txt"
awk '{ if (!($1 in v) || $2 < v[$1]) v[$1] = $2 }
     END { base = v["scale_realnvp_d8"]
           printf "\nrealnvp, D = 8, against the batch size (ms per step; x: relative to batch 256; us/row)\n"
           for (b = 64; b <= 4096; b *= 4) { key = "scale_realnvp_b" b; printf "  batch %5d %8.3f %6s %8.2f\n", b, v[key], sprintf("%.1fx", v[key] / base), 1e3 * v[key] / b }
           printf "realnvp, D = 8, batch 256, against the number of couplings (x: relative to 4)\n"
           for (l = 2; l <= 16; l *= 2) { key = "scale_realnvp_l" l; printf "  layers %4d %8.3f %6s\n", l, v[key], sprintf("%.1fx", v[key] / base) } }' "$work/all.txt"
