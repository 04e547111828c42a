#!/usr/bin/env bash
# End-to-end checks of the eigenflow command line: every subcommand works,
# and bad input gives exit code 1 or 2, exactly one "error: ..." line on
# stderr that names the problem, and no output file.
# Usage: test_cli.sh PATH/TO/eigenflow
set -u
EIGENFLOW=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
passed=0
failed=0

pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

# expect_ok DESCRIPTION -- command...
expect_ok() {
  local what=$1; shift 2
  if "$@" >out.txt 2>err.txt; then pass; else fail "$what (exit $?): $(head -c 300 err.txt)"; fi
}

# expect_error DESCRIPTION CODE PATTERN OUTPUT -- command...
expect_error() {
  local what=$1 code=$2 pattern=$3 output=$4; shift 5
  rm -f "$output"
  "$@" >out.txt 2>err.txt
  local status=$?
  local lines
  lines=$(wc -l <err.txt)
  if [ "$status" -ne "$code" ]; then fail "$what: exit $status, expected $code ($(head -c 200 err.txt))"; return; fi
  if [ "$lines" -ne 1 ] || ! grep -q '^error: ' err.txt; then fail "$what: stderr is not one 'error:' line: $(head -c 300 err.txt)"; return; fi
  if ! grep -qi -- "$pattern" err.txt; then fail "$what: message lacks '$pattern': $(cat err.txt)"; return; fi
  if [ -n "$output" ] && [ -e "$output" ]; then fail "$what: left $output behind"; return; fi
  if ls ./*.tmp-* >/dev/null 2>&1; then fail "$what: left a temporary file"; return; fi
  pass
}

# ---- what works --------------------------------------------------------------
expect_ok "datasets" -- "$EIGENFLOW" datasets
grep -q '^two-moons' out.txt && pass || fail "datasets lists two-moons"
expect_ok "generate" -- "$EIGENFLOW" generate --dataset two-moons --n 400 --seed 3 --out moons.csv
[ "$(head -1 moons.csv)" = "x0,x1" ] && [ "$(wc -l <moons.csv)" -eq 401 ] && pass || fail "generate writes a header and 400 rows"
expect_ok "train" -- "$EIGENFLOW" train --data moons.csv --epochs 5 --layers 2 --hidden 8 --out model.json
grep -Eq '^final train_nll=[-0-9.]+ val_nll=[-0-9.]+ test_nll=[-0-9.]+ seconds=[0-9.]+ kept_epoch=[1-5] \((best validation|last)\)$' out.txt && pass || fail "train prints the final line: $(cat out.txt)"
grep -Eq '^baseline full-covariance gaussian test_nll=[-0-9.]+ \(flow better by [-0-9.]+ nats\)$' out.txt && pass || fail "train prints the Gaussian baseline: $(cat out.txt)"
expect_ok "train --keep-last" -- "$EIGENFLOW" train --data moons.csv --epochs 5 --layers 2 --hidden 8 --keep-last --out model_last.json
grep -Eq 'kept_epoch=5 \(last\)$' out.txt && pass || fail "--keep-last keeps epoch 5: $(cat out.txt)"
expect_ok "train double, shared conditioner" -- "$EIGENFLOW" train --dataset blobs --n 300 --epochs 2 --precision double --conditioner shared --activation gelu --out model64.json
grep -q '"float64"' model64.json && pass || fail "double model declares float64"
for flow in nice planar radial leaky-realnvp; do
  expect_ok "train --flow $flow" -- "$EIGENFLOW" train --dataset two-moons --n 300 --epochs 2 --flow $flow --layers 2 --out "$flow.json"
done
# autoregressive and spline families: train, then every model subcommand works on them
for flow in maf iaf nsf nsf-ar glow; do
  expect_ok "train --flow $flow" -- "$EIGENFLOW" train --dataset two-moons --n 300 --epochs 2 --flow $flow --layers 2 --hidden 8 --bins 5 --order random --out "$flow.json"
  expect_ok "logprob under $flow" -- "$EIGENFLOW" logprob --model "$flow.json" --in moons.csv --out "$flow-logp.csv"
  expect_ok "sample from $flow" -- "$EIGENFLOW" sample --model "$flow.json" --n 30 --out "$flow-samples.csv"
  [ "$(wc -l <"$flow-samples.csv")" -eq 31 ] && pass || fail "$flow samples"
done
expect_ok "plot an nsf model" -- "$EIGENFLOW" plot --model nsf.json --out nsf.png
expect_ok "animate an iaf model" -- "$EIGENFLOW" animate --model iaf.json --n 100 --out iaf.gif
# continuous flows: both dynamics, both solvers, the adjoint, Hutchinson and RNODE options
expect_ok "train --flow cnf (mlp, dopri5)" -- "$EIGENFLOW" train --dataset two-moons --n 300 --epochs 2 --flow cnf --hidden 8 --rtol 1e-4 --atol 1e-4 --out cnf.json
grep -q 'nfe [0-9]' err.txt && pass || fail "the cnf progress line reports function evaluations"
expect_ok "train --flow cnf (hyper-planar, rk4, adjoint, hutchinson, rnode)" -- "$EIGENFLOW" train --dataset two-moons --n 300 --epochs 2 --flow cnf \
  --dynamics hyper-planar --width 8 --hidden 8 --solver rk4 --steps 4 --gradient adjoint --trace rademacher --kinetic 0.01 --jacobian-penalty 0.01 --out cnf-hp.json
tr -d ' \n' <cnf-hp.json | grep -q '"method":"rk4","steps":4' && tr -d ' \n' <cnf-hp.json | grep -q '"gradient":"adjoint"' && pass ||
  fail "the cnf model file keeps its solver and training settings"
for model in cnf cnf-hp; do
  expect_ok "logprob under $model" -- "$EIGENFLOW" logprob --model "$model.json" --in moons.csv --out "$model-logp.csv"
  expect_ok "sample from $model" -- "$EIGENFLOW" sample --model "$model.json" --n 30 --out "$model-samples.csv"
  [ "$(wc -l <"$model-samples.csv")" -eq 31 ] && pass || fail "$model samples"
done
expect_ok "animate a cnf model along t" -- "$EIGENFLOW" animate --model cnf.json --n 100 --out cnf.gif
expect_error "a cnf tolerance that is not positive" 2 "--rtol" cnf-bad.json -- "$EIGENFLOW" train --dataset two-moons --n 300 --flow cnf --rtol 0 --out cnf-bad.json
expect_error "an unknown cnf dynamics" 2 "--dynamics" cnf-bad.json -- "$EIGENFLOW" train --dataset two-moons --n 300 --flow cnf --dynamics linear --out cnf-bad.json
sed 's/"method": *"dopri5"/"method": "euler"/' cnf.json >cnf-euler.json
expect_error "a cnf model file with an unknown solver" 1 "solver/method" l.csv -- "$EIGENFLOW" logprob --model cnf-euler.json --in moons.csv --out l.csv
# data beyond 2D: six correlated columns (a fixed linear mix of uniforms and a square)
awk 'BEGIN { srand(7); print "a,b,c,d,e,f"; for (i = 0; i < 600; i++) { u = rand(); v = rand(); w = rand() - 0.5;
  printf "%.6f,%.6f,%.6f,%.6f,%.6f,%.6f\n", u, u + v, u * u - w, v - 2 * w, w * w + u, u - v + w } }' >six.csv
for flow in maf nsf nsf-ar glow; do
  expect_ok "train --flow $flow on 6 columns" -- "$EIGENFLOW" train --data six.csv --epochs 3 --flow $flow --layers 2 --hidden 16 --out "six-$flow.json"
  expect_ok "sample a 6-column $flow" -- "$EIGENFLOW" sample --model "six-$flow.json" --n 10 --out six-samples.csv
  [ "$(head -1 six-samples.csv | tr ',' '\n' | wc -l)" -eq 6 ] && pass || fail "six-column samples from $flow"
done
# the D-dimensional set with an exact density, and the glow parts as options of other flows
expect_ok "generate mixed-moons --dim 5" -- "$EIGENFLOW" generate --dataset mixed-moons --dim 5 --n 200 --out mixed5.csv
[ "$(head -1 mixed5.csv | tr ',' '\n' | wc -l)" -eq 5 ] && [ "$(wc -l <mixed5.csv)" -eq 201 ] && pass || fail "mixed-moons --dim 5 shape"
expect_ok "train nsf --mix lu --actnorm on mixed-moons" -- "$EIGENFLOW" train --dataset mixed-moons --dim 4 --n 300 --epochs 2 --flow nsf --layers 2 --hidden 8 --mix lu --actnorm --out mixed.json
grep -q '"type": *"lu_linear"' mixed.json && grep -q '"initialized": *true' mixed.json && pass || fail "mixed.json lacks an initialised actnorm or an lu_linear layer"
expect_ok "train nsf with its defaults on mixed-moons" -- "$EIGENFLOW" train --dataset mixed-moons --dim 4 --n 300 --epochs 2 --flow nsf --hidden 8 --out nsfdefault.json
[ "$(grep -c '"type": *"lu_linear"' nsfdefault.json)" -eq 5 ] && grep -q '"type": *"spline_coupling"' nsfdefault.json && pass || fail "nsf beyond 2D: expected its 6 couplings mixed by 5 lu_linear layers by default"
# --start gaussian: a ZCA whitening layer first, so the flow starts as the training rows'
# full-covariance Gaussian: with a negligible learning rate it is that Gaussian on the test
# rows to the printed digit; on rows drawn from a Gaussian it never ends clearly worse
awk 'BEGIN { srand(7); print "a,b,c,d"; for (i = 0; i < 1500; ++i) { for (j = 0; j < 4; ++j) g[j] = sqrt(-2 * log(1 - rand())) * cos(6.283185307179586 * rand());
  printf "%.17g,%.17g,%.17g,%.17g\n", g[0] + 3, 2 * g[0] + g[1], g[2] - g[1] + 0.5 * g[3], 0.1 * g[3] - g[0] } }' >gaussian4.csv
expect_ok "train --start gaussian with a negligible step" -- "$EIGENFLOW" train --data gaussian4.csv --flow nsf --start gaussian --epochs 1 --layers 2 --hidden 8 --lr 1e-12 --out start.json
grep -Eq '^baseline full-covariance gaussian test_nll=[-0-9.]+ \(flow better by -?0\.0000 nats\)$' out.txt && pass || fail "--start gaussian starts as the full-covariance Gaussian: $(grep -E '^(final|baseline)' out.txt)"
tr -d ' \n' <start.json | grep -o '"layers":\[{[^}]*}' | grep -q '"type":"lu_linear"' && pass || fail "--start gaussian puts the whitening (an lu_linear layer) first"
expect_ok "train --start gaussian on Gaussian rows" -- "$EIGENFLOW" train --data gaussian4.csv --flow nsf --start gaussian --epochs 20 --layers 2 --hidden 16 --out start20.json
awk '/^baseline/ { gsub(/[()]/, ""); for (i = 1; i <= NF; ++i) if ($i == "by") gain = $(i + 1) } END { exit !(gain + 0 > -0.03) }' out.txt &&
  pass || fail "on Gaussian rows --start gaussian ends within noise of the Gaussian: $(grep -E '^(final|baseline)' out.txt)"
expect_error "--start gaussian on a conditional model" 2 "--start gaussian" m.json -- "$EIGENFLOW" train --dataset rotated-moons --start gaussian --out m.json
expect_error "an unknown --start" 2 "--start" m.json -- "$EIGENFLOW" train --dataset two-moons --start uniform --out m.json
# ---- the subspace flow, the default beyond 2D (issue 43): a flow on the k least Gaussian
# directions, a Gaussian on the rest, k searched on validation over 0, 1, 2, 3, 4, 5 here
sub_args=(train --dataset mixed-moons --dim 5 --noise 0.08 --n 1500 --seed 1 --epochs 40 --patience 10 --layers 2 --hidden 16)
expect_ok "train with no --flow on 5 columns" -- "$EIGENFLOW" "${sub_args[@]}" --out sub.json
grep -q '^train flow=subspace .*k searched on validation' out.txt && pass || fail "the default beyond 2D is the subspace flow: $(head -1 out.txt)"
[ "$(grep -Ec '^candidate k=[0-9]+ val_nll=[-0-9.]+ epochs=[0-9]+ seconds=[0-9.]+$' out.txt)" -ge 3 ] && grep -q '^candidate k=0 val_nll' out.txt &&
  pass || fail "one line per candidate k, from k = 0: $(grep '^candidate' out.txt)"
grep -Eq '^candidate nsf val_nll=[-0-9.]+ epochs=[0-9]+ seconds=[0-9.]+$' out.txt && pass || fail "the search tries nsf as one more candidate: $(grep '^candidate' out.txt)"
chosen=$(sed -n 's/^subspace k=\([0-9]*\) chosen of [0-9]* candidates.*/\1/p' out.txt)
best=$(awk '/^candidate k=/ { split($2, k, "="); split($3, v, "="); if (best == "" || v[2] + 0 < low) { best = k[2]; low = v[2] + 0 } } END { print best }' out.txt)
[ -n "$chosen" ] && [ "$chosen" = "$best" ] && pass || fail "the validation-best k ($best) is the one kept ($chosen), and nsf is not: $(grep -E '^(candidate nsf|nsf chosen)' out.txt)"
[ "$(tr -d ' \n' <sub.json | grep -o '"active":[0-9]*' | cut -d: -f2)" = "$chosen" ] && pass || fail "the saved subspace layer holds the chosen k ($chosen)"
[ "$chosen" -ge 2 ] && pass || fail "mixed-moons needs at least the moons' plane: k = $chosen"
awk '/^baseline/ { gsub(/[()]/, ""); for (i = 1; i <= NF; ++i) if ($i == "by") gain = $(i + 1) } END { exit !(gain + 0 > 0.3) }' out.txt &&
  pass || fail "the subspace flow beats the Gaussian on mixed-moons: $(grep -E '^(final|baseline)' out.txt)"
expect_ok "train --active 2" -- "$EIGENFLOW" "${sub_args[@]}" --active 2 --out sub2.json
[ "$(grep -c '^candidate' out.txt)" -eq 1 ] && grep -q '^candidate k=2 ' out.txt && grep -q '^subspace k=2 chosen of 1 candidates' out.txt &&
  pass || fail "--active 2 fits k = 2 alone: $(grep -E '^(candidate|subspace)' out.txt)"
expect_ok "train --active 0" -- "$EIGENFLOW" "${sub_args[@]}" --active 0 --precision double --out sub0.json
grep -Eq '^baseline full-covariance gaussian test_nll=[-0-9.]+ \(flow better by -?0\.0000 nats\)$' out.txt &&
  pass || fail "--active 0 is the full-covariance Gaussian: $(grep -E '^(final|baseline)' out.txt)"
expect_ok "the default beyond 2D on Gaussian rows" -- "$EIGENFLOW" train --data gaussian4.csv --epochs 30 --patience 10 --layers 2 --hidden 16 --out subg.json
awk '/^baseline/ { gsub(/[()]/, ""); for (i = 1; i <= NF; ++i) if ($i == "by") gain = $(i + 1) } END { exit !(gain + 0 > -0.03) }' out.txt &&
  pass || fail "on Gaussian rows the default ends within noise of the Gaussian: $(grep -E '^(subspace|nsf|final|baseline)' out.txt)"
# k = 0 is the exact Gaussian fit; nsf (jitter, 30 epochs) is clearly worse here, and the subspace flow is kept
grep -q '^subspace k=0 chosen' out.txt && pass || fail "on Gaussian rows k = 0 is kept: $(grep -E '^(candidate|subspace|nsf)' out.txt)"
# One independent source among Gaussian coordinates, at this size: the best k (1) is not clearly
# better than nsf on validation (5.159 against 5.186 nats with this seed), so nsf, the default
# before the subspace flow, is kept. (Pinned to this seed: the rule, not the numbers, is the test.)
expect_ok "the default beyond 2D where the subspace flow is not clearly better" -- "$EIGENFLOW" train --dataset mixed-sources --dim 3 --n 1500 --seed 1 --epochs 30 --patience 10 --layers 2 --hidden 16 --out subn.json
grep -q '^nsf chosen over the subspace flow' out.txt && grep -q 'kept_flow=nsf kept_epoch=' out.txt && ! grep -q '"subspace"' subn.json &&
  [ "$(grep -c '^candidate' out.txt)" -ge 3 ] && pass || fail "nsf is kept unless the subspace flow is clearly better: $(grep -E '^(candidate|subspace|nsf|final)' out.txt)"
expect_ok "--flow subspace on Gaussian rows" -- "$EIGENFLOW" train --data gaussian4.csv --flow subspace --epochs 30 --patience 10 --layers 2 --hidden 16 --out subg2.json
! grep -q '^candidate nsf' out.txt && grep -q '"subspace"' subg2.json && pass || fail "--flow subspace keeps the subspace flow, with no nsf candidate"
expect_ok "a budget that ends the search" -- "$EIGENFLOW" "${sub_args[@]}" --budget 0.001 --out subb.json
grep -q '^budget: the search stopped after' out.txt && [ "$(grep -c '^candidate' out.txt)" -le 2 ] && pass || fail "--budget 0.001 cuts the search: $(cat out.txt)"
expect_ok "logprob under the subspace flow" -- "$EIGENFLOW" logprob --model sub.json --in mixed5.csv --out sub-logp.csv
[ "$(wc -l <sub-logp.csv)" -eq 201 ] && pass || fail "logprob under the subspace flow writes one value per point"
for bad in -1 6; do
  expect_error "--active $bad on 5 columns" 2 "--active must be in \[0, 5\]" s.json -- "$EIGENFLOW" "${sub_args[@]}" --active $bad --out s.json
done
for bad in 0 -3 nan inf; do
  expect_error "--budget $bad" 2 "--budget must be a positive" s.json -- "$EIGENFLOW" "${sub_args[@]}" --budget $bad --out s.json
done
expect_error "--budget that is not a number" 2 "--budget" s.json -- "$EIGENFLOW" "${sub_args[@]}" --budget soon --out s.json
expect_error "--active on 2-D data" 2 "--active and --budget apply to the subspace flow" s.json -- "$EIGENFLOW" train --dataset two-moons --n 300 --active 1 --out s.json
expect_error "--active with --flow nsf" 2 "--active and --budget apply to the subspace flow" s.json -- "$EIGENFLOW" "${sub_args[@]}" --flow nsf --active 2 --out s.json
expect_error "--flow subspace on 2-D data" 2 "beyond 2D" s.json -- "$EIGENFLOW" train --dataset two-moons --n 300 --flow subspace --out s.json
expect_error "--flow subspace with a context" 2 "unconditional" s.json -- "$EIGENFLOW" train --data six.csv --context-columns 2 --flow subspace --out s.json
expect_error "the subspace flow with --mix" 2 "--mix" s.json -- "$EIGENFLOW" "${sub_args[@]}" --mix lu --out s.json
expect_error "the subspace flow with --checkpoint" 2 "checkpoint" s.json -- "$EIGENFLOW" "${sub_args[@]}" --checkpoint ckdir --out s.json
expect_ok "train nsf --mix none on mixed-moons" -- "$EIGENFLOW" train --dataset mixed-moons --dim 4 --n 300 --epochs 2 --flow nsf --hidden 8 --mix none --out nsfnone.json
! grep -q '"type": *"lu_linear"' nsfnone.json && pass || fail "nsf --mix none saved an lu_linear layer"
expect_ok "train maf --batch-norm on mixed-moons" -- "$EIGENFLOW" train --dataset mixed-moons --dim 4 --n 300 --epochs 2 --flow maf --layers 3 --hidden 8 --batch-norm --out mafbn.json
[ "$(grep -c '"type": *"batch_norm"' mafbn.json)" -eq 2 ] && pass || fail "maf --batch-norm saved no two batch_norm layers"
expect_ok "generate mixed-moons --dim 4" -- "$EIGENFLOW" generate --dataset mixed-moons --dim 4 --n 50 --out mixed4.csv
expect_ok "logprob under maf --batch-norm" -- "$EIGENFLOW" logprob --model mafbn.json --in mixed4.csv --out bn-logp.csv
[ "$(wc -l <bn-logp.csv)" -eq 51 ] && pass || fail "logprob under maf --batch-norm writes one value per point"
expect_ok "train maf --mix permute" -- "$EIGENFLOW" train --dataset two-moons --n 300 --epochs 2 --flow maf --layers 3 --hidden 8 --mix permute --out mafp.json
grep -q '"type": *"permutation"' mafp.json && pass || fail "maf --mix permute saved no permutation"
threads_args=(train --dataset two-moons --n 1500 --epochs 3 --batch 1200 --precision double --layers 2 --hidden 16)
expect_ok "train --threads 2 (the batch split over two workers)" -- "$EIGENFLOW" "${threads_args[@]}" --threads 2 --out t2.json
nll_two=$(grep -o 'train_nll=[-0-9.]*' out.txt)
expect_ok "train --threads 1" -- "$EIGENFLOW" "${threads_args[@]}" --threads 1 --out t1.json
nll_one=$(grep -o 'train_nll=[-0-9.]*' out.txt)
[ -n "$nll_one" ] && [ "$nll_one" = "$nll_two" ] && pass || fail "two threads train as one does: $nll_one vs $nll_two"
cores=$(nproc 2>/dev/null || echo 1)
expect_ok "train without --threads (every core: one worker per 256 rows of the batch)" -- "$EIGENFLOW" "${threads_args[@]}" --out tauto.json
expect_ok "train --threads $cores" -- "$EIGENFLOW" "${threads_args[@]}" --threads "$cores" --out tcores.json
cmp -s tauto.json tcores.json && pass || fail "the default thread count is not every core's: tauto.json and tcores.json differ"
expect_error "train --threads -1" 2 "--threads must be 0" tneg.json -- "$EIGENFLOW" "${threads_args[@]}" --threads -1 --out tneg.json
expect_ok "train on everything" -- "$EIGENFLOW" train --dataset boomerang --n 200 --epochs 2 --test-fraction 0 --validation-fraction 0 --out all.json
grep -q 'val_nll=nan test_nll=nan' out.txt && pass || fail "no held-out data gives nan: $(cat out.txt)"
expect_ok "logprob" -- "$EIGENFLOW" logprob --model model.json --in moons.csv --out logp.csv
[ "$(head -1 logp.csv)" = "log_prob" ] && [ "$(wc -l <logp.csv)" -eq 401 ] && pass || fail "logprob writes one value per point"
expect_ok "sample" -- "$EIGENFLOW" sample --model model.json --n 50 --seed 1 --out samples.csv
[ "$(wc -l <samples.csv)" -eq 51 ] && pass || fail "sample writes 50 points"
expect_ok "sample from a planar model (numerical inverse)" -- "$EIGENFLOW" sample --model planar.json --n 20 --out planar_samples.csv
expect_ok "plot" -- "$EIGENFLOW" plot --model model.json --data moons.csv --out figure.png
head -c 8 figure.png | od -An -c | grep -q 'P   N   G' && pass || fail "plot writes a PNG"
expect_ok "animate" -- "$EIGENFLOW" animate --model model.json --n 200 --out flow.gif
head -c 6 flow.gif | grep -q GIF89a && pass || fail "animate writes a GIF"

# ---- variational inference --------------------------------------------------------
for flow in planar radial realnvp nsf iaf; do
  expect_ok "fit --flow $flow" -- "$EIGENFLOW" fit --target u1 --flow $flow --layers 2 --hidden 8 --steps 200 --samples 2000 --out "vi-$flow.json"
  grep -Eq '^final elbo=[-0-9.]+ \(se [0-9.]+\) log_z=[-0-9.]+ \(se [0-9.]+\) ess=[0-9.]+ pareto_k=[-0-9.a-z]+ kl=[-0-9.]+ \(log Z 1\.8775, grid\) seconds=[0-9.]+$' out.txt && pass || fail "fit --flow $flow prints the final line: $(cat out.txt)"
  expect_ok "sample a fitted $flow" -- "$EIGENFLOW" sample --model "vi-$flow.json" --n 40 --out vi-samples.csv
  expect_ok "logprob under a fitted $flow" -- "$EIGENFLOW" logprob --model "vi-$flow.json" --in vi-samples.csv --out vi-logp.csv
  [ "$(wc -l <vi-logp.csv)" -eq 41 ] && pass || fail "logprob of $flow's samples"
done
expect_ok "plot target | samples | density" -- "$EIGENFLOW" plot --model vi-planar.json --target u1 --out vi.png
head -c 8 vi.png | od -An -c | grep -q 'P   N   G' && pass || fail "plot --target writes a PNG"
expect_ok "animate a fitted planar flow" -- "$EIGENFLOW" animate --model vi-planar.json --n 100 --out vi.gif
# The fit checked from outside: KL(q‖p) = E_q[log q − log p] from `sample` and `logprob`,
# with U2 written again in awk (log p = −U − log Z, log Z = 2.1087). 8000 steps (a fifth of
# the default): at 4000, 2 of 11 seeds stopped in a worse basin (KL 0.07, 0.11); at 8000 all
# 13 tried reach 0.003–0.014.
expect_ok "fit u2" -- "$EIGENFLOW" fit --target u2 --steps 8000 --out vi-u2.json
expect_ok "sample u2's fit" -- "$EIGENFLOW" sample --model vi-u2.json --n 20000 --seed 5 --out u2-samples.csv
expect_ok "logprob of u2's samples" -- "$EIGENFLOW" logprob --model vi-u2.json --in u2-samples.csv --out u2-logq.csv
kl=$(paste -d, u2-samples.csv u2-logq.csv | awk -F, 'NR > 1 { pi = atan2(0, -1); w = sin(pi * $1 / 2);
  u = 0.5 * (($2 - w) / 0.4) ^ 2 + 0.5 * ($1 / 4) ^ 8; s += $3 + u + 2.1087; n++ } END { printf "%.4f", s / n }')
awk -v kl="$kl" 'BEGIN { exit !(kl > -0.01 && kl < 0.05) }' && pass || fail "u2's fit: KL(q||p) from sample and logprob is $kl, expected in (-0.01, 0.05)"

# ---- preprocessing in the model, held-out files, data-dependent defaults ---------------
awk 'BEGIN { srand(7); print "a,b,c"; for (i = 0; i < 600; ++i) printf "%d,%d,%d\n", int(6 * rand()), int(3 + 4 * rand() * rand()), int(10 * rand()) }' >ints.csv
expect_ok "train --dequantize" -- "$EIGENFLOW" train --data ints.csv --dequantize --epochs 3 --layers 2 --hidden 8 --out deq.json
grep -Eq '^bits_per_dim train=[0-9.]+ val=[0-9.]+ test=[0-9.]+' out.txt && pass || fail "train --dequantize prints bits per dimension: $(cat out.txt)"
tr -d ' \n' <deq.json | grep -q '"dequantize":\[0,1,2\]' && pass || fail "the model file records the dequantized columns"
grep -q '^train flow=nsf .*D=3)' out.txt && pass || fail "beyond 2D the default flow is nsf: $(head -1 out.txt)"
grep -q '^train flow=nsf layers=2 hidden=8 bins=4 ' out.txt && tr -d ' \n' <deq.json | grep -q '"bins":4,' && pass || fail "beyond 2D nsf defaults to 4 bins, in the model file too: $(head -1 out.txt)"
expect_ok "train --bins beyond 2D" -- "$EIGENFLOW" train --data ints.csv --dequantize --epochs 1 --layers 2 --hidden 8 --bins 6 --out deq6.json
tr -d ' \n' <deq6.json | grep -q '"bins":6,' && ! tr -d ' \n' <deq6.json | grep -q '"bins":4,' && pass || fail "--bins wins over the data's default"
expect_ok "sample a dequantized model" -- "$EIGENFLOW" sample --model deq.json --n 200 --out deq-samples.csv
awk -F, 'NR > 1 { for (j = 1; j <= NF; ++j) if ($j != int($j)) bad++ } END { exit bad > 0 }' deq-samples.csv && pass || fail "a dequantized model samples integers"
expect_ok "logprob of integers under a dequantized model" -- "$EIGENFLOW" logprob --model deq.json --in ints.csv --draws 4 --out deq-logp.csv
awk 'NR > 1 && !($1 < 0 && $1 > -100) { bad++ } END { exit bad > 0 }' deq-logp.csv && pass || fail "log P of integers is finite and below 0"
printf 'a,b,c\n1,2,3.5\n' >halves.csv
expect_error "logprob of a non-integer under a dequantized model" 1 "not an integer" hl.csv -- "$EIGENFLOW" logprob --model deq.json --in halves.csv --out hl.csv
expect_error "--dequantize on real-valued data" 1 "row 0, column 0" m.json -- "$EIGENFLOW" train --data moons.csv --dequantize --out m.json
awk 'BEGIN { srand(8); print "p,q"; for (i = 0; i < 500; ++i) { u = rand(); printf "%.6f,%.6f\n", u, u * rand() } }' >unit.csv
expect_ok "train --bounded" -- "$EIGENFLOW" train --data unit.csv --bounded 0,1 --epochs 3 --layers 2 --hidden 8 --out bounded.json
tr -d ' \n' <bounded.json | grep -q '"type":"logit"' && pass || fail "a bounded model starts with a logit layer"
expect_ok "sample a bounded model" -- "$EIGENFLOW" sample --model bounded.json --n 500 --out bounded-samples.csv
awk -F, 'NR > 1 && ($1 < -0.0011 || $1 > 1.0011 || $2 < -0.0011 || $2 > 1.0011) { bad++ } END { exit bad > 0 }' bounded-samples.csv && pass ||
  fail "a bounded model's samples stay in [0, 1] widened by alpha"
printf 'p,q\n0.5,0.5\n0.5,1.2\n' >beyond.csv
expect_error "logprob outside the bounds" 1 "outside the bounds" bl.csv -- "$EIGENFLOW" logprob --model bounded.json --in beyond.csv --out bl.csv
expect_error "--bounded with data outside" 1 "outside \[0" m.json -- "$EIGENFLOW" train --data moons.csv --bounded 0,1 --out m.json
expect_error "--bounded without two numbers" 2 "--bounded" m.json -- "$EIGENFLOW" train --data unit.csv --bounded 1 --out m.json
expect_error "--bounded with LO >= HI" 2 "--bounded" m.json -- "$EIGENFLOW" train --data unit.csv --bounded 1,0 --out m.json
expect_error "--jitter with --bounded" 2 "--jitter" m.json -- "$EIGENFLOW" train --data unit.csv --bounded 0,1 --jitter 0.1 --out m.json
expect_error "--dequantize --bounded without room for x + u" 1 "x + 1 must not exceed" m.json -- "$EIGENFLOW" train --data ints.csv --dequantize --bounded 0,9 --out m.json
# The best-epoch restore, checked on the saved file: 40 training points and a wide stack
# overfit; the kept model's validation NLL (logprob on the validation file) is what the
# final line reports, and clearly below the last epoch's.
"$EIGENFLOW" generate --dataset two-moons --n 40 --seed 11 --out few.csv
"$EIGENFLOW" generate --dataset two-moons --n 400 --seed 12 --out val.csv
overfit=(train --data few.csv --validation-data val.csv --test-fraction 0 --epochs 300 --patience 0 --layers 6 --hidden 64 --jitter 0 --average-decay 0)
expect_ok "train an overfitting run with a validation file" -- "$EIGENFLOW" "${overfit[@]}" --out best.json
grep -q 'kept_epoch=[0-9]* (best validation)' out.txt && pass || fail "the overfitting run keeps its best epoch: $(grep final out.txt)"
reported=$(sed -n 's/^final .*val_nll=\([-0-9.]*\) .*/\1/p' out.txt)
expect_ok "train the same run keeping the last epoch" -- "$EIGENFLOW" "${overfit[@]}" --keep-last --out last.json
"$EIGENFLOW" logprob --model best.json --in val.csv --out best-logp.csv
"$EIGENFLOW" logprob --model last.json --in val.csv --out last-logp.csv
best_nll=$(awk 'NR > 1 { s -= $1; n++ } END { printf "%.4f", s / n }' best-logp.csv)
last_nll=$(awk 'NR > 1 { s -= $1; n++ } END { printf "%.4f", s / n }' last-logp.csv)
awk -v a="$best_nll" -v r="$reported" -v b="$last_nll" 'BEGIN { exit !(a - r < 1e-3 && r - a < 1e-3 && a < b - 0.1) }' && pass ||
  fail "the saved best model's validation NLL $best_nll should match the reported $reported and beat the last epoch's $last_nll"
printf '1,2,3\n4,5,6\n' >three.csv
expect_error "a validation file of the wrong width" 1 "three.csv" m.json -- "$EIGENFLOW" train --data few.csv --validation-data three.csv --out m.json
expect_error "a test file that does not exist" 1 "cannot open" m.json -- "$EIGENFLOW" train --data few.csv --test-data nowhere.csv --out m.json

# ---- conditional models p(x | c) ---------------------------------------------------
expect_ok "generate rotated-moons" -- "$EIGENFLOW" generate --dataset rotated-moons --n 600 --seed 4 --out rot.csv
[ "$(head -1 rot.csv)" = "x0,x1,c0" ] && [ "$(wc -l <rot.csv)" -eq 601 ] && pass || fail "rotated-moons rows are x0,x1,c0"
expect_ok "train on rotated-moons" -- "$EIGENFLOW" train --dataset rotated-moons --n 600 --epochs 3 --layers 2 --hidden 8 --out cond.json
grep -q '^train flow=realnvp .*D=2, context K=1)' out.txt && pass || fail "a conditional run says its context width: $(head -1 out.txt)"
grep -Eq '^baseline linear-gaussian p\(x\|c\) test_nll=[-0-9.]+ \(flow better by [-0-9.]+ nats\)$' out.txt && pass ||
  fail "a conditional run's baseline is the linear-Gaussian p(x|c): $(cat out.txt)"
tr -d ' \n' <cond.json | grep -q '"context_dim":1,"context_preprocess"' && pass || fail "the model file records the context"
expect_ok "a built-in conditional set with a validation file" -- "$EIGENFLOW" train --dataset rotated-moons --n 300 --validation-data rot.csv --epochs 1 --layers 2 --hidden 8 --out cond-val.json
expect_ok "logprob under a conditional model" -- "$EIGENFLOW" logprob --model cond.json --in rot.csv --out cond-logp.csv
awk 'NR > 1 && !($1 > -50 && $1 < 10) { bad++ } END { exit bad > 0 || NR != 601 }' cond-logp.csv && pass || fail "conditional log densities"
expect_ok "logprob naming the context column" -- "$EIGENFLOW" logprob --model cond.json --in rot.csv --context c0 --out cond-logp2.csv
cmp -s cond-logp.csv cond-logp2.csv && pass || fail "--context c0 reads the same layout as the default"
awk -F, 'BEGIN { OFS = "," } { print $3, $1, $2 }' rot.csv >rot-first.csv
expect_ok "train with the context column named, first in the file" -- "$EIGENFLOW" train --data rot-first.csv --context c0 --flow maf --epochs 2 --layers 2 --hidden 8 --conditional-base --out cond-maf.json
tr -d ' \n' <cond-maf.json | grep -q '"type":"conditional_diagonal_normal"' && pass || fail "--conditional-base saves a conditional base"
expect_ok "logprob of the reordered file" -- "$EIGENFLOW" logprob --model cond-maf.json --in rot-first.csv --context c0 --out maf-logp.csv
for flow in nice glow iaf nsf nsf-ar; do
  expect_ok "train a conditional $flow" -- "$EIGENFLOW" train --data rot.csv --context-columns 1 --flow $flow --epochs 1 --layers 2 --hidden 8 --out "cond-$flow.json"
  expect_ok "sample a conditional $flow" -- "$EIGENFLOW" sample --model "cond-$flow.json" --context 0.7 --n 20 --out "cond-$flow.csv"
done
expect_ok "sample at one context" -- "$EIGENFLOW" sample --model cond.json --context 0.5 --n 50 --out cond-samples.csv
[ "$(head -1 cond-samples.csv)" = "x0,x1,c0" ] && awk -F, 'NR > 1 && $3 != 0.5 { bad++ } END { exit bad > 0 || NR != 51 }' cond-samples.csv &&
  pass || fail "sample --context writes rows [x | c]"
expect_ok "logprob of conditional samples" -- "$EIGENFLOW" logprob --model cond.json --in cond-samples.csv --out cond-samples-logp.csv
printf 'c0\n0\n1.5\n3\n' >contexts.csv
expect_ok "sample one point per context row" -- "$EIGENFLOW" sample --model cond.json --context-file contexts.csv --seed 2 --out per-row.csv
awk -F, 'NR == 2 && $3 == 0 { a++ } NR == 3 && $3 == 1.5 { a++ } NR == 4 && $3 == 3 { a++ } END { exit a != 3 || NR != 4 }' per-row.csv && pass ||
  fail "sample --context-file: one row per context, in order"
expect_ok "plot a conditional density" -- "$EIGENFLOW" plot --model cond.json --context 1.0 --data rot.csv --out cond.png
head -c 8 cond.png | od -An -c | grep -q 'P   N   G' && pass || fail "plot --context writes a PNG"
expect_ok "animate at a context" -- "$EIGENFLOW" animate --model cond.json --context 1.0 --n 100 --out cond.gif
# One column given a context, checked against its exact density from outside:
# x | c ~ N(sin 6c, (0.05 + 0.2c)^2), c ~ U(0, 1); KL = E_p[log p − log q] on fresh rows.
gen_1d() { awk -v seed="$1" -v n="$2" 'BEGIN { srand(seed); pi = atan2(0, -1); print "x,c"
  for (i = 0; i < n; ++i) { c = rand(); u = rand(); v = rand(); g = sqrt(-2 * log(1 - u)) * cos(2 * pi * v)
    printf "%.8f,%.8f\n", sin(6 * c) + (0.05 + 0.2 * c) * g, c } }'; }
gen_1d 1 3000 >oned.csv
gen_1d 2 3000 >oned-test.csv
expect_ok "train a one-column conditional density with the defaults" -- "$EIGENFLOW" train --data oned.csv --context-columns 1 --out oned.json
grep -q '^train flow=nsf .*D=1, context K=1)' out.txt && pass || fail "one column given a context defaults to nsf: $(head -1 out.txt)"
expect_ok "logprob of fresh one-column rows" -- "$EIGENFLOW" logprob --model oned.json --in oned-test.csv --out oned-logq.csv
kl=$(paste -d, oned-test.csv oned-logq.csv | awk -F, 'NR > 1 { pi = atan2(0, -1); s = 0.05 + 0.2 * $2; z = ($1 - sin(6 * $2)) / s
  kl += -0.5 * z * z - log(s) - 0.5 * log(2 * pi) - $3; n++ } END { printf "%.4f", kl / n }')
awk -v kl="$kl" 'BEGIN { exit !(kl > -0.02 && kl < 0.05) }' && pass || fail "one column given c: forward KL $kl, expected in (-0.02, 0.05)"
expect_error "logprob without the context columns" 1 "1 context columns" l.csv -- "$EIGENFLOW" logprob --model cond.json --in moons.csv --out l.csv
expect_error "sample a conditional model without a context" 2 "conditional on 1 context values" s.csv -- "$EIGENFLOW" sample --model cond.json --n 5 --out s.csv
expect_error "a context of the wrong width" 2 "found 2" s.csv -- "$EIGENFLOW" sample --model cond.json --context 1,2 --n 5 --out s.csv
expect_error "a context that is not a number" 2 "not a finite number" s.csv -- "$EIGENFLOW" sample --model cond.json --context abc --n 5 --out s.csv
expect_error "a context for an unconditional model" 2 "unconditional" s.csv -- "$EIGENFLOW" sample --model model.json --context 1 --n 5 --out s.csv
expect_error "--n against a context file" 2 "does not match" s.csv -- "$EIGENFLOW" sample --model cond.json --context-file contexts.csv --n 5 --out s.csv
printf 'c0\n0\nnan\n' >bad-contexts.csv
expect_error "a non-finite context in a file" 1 "non-finite" s.csv -- "$EIGENFLOW" sample --model cond.json --context-file bad-contexts.csv --out s.csv
awk -F, 'NR == 3 { $3 = "inf" } { print }' OFS=, rot.csv >rot-inf.csv
expect_error "logprob with an infinite context" 1 "rot-inf.csv:3: column 3: non-finite" l.csv -- "$EIGENFLOW" logprob --model cond.json --in rot-inf.csv --out l.csv
expect_error "train naming a column that is not there" 2 "no column named 'angle'" m.json -- "$EIGENFLOW" train --data rot.csv --context angle --out m.json
expect_error "train with every column a context" 2 "at least one for x" m.json -- "$EIGENFLOW" train --data rot.csv --context-columns 3 --out m.json
expect_error "a conditional planar flow" 1 "no network to condition" m.json -- "$EIGENFLOW" train --data rot.csv --context-columns 1 --flow planar --out m.json
expect_error "--dequantize with a context" 2 "conditional" m.json -- "$EIGENFLOW" train --data ints.csv --context-columns 1 --dequantize --out m.json
expect_error "a validation file without the context" 1 "context columns like the training data" m.json -- "$EIGENFLOW" train --data rot.csv --context-columns 1 --validation-data moons.csv --out m.json

# ---- checkpoints survive a kill ------------------------------------------------------
# An uninterrupted run, and the same run killed with SIGKILL mid-way and resumed:
# the final models must be byte-identical (single thread).
run_args=(train --dataset two-moons --n 2000 --epochs 150 --seed 4 --layers 4 --hidden 16)
"$EIGENFLOW" "${run_args[@]}" --out straight.json >/dev/null 2>&1
"$EIGENFLOW" "${run_args[@]}" --checkpoint ck --out resumed.json >/dev/null 2>&1 &
pid=$!
killed=no
for _ in $(seq 1 3000); do
  if [ -f ck/checkpoint.json ] && grep -q '"epoch":[2-9][0-9]' ck/checkpoint.json 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null && killed=yes
    break
  fi
  sleep 0.01
done
wait "$pid" 2>/dev/null
[ "$killed" = yes ] && [ ! -e resumed.json ] && pass || fail "the training run was not killed mid-way (killed=$killed)"
expect_ok "resume after SIGKILL" -- "$EIGENFLOW" "${run_args[@]}" --checkpoint ck --resume --out resumed.json
cmp -s straight.json resumed.json && pass || fail "a killed and resumed run differs from an uninterrupted one"
expect_error "resume with other flags" 2 "--lr" r2.json -- "$EIGENFLOW" "${run_args[@]}" --lr 0.01 --checkpoint ck --resume --out r2.json
expect_error "resume without a checkpoint" 1 "cannot open" r2.json -- "$EIGENFLOW" "${run_args[@]}" --checkpoint nowhere --resume --out r2.json

# ---- bad input ------------------------------------------------------------------
printf '' >empty.csv
printf 'x0,x1\n' >header.csv
printf '1,2\n3,4,5\n' >ragged.csv
printf '1,2\n3,abc\n' >text.csv
printf '1,2\nnan,4\n' >nan.csv
printf '1,2\ninf,4\n' >inf.csv
printf '1,2,3\n4,5,6\n' >wide.csv
printf 'x\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n' >one.csv
head -c 2000 /dev/urandom >garbage.csv
{ printf '1,2\n1,'; head -c 1048576 /dev/zero | tr '\0' '7'; printf 'x\n'; } >long.csv
head -c 700 model.json >truncated.json
sed 's/"leaky_relu"/"glow"/; s/"affine_coupling"/"glow"/' model.json >unknown.json
sed 's/"eigenflow.model"/"other"/' model.json >format.json
sed 's/"version": 1/"version": 7/' model.json >version.json

expect_error "empty data file" 1 "empty" model2.json -- "$EIGENFLOW" train --data empty.csv --out model2.json
expect_error "header only" 1 "header only" model2.json -- "$EIGENFLOW" train --data header.csv --out model2.json
expect_error "ragged rows" 1 "ragged.csv:2" model2.json -- "$EIGENFLOW" train --data ragged.csv --out model2.json
expect_error "non-numeric field" 1 "text.csv:2" model2.json -- "$EIGENFLOW" train --data text.csv --out model2.json
expect_error "NaN in data" 1 "non-finite" model2.json -- "$EIGENFLOW" train --data nan.csv --out model2.json
expect_error "Inf in data" 1 "non-finite" logp2.csv -- "$EIGENFLOW" logprob --model model.json --in inf.csv --out logp2.csv
expect_error "wrong dimension for the model" 1 "2 columns" logp2.csv -- "$EIGENFLOW" logprob --model model.json --in wide.csv --out logp2.csv
expect_error "binary garbage" 1 "garbage.csv" model2.json -- "$EIGENFLOW" train --data garbage.csv --out model2.json
expect_error "megabyte-long line" 1 "long.csv:2" model2.json -- "$EIGENFLOW" train --data long.csv --out model2.json
expect_error "truncated model" 1 "not valid JSON" s.csv -- "$EIGENFLOW" sample --model truncated.json --n 5 --out s.csv
expect_error "unknown layer type" 1 "unknown layer type 'glow'" s.csv -- "$EIGENFLOW" sample --model unknown.json --n 5 --out s.csv
expect_error "unknown format" 1 "/format" s.csv -- "$EIGENFLOW" sample --model format.json --n 5 --out s.csv
expect_error "unknown version" 1 "/version" s.csv -- "$EIGENFLOW" sample --model version.json --n 5 --out s.csv
expect_error "missing model" 1 "cannot open" s.csv -- "$EIGENFLOW" sample --model missing.json --n 5 --out s.csv
expect_error "negative n" 2 "--n" g.csv -- "$EIGENFLOW" generate --dataset two-moons --n -5 --out g.csv
expect_error "batch 0" 2 "--batch" m.json -- "$EIGENFLOW" train --dataset two-moons --batch 0 --out m.json
expect_error "NaN learning rate" 2 "--lr" m.json -- "$EIGENFLOW" train --dataset two-moons --lr nan --out m.json
expect_error "negative learning rate" 2 "--lr" m.json -- "$EIGENFLOW" train --dataset two-moons --lr -0.1 --out m.json
expect_error "hidden 0" 2 "--hidden" m.json -- "$EIGENFLOW" train --dataset two-moons --hidden 0 --out m.json
expect_error "negative noise" 1 "noise" g.csv -- "$EIGENFLOW" generate --dataset two-moons --noise -1 --out g.csv
expect_error "unknown data set" 1 "unknown data set" g.csv -- "$EIGENFLOW" generate --dataset moons --out g.csv
expect_error "unknown flow" 2 "--flow" m.json -- "$EIGENFLOW" train --dataset two-moons --flow hyperflow --out m.json
expect_error "one spline bin" 2 "--bins" m.json -- "$EIGENFLOW" train --dataset two-moons --flow nsf --bins 1 --out m.json
expect_error "negative tail bound" 2 "--tail-bound" m.json -- "$EIGENFLOW" train --dataset two-moons --flow nsf --tail-bound -1 --out m.json
expect_error "unknown mix" 2 "--mix" m.json -- "$EIGENFLOW" train --dataset two-moons --mix shuffle --out m.json
expect_error "--batch-norm on a radial flow" 1 "coupling and autoregressive" m.json -- "$EIGENFLOW" train --dataset two-moons --flow radial --batch-norm --out m.json
expect_error "--actnorm on a planar flow" 1 "coupling and autoregressive" m.json -- "$EIGENFLOW" train --dataset two-moons --flow planar --actnorm --out m.json
expect_error "--dim for a 2D set" 1 "takes no dimension" g.csv -- "$EIGENFLOW" generate --dataset two-moons --dim 3 --out g.csv
expect_error "mixed-moons in 2D" 1 "at least 3" m.json -- "$EIGENFLOW" train --dataset mixed-moons --dim 2 --out m.json
expect_error "unknown order" 2 "--order" m.json -- "$EIGENFLOW" train --dataset two-moons --flow maf --order sideways --out m.json
expect_error "an autoregressive flow on 1 column" 1 "dimension >= 2" m.json -- "$EIGENFLOW" train --data one.csv --flow maf --out m.json
expect_error "output in a missing directory" 1 "does not exist" "" -- "$EIGENFLOW" train --dataset two-moons --out no/such/dir/m.json
expect_error "no data source" 2 "--dataset" m.json -- "$EIGENFLOW" train --out m.json
expect_error "unknown target" 2 "--target" v.json -- "$EIGENFLOW" fit --target u9 --out v.json
expect_error "fit with zero steps" 2 "--steps" v.json -- "$EIGENFLOW" fit --target u1 --steps 0 --out v.json
expect_error "fit with a negative learning rate" 2 "--lr" v.json -- "$EIGENFLOW" fit --target u1 --lr -1 --out v.json
expect_error "fit a flow with a learnable base" 2 "--flow" v.json -- "$EIGENFLOW" fit --target u1 --flow nice --out v.json
expect_error "plot with a target and data" 2 "--target" p.png -- "$EIGENFLOW" plot --model model.json --target u1 --data moons.csv --out p.png
expect_error "unknown subcommand" 2 "" "" -- "$EIGENFLOW" fly

# ---- every fitted model scores 20,000 of its own samples (issue 35) ------------
# (EIGENFLOW_CLI_QUICK, set for the sanitizer build by tests/CMakeLists.txt: 2,000
# samples and a tenth of the fitting steps; the plain suite runs the full check)
own_samples=20000 planar_steps=10000 radial_steps=2000
if [ -n "${EIGENFLOW_CLI_QUICK:-}" ]; then own_samples=2000 planar_steps=1000 radial_steps=200; fi
# The points a model draws are the points it must always be able to score: planar's
# root finding once cycled on them (in float, this seed and length did it before the fix).
for precision in float double; do
  expect_ok "fit u4 with 32 planar layers ($precision)" -- "$EIGENFLOW" fit --target u4 --flow planar --layers 32 --seed 1 \
    --steps $planar_steps --precision $precision --out "own-planar-$precision.json"
  expect_ok "fit u4 with 16 radial layers ($precision)" -- "$EIGENFLOW" fit --target u4 --flow radial --layers 16 --seed 2 \
    --steps $radial_steps --precision $precision --out "own-radial-$precision.json"
  expect_ok "train planar ($precision)" -- "$EIGENFLOW" train --dataset two-moons --n 500 --epochs 20 --flow planar \
    --layers 8 --precision $precision --out "own-train-planar-$precision.json"
done
# every model file the command line wrote above (not checkpoints, not the broken files
# made for the error checks): name, context width, scalar, from its top-level keys
# (model files are written with a one-space indent)
for path in *.json; do
  case "$path" in truncated.json | unknown.json | version.json | format.json | cnf-euler.json) continue ;; esac
  grep -q '^ "format": "eigenflow.model"' "$path" || continue
  context_dim=$(sed -n 's/^ "context_dim": \([0-9]*\).*/\1/p' "$path")
  echo "$path ${context_dim:-0} $(sed -n 's/^ "scalar": "\(.*\)".*/\1/p' "$path")"
