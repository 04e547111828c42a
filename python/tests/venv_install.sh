#!/usr/bin/env bash
# The Python package installed into a new virtual environment (made with the interpreter the
# module is built for, seeing the system's numpy), as the README says to install it, then
# imported and used from there alone: outside the build tree, without PYTHONPATH.
#   venv_install.sh PYTHON BUILD_DIR SCRATCH_DIR
set -euo pipefail
python=$1 build=$2 scratch=$3
rm -rf "$scratch"
"$python" -m venv --without-pip --system-site-packages "$scratch/env"
VIRTUAL_ENV="$scratch/env" cmake --install "$build" --component python >/dev/null
cd "$scratch"
env -u PYTHONPATH "$scratch/env/bin/python" - "$scratch/env" <<'PYTHON'
import os, sys
import numpy as np
import eigenflow
where = os.path.realpath(eigenflow.__file__)
assert where.startswith(os.path.realpath(sys.argv[1])), where  # the environment's copy, not the build tree's
x = np.random.default_rng(0).normal(size=(300, 2))
flow = eigenflow.Flow("realnvp", layers=2, hidden=8, epochs=2).fit(x)
assert np.isfinite(flow.score(x))
print("installed and working:", where)
PYTHON
# an environment of another Python version is refused with a clear message
mkdir -p "$scratch/other/lib/python2.7/site-packages"
if VIRTUAL_ENV="$scratch/other" cmake --install "$build" --component python >"$scratch/other.log" 2>&1; then
  echo "installed into an environment without this Python's site-packages"; exit 1
fi
grep -q "the module is built for Python" "$scratch/other.log"
rm -rf "$scratch"
