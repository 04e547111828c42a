#!/usr/bin/env bash
# eigenflow and PyTorch on the same flows, on this machine, in one run:
# a table of times and eigenflow/PyTorch speed ratios (> 1: eigenflow faster).
# Installs what it needs (Debian's python3-torch with OpenBLAS), like the README's commands.
#   bash benchmarks/side_by_side.sh
EIGENFLOW_EXTRA_PACKAGES="python3-torch libopenblas0-pthread"
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
cd "$EIGENFLOW_ROOT"
eigenflow_configure build
cmake --build build -j "$EIGENFLOW_JOBS" --target speed >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "PyTorch: $(/usr/bin/python3 -c 'import torch; print(torch.__version__, "threads", torch.get_num_threads())')," \
  "BLAS: $(/usr/bin/python3 -c 'import torch; print(torch.__config__.show())' | grep -oE 'BLAS_INFO=[a-z]+' || echo unknown)"
echo "eigenflow: one thread, $(nproc) cores on the machine"
./build/benchmarks/speed >"$work/eigenflow.txt"
/usr/bin/python3 benchmarks/pytorch_flows.py >"$work/pytorch.txt"
printf '%-20s %14s %14s %10s %8s\n' case eigenflow pytorch unit ratio
join <(sort "$work/eigenflow.txt") <(sort "$work/pytorch.txt") | while read -r name ours unit theirs _; do
  case "$unit" in
    ms) ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", b / a }') ;;   # time: theirs / ours
    *) ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }') ;;    # rate: ours / theirs
  esac
  printf '%-20s %14s %14s %10s %8s\n' "$name" "$ours" "$theirs" "$unit" "$ratio"
done
