#!/usr/bin/env bash
# Sets up (Debian packages, configure, build) and runs the main demo.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$EIGENFLOW_ROOT"
eigenflow_configure build
cmake --build build -j "$EIGENFLOW_JOBS" --target autodiff_basics
./build/examples/autodiff_basics
