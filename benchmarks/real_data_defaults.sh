#!/usr/bin/env bash
# The default beyond 2D against the one before it, on the real data sets inside Debian's
# python3-sklearn (benchmarks/real_data.py, 80/10/10 splits): held-out NLL of
# `eigenflow train` with no --flow (the subspace flow; its chosen k), of --flow nsf (the
# default before it), and of the full-covariance Gaussian of the same training rows.
# The default keeps nsf instead where nsf is better on validation. Nats per point, raw units; mean ± standard error over the seeds' splits, mean seconds.
# Integer-valued sets (digits) train dequantised, where the default is still nsf: skipped.
#   bash benchmarks/real_data_defaults.sh [SEEDS [FLAGS...]]   (default "0 1 2 3 4"; FLAGS go to the subspace runs)
EIGENFLOW_EXTRA_PACKAGES="python3-sklearn"
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
cd "$EIGENFLOW_ROOT"
seeds=${1:-0 1 2 3 4}
shift || true
flags=("$@")
eigenflow_configure build
cmake --build build -j "$EIGENFLOW_JOBS" --target eigenflow_cli >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
eigenflow=./build/examples/eigenflow
# shellcheck disable=SC2086  # the seeds are meant to split into words
/usr/bin/python3 benchmarks/real_data.py "$work" $seeds >"$work/sets.txt"
echo "| set (N x D) | subspace (new default) | chosen (k or nsf) | nsf (default before) | Gaussian | subspace − nsf | seconds subspace / nsf |"
echo "|---|---|---|---|---|---|---|"
while read -r name rows cols kind; do
  [ "$kind" = integer ] && continue
  : >"$work/results.txt"
  for seed in $seeds; do
    split="$work/$name/$seed"
    data=(--data "$split/train.csv" --validation-data "$split/validation.csv" --test-data "$split/test.csv" --seed "$seed")
    sub=$($eigenflow train "${data[@]}" "${flags[@]}" --out "$work/s.json" 2>/dev/null)
    nsf=$($eigenflow train "${data[@]}" --flow nsf --out "$work/n.json" 2>/dev/null)
    read -r t_sub s_sub g <<<"$(awk '/^final/ { for (i = 1; i <= NF; ++i) { split($i, kv, "="); if (kv[1] == "test_nll") t = kv[2]; if (kv[1] == "seconds") s = kv[2] } }
                                  /^baseline/ { split($4, kv, "="); g = kv[2] } END { print t, s, g }' <<<"$sub")"
    k=$(sed -n 's/^subspace k=\([0-9]*\) chosen.*/\1/p; s/^nsf chosen over .*/nsf/p' <<<"$sub")
    read -r t_nsf s_nsf <<<"$(awk '/^final/ { for (i = 1; i <= NF; ++i) { split($i, kv, "="); if (kv[1] == "test_nll") t = kv[2]; if (kv[1] == "seconds") s = kv[2] } } END { print t, s }' <<<"$nsf")"
    echo "$t_sub $k $t_nsf $g $s_sub $s_nsf" >>"$work/results.txt"
  done
  awk -v set="$name ($rows x $cols)" '
    { n++; a[n] = $1; ks = ks (n > 1 ? "," : "") $2; b[n] = $3; g[n] = $4; d[n] = $1 - $3; ss += $5; sn += $6 }
    function mean(x,   i, s) { s = 0; for (i = 1; i <= n; i++) s += x[i]; return s / n }
    function se(x,   i, m, s) { m = mean(x); s = 0; for (i = 1; i <= n; i++) s += (x[i] - m)^2; return n > 1 ? sqrt(s / (n - 1) / n) : 0 }
    END { printf "| %s | %.2f ± %.2f | %s | %.2f ± %.2f | %.2f ± %.2f | %.2f ± %.2f | %.1f / %.1f |\n", set, mean(a), se(a), ks, mean(b), se(b), mean(g), se(g), mean(d), se(d), ss / n, sn / n }' "$work/results.txt"
done <"$work/sets.txt"
