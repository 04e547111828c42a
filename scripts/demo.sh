#!/usr/bin/env bash
# Sets up (Debian packages, configure, build) and runs the main demo: train a
# RealNVP on two moons with the eigenflow command line, print its NLL, and
# write samples and a picture to demo-output/.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$EIGENFLOW_ROOT"
eigenflow_configure build
cmake --build build -j "$EIGENFLOW_JOBS" --target eigenflow_cli
eigenflow=./build/examples/eigenflow
mkdir -p demo-output
$eigenflow train --dataset two-moons --n 3000 --seed 0 --out demo-output/two_moons_model.json
$eigenflow generate --dataset two-moons --n 3000 --seed 0 --out demo-output/two_moons.csv
$eigenflow sample --model demo-output/two_moons_model.json --n 3000 --seed 1 --out demo-output/samples.csv
$eigenflow plot --model demo-output/two_moons_model.json --data demo-output/two_moons.csv --out demo-output/two_moons.png
$eigenflow animate --model demo-output/two_moons_model.json --out demo-output/two_moons_flow.gif
echo "wrote demo-output/: two_moons_model.json, samples.csv, two_moons.png (data | samples | density), two_moons_flow.gif"
