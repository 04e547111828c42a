# Sourced by demo.sh and test.sh: installs whatever Debian packages eigenflow
# needs and are missing (apt-get, through sudo when not root), then
# configures the build directory. Idempotent: a second run installs nothing.
set -euo pipefail

EIGENFLOW_PACKAGES=(
  g++ make cmake pkg-config         # toolchain
  libeigen3-dev nlohmann-json3-dev  # the library's dependencies
  catch2                            # tests
  libcli11-dev gnuplot-nox          # the command line and its pictures
  pybind11-dev python3-dev python3-numpy python3-pytest  # the Python module (python/), for Debian's /usr/bin/python3
  libopenmpi-dev openmpi-bin        # data-parallel training over MPI (eigenflow::mpi, mpirun)
)

# Callers may add packages in EIGENFLOW_EXTRA_PACKAGES before sourcing this file.
eigenflow_install_missing() {
  local missing=()
  local package
  for package in "${EIGENFLOW_PACKAGES[@]}" ${EIGENFLOW_EXTRA_PACKAGES:-}; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$package")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# eigenflow_configure BUILD_DIR [cmake args...]
eigenflow_configure() {
  local build_dir=$1
  shift
  cmake -S "$EIGENFLOW_ROOT" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
}

EIGENFLOW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EIGENFLOW_JOBS=$(nproc 2>/dev/null || echo 2)
eigenflow_install_missing
