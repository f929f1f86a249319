#!/usr/bin/env bash
# Train the three-head water example, freeze it into one file, test each head.
set -euo pipefail
cd "$(dirname "$0")"
deepmt train input.json
deepmt freeze -o water_multi_task.pb
deepmt show water_multi_task.pb
deepmt test -m water_multi_task.pb --head water_ener -s ../data/water/ener/data_2 -d results/ener
deepmt test -m water_multi_task.pb --head water_dipole -s ../data/water/dipole/atomic_system_valid -d results/dipole
deepmt test -m water_multi_task.pb --head water_polar -s ../data/water/polar/atomic_system_valid -d results/polar
