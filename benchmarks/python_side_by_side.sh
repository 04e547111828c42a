#!/usr/bin/env bash
# eigenflow's Python module against the PyTorch twin from Python (issue 37): the same
# model and recipe on the same real-data splits (benchmarks/real_data.py), one thread each;
# a table of whole-fit seconds, their ratio (PyTorch / eigenflow: > 1, eigenflow faster)
# and each side's test NLL. eigenflow's seconds include the Python call's conversions.
#   bash benchmarks/python_side_by_side.sh [SEEDS] [FLOWS]   (defaults "0 1 2", "nsf realnvp")
EIGENFLOW_EXTRA_PACKAGES="python3-torch python3-sklearn libopenblas0-pthread"
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
cd "$EIGENFLOW_ROOT"
source benchmarks/pytorch_env.sh
seeds=${1:-0 1 2}
flows=${2:-nsf realnvp}
eigenflow_configure build -DEIGENFLOW_BUILD_PYTHON=ON -DPython_EXECUTABLE=/usr/bin/python3
cmake --build build -j "$EIGENFLOW_JOBS" --target _eigenflow >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck disable=SC2086  # the seeds are meant to split into words
/usr/bin/python3 benchmarks/real_data.py "$work" $seeds >/dev/null
echo "| set | flow | eigenflow s | PyTorch s | ratio | NLL eigenflow | NLL PyTorch |"
echo "|---|---|---|---|---|---|---|"
for flow in $flows; do
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PYTHONPATH=build/python /usr/bin/python3 benchmarks/python_side_by_side.py "$work" "$flow" $seeds
done
