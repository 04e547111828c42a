#!/usr/bin/env bash
# mpirun -np P eigenflow train, end to end: P = 2, 3 and 4 (oversubscribed) train the
# model one process trains (log-densities of the same points equal to 1e-9), for
# conditional flows and held-out files too; --resume continues across the same P;
# bad input on one rank ends every rank with exactly one "error: ..." line of ours
# (mpirun adds its own notice) and no model file; a rank killed mid-run ends the job.
# Usage: test_mpi_cli.sh PATH/TO/eigenflow MPIEXEC
set -u
EIGENFLOW=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
MPIEXEC=$2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
ranks() { local p=$1; shift; "$MPIEXEC" -np "$p" --oversubscribe --quiet "$@"; }

# max |a − b| over two logprob files (header, one value per row)
worst_difference() {
  paste -d, "$1" "$2" | awk -F, 'NR > 1 { d = $1 - $2; if (d < 0) d = -d; if (d > w) w = d } END { printf "%.3g\n", w + 0 }'
}

"$EIGENFLOW" generate --dataset two-moons --n 3000 --seed 4 --out moons.csv >/dev/null
"$EIGENFLOW" generate --dataset two-moons --n 500 --seed 5 --out points.csv >/dev/null
# double: the sums' other order moves the log-densities by ~1e-15 (float: by ~1e-6)
flags=(--flow realnvp --layers 4 --hidden 16 --epochs 4 --batch 128 --seed 3)
train_args=(train --data moons.csv "${flags[@]}" --precision double)

"$EIGENFLOW" "${train_args[@]}" --out one.json >one.txt 2>&1 || fail "one process: $(tail -2 one.txt)"
"$EIGENFLOW" logprob --model one.json --in points.csv --out one_lp.csv >/dev/null
for p in 2 4; do
  if ranks "$p" "$EIGENFLOW" "${train_args[@]}" --out "p$p.json" >"p$p.txt" 2>"p$p.err"; then
    grep -q "data-parallel ranks=$p" "p$p.txt" && pass || fail "P = $p: no data-parallel line: $(head -3 "p$p.txt")"
    [ "$(grep -c '^final ' "p$p.txt")" -eq 1 ] && pass || fail "P = $p: expected one final line (rank 0 alone prints)"
    "$EIGENFLOW" logprob --model "p$p.json" --in points.csv --out "p${p}_lp.csv" >/dev/null
    worst=$(worst_difference one_lp.csv "p${p}_lp.csv")
    awk -v w="$worst" 'BEGIN { exit !(w < 1e-9) }' && pass || fail "P = $p: log-densities differ from one process's by $worst"
    # the printed NLLs are the one process's (4 decimals)
    [ "$(grep '^final' one.txt | cut -d' ' -f2-4)" = "$(grep '^final' "p$p.txt" | cut -d' ' -f2-4)" ] && pass ||
      fail "P = $p: final NLLs differ: $(grep '^final' one.txt) / $(grep '^final' "p$p.txt")"
  else
    fail "P = $p failed: $(head -c 400 "p$p.err")"
  fi
done

