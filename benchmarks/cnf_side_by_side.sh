#!/usr/bin/env bash
# eigenflow's continuous flow against its PyTorch twin (benchmarks/pytorch_cnf.py)
# on the same model: FFJORD MLP dynamics (2 x 64 tanh, t in every layer), exact
# trace, fixed-step RK4, backpropagation through the steps, AdamW 3e-3 (constant), batch 64,
# 3000 two-moons points, one thread each. Runs alternate; each side reports its
# fastest seconds per epoch; the ratio is PyTorch / eigenflow (> 1: eigenflow faster).
# Then seed 003's recipe (hyper-planar dynamics, 64 units, hypernetwork 32, Adam 3e-3,
# batch 32, 100 epochs, 80% training data, dopri5 at rtol = atol = 1e-5 as in torchdiffeq's
# CNF example, no regularisation) with its total wall time,
# against the seed's 20.76 minutes.
#   bash benchmarks/cnf_side_by_side.sh [EPOCHS] [RUNS]     (defaults 5 and 3)
EIGENFLOW_EXTRA_PACKAGES="python3-torch python3-sklearn libopenblas0-pthread"
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
cd "$EIGENFLOW_ROOT"
source benchmarks/pytorch_env.sh
eigenflow_configure build
cmake --build build -j "$EIGENFLOW_JOBS" --target eigenflow_cli >/dev/null
epochs=${1:-5}
runs=${2:-3}
eigenflow=./build/examples/eigenflow
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
best_ours=1e9
best_torch=1e9
for run in $(seq "$runs"); do
  seconds=$(OMP_NUM_THREADS=1 $eigenflow train --dataset two-moons --n 3000 --seed "$run" --flow cnf --solver rk4 --steps 8 \
    --kinetic 0 --jacobian-penalty 0 --lr 3e-3 --schedule constant --weight-decay 1e-2 --epochs "$epochs" --batch 64 --validation-fraction 0 --test-fraction 0 --jitter 0 --average-decay 0 --threads 1 \
    --out "$work/m.json" 2>/dev/null | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p')
  best_ours=$(awk -v a="$best_ours" -v s="$seconds" -v e="$epochs" 'BEGIN { x = s / e; print (x < a ? x : a) }')
  torch_line=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 benchmarks/pytorch_cnf.py "$epochs" 8 1)
  per_epoch=$(echo "$torch_line" | awk '{ print $2 }')
  best_torch=$(awk -v a="$best_torch" -v x="$per_epoch" 'BEGIN { print (x < a ? x : a) }')
done
awk -v a="$best_ours" -v b="$best_torch" 'BEGIN { printf "cnf rk4 (8 steps) s/epoch: eigenflow %.4f  pytorch %.4f  ratio %.2f\n", a, b, b / a }'
start=$(date +%s.%N)
$eigenflow train --dataset two-moons --n 3000 --seed 0 --flow cnf --dynamics hyper-planar --width 64 --hidden 32 \
  --rtol 1e-5 --atol 1e-5 --kinetic 0 --jacobian-penalty 0 \
  --optimizer adam --lr 3e-3 --schedule constant --batch 32 --epochs 100 --test-fraction 0.2 --validation-fraction 0 \
  --jitter 0 --average-decay 0 --weight-decay 0 --out "$work/seed003.json" 2>/dev/null | grep -E "^final"
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "seed 003 recipe: %.1f s wall (the seed: 20.76 min = 1245.6 s, %.0fx)\n", b - a, 1245.6 / (b - a) }'
