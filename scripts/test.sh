#!/usr/bin/env bash
# Sets up (Debian packages, configure, build) and runs the whole test suite through ctest.
#   bash scripts/test.sh               Release build in build/, the Python module's tests (pytest) included
#   bash scripts/test.sh --sanitize    the same suite under AddressSanitizer + UBSan, in build-sanitize/
#   bash scripts/test.sh --fuzz [S]    the libFuzzer targets (clang), S seconds each (default 60)
mode=${1:-}
# the sanitizer build and the fuzzers are clang's (with LLVM's OpenMP runtime for the former)
case "$mode" in
  --sanitize) EIGENFLOW_EXTRA_PACKAGES="clang libclang-rt-14-dev libomp-dev" ;;
  --fuzz) EIGENFLOW_EXTRA_PACKAGES="clang libclang-rt-14-dev" ;;
esac
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$EIGENFLOW_ROOT"
case "$mode" in
  --sanitize)
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    # idle OpenMP threads sleep rather than spin (LLVM's runtime spins for 200 ms), so that
    # the two tests ctest runs side by side do not take each other's cores
    export OMP_WAIT_POLICY=passive
    # clang, not GCC: it compiles this suite in about 60 % of GCC's time, and its UBSan also
    # stops on a null pointer plus an offset, which GCC's does not flag. -O1 without NDEBUG:
    # Eigen's own bounds and size assertions stay on, and the build stays affordable.
    # -shared-libasan: one sanitizer runtime (found through the rpath) for every program and
    # for the Python module, which needs it preloaded (python/CMakeLists.txt).
    runtime_dir=$(dirname "$(clang++ -print-file-name=libclang_rt.asan-x86_64.so)")
    eigenflow_configure build-sanitize -DEIGENFLOW_BUILD_TESTS=ON -DEIGENFLOW_BUILD_BENCHMARKS=OFF \
      -DEIGENFLOW_BUILD_PYTHON=ON -DPython_EXECUTABLE=/usr/bin/python3 -DCMAKE_CXX_COMPILER=clang++ \
      -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS_SANITIZE="-O1" \
      -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
      -DCMAKE_EXE_LINKER_FLAGS="-shared-libasan -Wl,-rpath,$runtime_dir" \
      -DCMAKE_SHARED_LINKER_FLAGS="-shared-libasan -Wl,-rpath,$runtime_dir"
    cmake --build build-sanitize -j "$EIGENFLOW_JOBS" --target eigenflow_test_binaries
    # the package test builds an unsanitized consumer; it runs in the plain suite
    ctest --test-dir build-sanitize --output-on-failure -j "$EIGENFLOW_JOBS" -E test_package_downstream
    ;;
  --fuzz)
    seconds=${2:-60}
    CXX=clang++ eigenflow_configure build-fuzz -DEIGENFLOW_BUILD_FUZZERS=ON -DEIGENFLOW_BUILD_TESTS=OFF \
      -DEIGENFLOW_BUILD_EXAMPLES=OFF -DEIGENFLOW_BUILD_BENCHMARKS=OFF
    cmake --build build-fuzz -j "$EIGENFLOW_JOBS"
    # the targets fuzz side by side, one per core (each is one process)
    declare -A fuzzing
    for target in model_loader csv_reader; do
      corpus=build-fuzz/$target.corpus  # new inputs go here, not into the checked-in seeds
      rm -rf "$corpus" && mkdir -p "$corpus"
      echo "fuzzing $target for ${seconds}s"
      ./build-fuzz/tests/fuzz/fuzz_$target "$corpus" "tests/fuzz/corpus/${target%%_*}" -max_total_time="$seconds" \
        -print_final_stats=1 -artifact_prefix=build-fuzz/ >build-fuzz/$target.log 2>&1 &
      fuzzing[$target]=$!
    done
    crashed=""
    for target in model_loader csv_reader; do
      wait "${fuzzing[$target]}" || crashed="$crashed fuzz_$target"
      echo "fuzz_$target:"
      grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|Done' build-fuzz/$target.log || true
      rm -rf "build-fuzz/$target.corpus"
    done
    if [ -n "$crashed" ]; then echo "found a crash:$crashed (inputs saved under build-fuzz/)"; exit 1; fi
    ;;
  *)
    eigenflow_configure build -DEIGENFLOW_BUILD_TESTS=ON -DEIGENFLOW_BUILD_PYTHON=ON -DPython_EXECUTABLE=/usr/bin/python3
    cmake --build build -j "$EIGENFLOW_JOBS"
    ctest --test-dir build --output-on-failure -j "$EIGENFLOW_JOBS"
    ;;
esac