# a conditional flow (--context-columns) and held-out files (--validation-data, --test-data;
# P = 3 splits their rows unevenly): the one process's model, as above
"$EIGENFLOW" generate --dataset rotated-moons --n 3000 --seed 4 --out rot.csv >/dev/null
"$EIGENFLOW" generate --dataset rotated-moons --n 400 --seed 5 --out rot_points.csv >/dev/null
"$EIGENFLOW" generate --dataset two-moons --n 301 --seed 6 --out val.csv >/dev/null
"$EIGENFLOW" generate --dataset two-moons --n 250 --seed 7 --out test.csv >/dev/null
same_model() {  # DESCRIPTION P POINTS -- train arguments...
  local what=$1 p=$2 points=$3; shift 4
  "$EIGENFLOW" "$@" --out one_x.json >one_x.txt 2>&1 || { fail "$what, one process: $(tail -2 one_x.txt)"; return; }
  if ! ranks "$p" "$EIGENFLOW" "$@" --out p_x.json >p_x.txt 2>p_x.err; then fail "$what, P = $p: $(head -c 400 p_x.err)"; return; fi
  "$EIGENFLOW" logprob --model one_x.json --in "$points" --out one_x_lp.csv >/dev/null
  "$EIGENFLOW" logprob --model p_x.json --in "$points" --out p_x_lp.csv >/dev/null
  worst=$(worst_difference one_x_lp.csv p_x_lp.csv)
  awk -v w="$worst" 'BEGIN { exit !(w < 1e-9) }' && pass || fail "$what, P = $p: log-densities differ from one process's by $worst"
  [ "$(grep '^final' one_x.txt | cut -d' ' -f2-4)" = "$(grep '^final' p_x.txt | cut -d' ' -f2-4)" ] && pass ||
    fail "$what, P = $p: final NLLs differ: $(grep '^final' one_x.txt) / $(grep '^final' p_x.txt)"
}
same_model "a conditional flow" 2 rot_points.csv -- train --data rot.csv --context-columns 1 "${flags[@]}" --precision double
grep -q 'context K=1' p_x.txt && pass || fail "the conditional run says its context width: $(head -2 p_x.txt)"
same_model "held-out files" 3 points.csv -- train --data moons.csv --validation-data val.csv --test-data test.csv "${flags[@]}" \
  --precision double
grep -q '^final .*test_nll=[0-9.-]' p_x.txt && pass || fail "held-out files: no test NLL: $(grep '^final' p_x.txt)"
# the preprocessing flags: --dequantize (integer rows; every rank adds the one process's fixed
# noise draw to its rows), --bounded (the logits standardised over all ranks), --start gaussian
# (the whitening of the covariance pooled over all ranks)
awk -F, 'NR == 1 { print; next } { printf "%d,%d\n", int(10 * $1 + 20), int(10 * $2 + 20) }' moons.csv >ints.csv
head -101 ints.csv >int_points.csv
same_model "--dequantize" 2 int_points.csv -- train --data ints.csv --dequantize "${flags[@]}" --precision double
grep -q '^bits_per_dim ' p_x.txt && pass || fail "--dequantize under mpirun prints no bits per dimension"
same_model "--bounded" 2 points.csv -- train --data moons.csv --bounded=-3,3 "${flags[@]}" --precision double
same_model "--start gaussian" 2 points.csv -- train --data moons.csv --start gaussian "${flags[@]}" --precision double
# the default beyond 2D: the search over the subspace flow's k (pursuit directions and
# whitening from all ranks' rows, rank 0's clock for the budget), then nsf, the choice on
# every rank's validation rows
"$EIGENFLOW" generate --dataset mixed-moons --dim 4 --n 1500 --seed 4 --out mixed.csv >/dev/null
"$EIGENFLOW" generate --dataset mixed-moons --dim 4 --n 300 --seed 5 --out mixed_points.csv >/dev/null
same_model "the default beyond 2D" 2 mixed_points.csv -- train --data mixed.csv --epochs 3 --batch 128 --layers 2 --hidden 16 \
  --seed 3 --precision double
grep -q '^candidate nsf ' p_x.txt && pass || fail "the default beyond 2D under mpirun: no nsf candidate line: $(head -c 300 p_x.txt)"
same_model "--active 2" 2 mixed_points.csv -- train --data mixed.csv --active 2 --epochs 3 --batch 128 --layers 2 --hidden 16 \
  --seed 3 --precision double
# batch normalisation: with --chunk-rows each chunk is a training batch for every P, and the
# population statistics are those of all ranks' rows (sums over ranks: rounding only)
same_model "--batch-norm with --chunk-rows" 2 points.csv -- train --data moons.csv --batch-norm --chunk-rows 32 "${flags[@]}" \
  --precision double

