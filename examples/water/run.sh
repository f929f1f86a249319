#!/usr/bin/env bash
# Train the single-task water energy example, freeze it, test it.
set -euo pipefail
cd "$(dirname "$0")"
deepmt train input.json
deepmt freeze -o water.pb
deepmt test -m water.pb -s ../data/water/ener/data_2 -d results/water
