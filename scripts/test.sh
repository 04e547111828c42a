#!/usr/bin/env bash
# Sets up (Debian packages, configure, build) and runs the whole test suite through ctest.
#   bash scripts/test.sh               Release build in build/, the Python module's tests (pytest) included
#   bash scripts/test.sh --sanitize    the same suite under AddressSanitizer + UBSan, in build-sanitize/
#   bash scripts/test.sh --fuzz [S]    the libFuzzer targets (clang), S seconds each (default 60)
mode=${1:-}
if [ "$mode" = "--fuzz" ]; then EIGENFLOW_EXTRA_PACKAGES="clang libclang-rt-14-dev"; fi
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$EIGENFLOW_ROOT"
case "$mode" in
  --sanitize)
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    # -O1 without NDEBUG: Eigen's own bounds and size assertions stay on, and the build stays affordable
    eigenflow_configure build-sanitize -DEIGENFLOW_BUILD_TESTS=ON -DEIGENFLOW_BUILD_BENCHMARKS=OFF \
      -DEIGENFLOW_BUILD_PYTHON=ON -DPython_EXECUTABLE=/usr/bin/python3 \
      -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS_SANITIZE="-O1" \
      -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
    cmake --build build-sanitize -j "$EIGENFLOW_JOBS" --target eigenflow_test_binaries
    # the package test builds an unsanitized consumer; it runs in the plain suite
    ctest --test-dir build-sanitize --output-on-failure -j "$EIGENFLOW_JOBS" -E test_package_downstream
    ;;
  --fuzz)
    seconds=${2:-60}
    CXX=clang++ eigenflow_configure build-fuzz -DEIGENFLOW_BUILD_FUZZERS=ON -DEIGENFLOW_BUILD_TESTS=OFF \
      -DEIGENFLOW_BUILD_EXAMPLES=OFF -DEIGENFLOW_BUILD_BENCHMARKS=OFF
    cmake --build build-fuzz -j "$EIGENFLOW_JOBS"
    for target in model_loader csv_reader; do
      corpus=$(mktemp -d)  # new inputs go here, not into the checked-in seeds
      seeds=tests/fuzz/corpus/${target%%_*}
      echo "fuzzing $target for ${seconds}s"
      status=0
      ./build-fuzz/tests/fuzz/fuzz_$target "$corpus" "$seeds" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix=build-fuzz/ >build-fuzz/$target.log 2>&1 || status=$?
      grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|Done' build-fuzz/$target.log || true
      rm -rf "$corpus"
      if [ "$status" -ne 0 ]; then echo "fuzz_$target found a crash (input saved under build-fuzz/)"; exit 1; fi
    done
    ;;
  *)
    eigenflow_configure build -DEIGENFLOW_BUILD_TESTS=ON -DEIGENFLOW_BUILD_PYTHON=ON -DPython_EXECUTABLE=/usr/bin/python3
    cmake --build build -j "$EIGENFLOW_JOBS"
    ctest --test-dir build --output-on-failure -j "$EIGENFLOW_JOBS"
    ;;
esac
