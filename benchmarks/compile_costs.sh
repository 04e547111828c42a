#!/usr/bin/env bash
# Seconds of compiling per translation unit, the bulk of CI's time (issue 35):
#   bash benchmarks/compile_costs.sh release|sanitize|sanitize-gcc [BUILD_DIR]
# configures a scratch build like scripts/test.sh does for that stage (sanitize: clang++, as
# CI; sanitize-gcc: the same sanitizer flags with GCC, CI's compiler until issue 35), builds what the stage builds with -j 2 through a
# compiler launcher that logs each unit's wall seconds, and prints them, the longest last,
# with their sum (the stage's compile CPU time on two cores is about half of it in wall time).
set -euo pipefail
kind=${1:?release, sanitize or sanitize-gcc}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${2:-$(mktemp -d)/build}
mkdir -p "$build"
log=$build/unit_seconds.txt
launcher=$build/timed_compile.sh
cat >"$launcher" <<'EOF'
#!/usr/bin/env bash
# compiler launcher: runs the compiler, appends "seconds object" to $EIGENFLOW_UNIT_LOG
out=unknown previous=""
for argument in "$@"; do [ "$previous" = "-o" ] && out=$argument; previous=$argument; done
start=$(date +%s.%N)
status=0
"$@" || status=$?
echo "$(echo "$(date +%s.%N) - $start" | bc) $out" >>"$EIGENFLOW_UNIT_LOG"
exit $status
EOF
chmod +x "$launcher"
rm -f "$log"
export EIGENFLOW_UNIT_LOG=$log
common=(-DEIGENFLOW_BUILD_TESTS=ON -DEIGENFLOW_BUILD_PYTHON=ON -DPython_EXECUTABLE=/usr/bin/python3 -DCMAKE_CXX_COMPILER_LAUNCHER="$launcher")
sanitize=(-DEIGENFLOW_BUILD_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS_SANITIZE=-O1
          "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer")
case "$kind" in
  release) cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "${common[@]}" >/dev/null; target=all ;;
  sanitize) cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER=clang++ "${common[@]}" "${sanitize[@]}" >/dev/null; target=eigenflow_test_binaries ;;
  sanitize-gcc) cmake -S "$root" -B "$build" "${common[@]}" "${sanitize[@]}" >/dev/null; target=eigenflow_test_binaries ;;
  *) echo "error: unknown kind '$kind' (release, sanitize or sanitize-gcc)" >&2; exit 2 ;;
esac
begin=$SECONDS
cmake --build "$build" -j 2 --target "$target" >"$build/build.log" 2>&1 || echo "(the build failed: $build/build.log)"
echo "$kind: built in $((SECONDS - begin)) s on 2 jobs"
sort -n "$log" | awk '{ sub(".*/CMakeFiles/", "", $2); printf "%8.1f s  %s\n", $1, $2; sum += $1 } END { printf "%8.1f s  sum\n", sum }'
