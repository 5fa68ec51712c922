#!/usr/bin/env bash
# demo.sh: the README's first command. Sets everything up, then runs the host
# simulator's default scenario. Extra arguments go to sss-host-sim.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
exec build/host-sim/sss-host-sim "$@"