done >models.txt
grep -q ' float32$' models.txt && grep -q ' float64$' models.txt && pass || fail "models of both precisions are checked: $(cat models.txt)"
while read -r model context_dim scalar; do
  context=()
  [ "$context_dim" -gt 0 ] && context=(--context "$(printf '0.5%.0s,' $(seq "$context_dim") | sed 's/,$//')")
  if "$EIGENFLOW" sample --model "$model" --n "$own_samples" --seed 9 "${context[@]}" --out own.csv >/dev/null 2>err.txt &&
     "$EIGENFLOW" logprob --model "$model" --in own.csv --out own-logp.csv >/dev/null 2>>err.txt; then
    awk -F, 'NR > 1 { n++; if ($NF ~ /nan|inf/) bad++ } END { exit !(n == '"$own_samples"' && bad == 0) }' own-logp.csv &&
      pass || fail "$model ($scalar) scores its own samples with finite log-densities"
  else
    fail "$model ($scalar) scores its own $own_samples samples: $(head -c 300 err.txt)"
  fi
done <models.txt

# an earlier output is not overwritten by a failing run
cp samples.csv keep.csv
"$EIGENFLOW" sample --model truncated.json --n 5 --out keep.csv 2>/dev/null
cmp -s samples.csv keep.csv && pass || fail "a failing run overwrote an existing output"

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