# --chunk-rows: the same model file, byte for byte, for one process and P = 2, 4 (float, 8 epochs)
chunk_flags=(--flow realnvp --layers 4 --hidden 16 --epochs 8 --batch 128 --seed 3 --chunk-rows 32)
"$EIGENFLOW" train --data moons.csv "${chunk_flags[@]}" --out chunk1.json >/dev/null 2>&1 || fail "--chunk-rows in one process"
for p in 2 4; do
  ranks "$p" "$EIGENFLOW" train --data moons.csv "${chunk_flags[@]}" --out "chunk$p.json" >/dev/null 2>&1 &&
    cmp -s chunk1.json "chunk$p.json" && pass || fail "--chunk-rows: P = $p's model file differs from one process's"
done

# float (the default precision): the same model to float rounding (measured: 1e-6)
"$EIGENFLOW" train --data moons.csv "${flags[@]}" --precision float --out one_f.json >/dev/null 2>&1
ranks 2 "$EIGENFLOW" train --data moons.csv "${flags[@]}" --precision float --out p2_f.json >/dev/null 2>&1 || fail "P = 2 in float"
"$EIGENFLOW" logprob --model one_f.json --in points.csv --out one_f_lp.csv >/dev/null
"$EIGENFLOW" logprob --model p2_f.json --in points.csv --out p2_f_lp.csv >/dev/null
worst=$(worst_difference one_f_lp.csv p2_f_lp.csv)
awk -v w="$worst" 'BEGIN { exit !(w < 1e-4) }' && pass || fail "P = 2 in float: log-densities differ from one process's by $worst"

# --resume across the same P: a run stopped mid-way (mpirun killed: every rank ends) and
# resumed from rank 0's checkpoint ends with the straight run's model file, byte for byte.
resume_args=(train --data moons.csv --flow realnvp --layers 4 --hidden 16 --batch 128 --seed 3 --epochs 60 --checkpoint ck)
ranks 2 "$EIGENFLOW" "${resume_args[@]}" --out straight.json >/dev/null 2>&1 || fail "P = 2 with checkpoints"
rm -rf ck
ranks 2 "$EIGENFLOW" "${resume_args[@]}" --out resumed.json >/dev/null 2>&1 &
pid=$!
killed=no
for _ in $(seq 1 3000); do
  if [ -f ck/checkpoint.json ] && grep -q '"epoch":[1-4][0-9]' ck/checkpoint.json 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null && killed=yes
    break
  fi
  sleep 0.01
done
wait "$pid" 2>/dev/null
[ "$killed" = yes ] && [ ! -e resumed.json ] && pass || fail "the P = 2 run was not stopped mid-way (killed=$killed)"
ranks 2 "$EIGENFLOW" "${resume_args[@]}" --resume --out resumed.json >/dev/null 2>resume.err &&
  cmp -s straight.json resumed.json && pass || fail "P = 2: a resumed run differs from a straight one: $(head -c 300 resume.err)"

# expect_failure DESCRIPTION PATTERN OUTPUT -- command...: non-zero exit, one line "error: ..." of ours naming PATTERN, no OUTPUT
expect_failure() {
  local what=$1 pattern=$2 output=$3; shift 4
  rm -f "$output"
  if "$@" >out.txt 2>err.txt; then fail "$what: succeeded"; return; fi
  local lines
  lines=$(grep -c '^error: ' err.txt)
  if [ "$lines" -ne 1 ]; then fail "$what: $lines 'error:' lines: $(head -c 400 err.txt)"; return; fi
  grep '^error: ' err.txt | grep -qi -- "$pattern" || { fail "$what: message lacks '$pattern': $(grep '^error: ' err.txt)"; return; }
  [ -e "$output" ] && { fail "$what: left $output behind"; return; }
  pass
}
{ cat moons.csv; echo "0.5,oops"; } >bad_tail.csv
expect_failure "a malformed row in the last rank's part" "rank 1: .*part 2 of 2.*oops" out.json -- \
  ranks 2 "$EIGENFLOW" train --data bad_tail.csv "${flags[@]}" --out out.json
{ cat moons.csv; echo "0.5,nan"; } >nan_tail.csv
expect_failure "NaN in the last rank's part" "rank 3: .*non-finite" out.json -- \
  ranks 4 "$EIGENFLOW" train --data nan_tail.csv "${flags[@]}" --out out.json
