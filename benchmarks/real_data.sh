#!/usr/bin/env bash
# Held-out NLL on real tabular data sets that ship inside Debian's
# python3-sklearn (benchmarks/real_data.py): `eigenflow train` with its
# defaults for each flow, the PyTorch reference of the same model and recipe
# (benchmarks/pytorch_tabular.py) on the same splits, and a full-covariance
# Gaussian fitted to the same training rows. Nats per point, raw units (for
# digits: dequantised, a bound on −log P), mean ± standard error over the
# seeds' splits (80/10/10), and mean training seconds.
#   bash benchmarks/real_data.sh [SEEDS] [FLOWS]   (defaults: "0 1 2 3 4", "realnvp maf nsf")
EIGENFLOW_EXTRA_PACKAGES="python3-torch python3-sklearn libopenblas0-pthread"
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
cd "$EIGENFLOW_ROOT"
source benchmarks/pytorch_env.sh
seeds=${1:-0 1 2 3 4}
flows=${2:-realnvp maf nsf}
eigenflow_configure build
cmake --build build -j "$EIGENFLOW_JOBS" --target eigenflow_cli >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
eigenflow=./build/examples/eigenflow
# shellcheck disable=SC2086  # the seeds are meant to split into words
/usr/bin/python3 benchmarks/real_data.py "$work" $seeds >"$work/sets.txt"
results="$work/results.txt"
while read -r name rows cols kind; do
  extra=() torch_extra=()
  if [ "$kind" = integer ]; then extra=(--dequantize) torch_extra=(dequantize); fi
  for seed in $seeds; do
    split="$work/$name/$seed"
    for flow in $flows; do
      line=$($eigenflow train --data "$split/train.csv" --validation-data "$split/validation.csv" --test-data "$split/test.csv" \
        --flow "$flow" --seed "$seed" "${extra[@]}" --out "$work/m.json" 2>/dev/null)
      ours=$(awk '/^final/ { for (i = 1; i <= NF; ++i) { split($i, kv, "="); if (kv[1] == "test_nll") t = kv[2]; if (kv[1] == "seconds") s = kv[2] } }
                  /^baseline/ { split($4, kv, "="); g = kv[2] } END { print t, s, g }' <<<"$line")
      theirs=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 benchmarks/pytorch_tabular.py "$flow" \
        "$split/train.csv" "$split/validation.csv" "$split/test.csv" "$seed" "${torch_extra[@]}" | awk '{ print $2, $4 }')
      echo "$name $rows $cols $flow $seed $ours $theirs" >>"$results"
    done
  done
done <"$work/sets.txt"
echo "set (N x D) | flow | eigenflow NLL | PyTorch NLL | Gaussian NLL | eigenflow - Gaussian | seconds eigenflow / PyTorch"
awk '{ k = $1 " (" $2 " x " $3 ") | " $4; n[k]++; e[k] += $6; ee[k] += $6 * $6; p[k] += $9; pp[k] += $9 * $9
       g[k] += $8; d = $6 - $8; dd[k] += d; d2[k] += d * d; se[k] += $7; sp[k] += $10 }
     function sd(s, s2, m) { return m > 1 ? sqrt((s2 - s * s / m) / (m - 1) / m) : 0 }
     END { for (k in n) printf "%s | %.3f ± %.3f | %.3f ± %.3f | %.3f | %+.3f ± %.3f | %.1f / %.1f\n", k, e[k] / n[k],
           sd(e[k], ee[k], n[k]), p[k] / n[k], sd(p[k], pp[k], n[k]), g[k] / n[k], dd[k] / n[k], sd(dd[k], d2[k], n[k]),
           se[k] / n[k], sp[k] / n[k] }' "$results" | sort
