#!/usr/bin/env bash
# The default `eigenflow train` on the conditional rotated-moons set, scored against its exact
# p(x | c) at four angles (forward KL, conditional_kl.py). Installs python3-numpy.
#   bash benchmarks/conditional_quality.sh [N] [SEED]
EIGENFLOW_EXTRA_PACKAGES="python3-numpy"
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
cd "$EIGENFLOW_ROOT"
eigenflow_configure build
cmake --build build -j "$EIGENFLOW_JOBS" --target eigenflow_cli >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
./build/examples/eigenflow train --dataset rotated-moons --n "${1:-8000}" --seed "${2:-0}" --out "$work/model.json" | grep -v '^epoch'
/usr/bin/python3 benchmarks/conditional_kl.py "$work/model.json" ./build/examples/eigenflow