head -3 moons.csv >tiny.csv
expect_failure "more ranks than rows" "no data rows in this part" out.json -- \
  ranks 4 "$EIGENFLOW" train --data tiny.csv "${flags[@]}" --out out.json
expect_failure "a missing file" "rank 0: cannot open" out.json -- \
  ranks 2 "$EIGENFLOW" train --data missing.csv "${flags[@]}" --out out.json
expect_failure "ranks given different flags" "same command line" out.json -- \
  "$MPIEXEC" --oversubscribe --quiet -np 1 "$EIGENFLOW" "${train_args[@]}" --out out.json : \
  -np 1 "$EIGENFLOW" "${train_args[@]}" --epochs 5 --out out.json
expect_failure "another command under mpirun" "only train runs" "" -- \
  ranks 2 "$EIGENFLOW" sample --model one.json --n 10 --out s.csv
{ cat ints.csv; echo "0.5,1"; } >bad_ints.csv  # row 3000 (counted from 0) is the last rank's
expect_failure "a non-integer row under --dequantize, named as one process names it" "rank 1: .*row 3000, column 0" out.json -- \
  ranks 2 "$EIGENFLOW" train --data bad_ints.csv --dequantize "${flags[@]}" --out out.json
"$EIGENFLOW" generate --dataset rotated-moons --n 50 --seed 8 --out three_columns.csv >/dev/null
expect_failure "a validation file of other columns" "rank 0: .*three_columns.*like the training data" out.json -- \
  ranks 2 "$EIGENFLOW" train --data moons.csv --validation-data three_columns.csv "${flags[@]}" --out out.json
{ cat val.csv; echo "0.5,nan"; } >nan_val.csv
expect_failure "NaN in a test file" "rank 0: .*nan_val.*non-finite" out.json -- \
  ranks 2 "$EIGENFLOW" train --data moons.csv --test-data nan_val.csv "${flags[@]}" --out out.json

# a rank that dies mid-run (rank 1 killed) ends the job: mpirun exits non-zero, no model file
ranks 2 "$EIGENFLOW" train --data moons.csv --flow realnvp --layers 4 --hidden 16 --seed 3 --epochs 100000 --patience 0 \
  --out dead.json >/dev/null 2>dead.err &
pid=$!
victim=""
for _ in $(seq 1 1000); do
  for candidate in $(pgrep -f "^$EIGENFLOW train .*dead.json"); do
    grep -qz '^OMPI_COMM_WORLD_RANK=1$' "/proc/$candidate/environ" 2>/dev/null && victim=$candidate
  done
  [ -n "$victim" ] && break
  sleep 0.01
done
sleep 1  # training under way
[ -n "$victim" ] && kill -KILL "$victim"
ended=no
for _ in $(seq 1 600); do
  if ! kill -0 "$pid" 2>/dev/null; then ended=yes; break; fi
  sleep 0.1
done
if [ "$ended" = yes ]; then
  wait "$pid" && status=0 || status=$?
  [ -n "$victim" ] && [ "$status" -ne 0 ] && [ ! -e dead.json ] && pass ||
    fail "a killed rank: victim=$victim exit=$status model=$([ -e dead.json ] && echo written || echo none)"
else
  kill -KILL "$pid" 2>/dev/null
  fail "a killed rank did not end the job within 60 s"
fi
expect_failure "a model file rank 0 cannot write" "rank 0: .*nowhere" "" -- \
  ranks 2 "$EIGENFLOW" "${train_args[@]}" --out nowhere/out.json

echo "test_mpi_cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
