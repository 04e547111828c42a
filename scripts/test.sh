#!/usr/bin/env bash
# Sets up (Debian packages, configure, build) and runs the whole test suite through ctest.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$EIGENFLOW_ROOT"
eigenflow_configure build -DEIGENFLOW_BUILD_TESTS=ON
cmake --build build -j "$EIGENFLOW_JOBS"
ctest --test-dir build --output-on-failure -j "$EIGENFLOW_JOBS"
