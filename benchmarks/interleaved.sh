#!/usr/bin/env bash
# Named cases of speed.cpp and pytorch_flows.py, one thread each, in the
# default build (no -march flags: what users get), run alternately ROUNDS
# times; prints each side's best figure and the ratio eigenflow/PyTorch in
# speed (> 1: eigenflow faster). Interleaving puts both sides in the same
# minutes of this noisy VM; the best of the rounds is the least disturbed.
#   bash benchmarks/interleaved.sh [ROUNDS] CASE...
#   e.g. bash benchmarks/interleaved.sh 3 maf_step_d2 nsf_step_d16 maf_sample_d16
EIGENFLOW_EXTRA_PACKAGES="python3-torch libopenblas0-pthread"
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
cd "$EIGENFLOW_ROOT"
source benchmarks/pytorch_env.sh
rounds=3
if [[ ${1:-} =~ ^[0-9]+$ ]]; then rounds=$1; shift; fi
[ $# -gt 0 ] || { echo "error: name at least one case (see the top of benchmarks/speed.cpp)" >&2; exit 2; }
eigenflow_configure build
cmake --build build -j "$EIGENFLOW_JOBS" --target speed >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for ((round = 0; round < rounds; ++round)); do
  OMP_NUM_THREADS=1 ./build/benchmarks/speed "$@" >>"$work/eigenflow.txt"
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 benchmarks/pytorch_flows.py 1 "" "$@" >>"$work/pytorch.txt"
done
best() {  # the best figure per case: least time, most points per second
  awk '{ if (!($1 in v) || ($3 == "ms" ? $2 < v[$1] : $2 > v[$1])) { v[$1] = $2; u[$1] = $3 } }
       END { for (k in v) print k, v[k], u[k] }' "$1" | sort
}
printf '%-22s %12s %12s %-9s %8s   (best of %d interleaved rounds, one thread)\n' case eigenflow pytorch unit ratio "$rounds"
join <(best "$work/eigenflow.txt") <(best "$work/pytorch.txt") |
  awk '{ printf "%-22s %12s %12s %-9s %8.2f\n", $1, $2, $4, $3, ($3 == "ms") ? $4 / $2 : $2 / $4 }'
