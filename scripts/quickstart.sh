#!/usr/bin/env bash
# Everything from a fresh machine to a running job: installs what is missing, builds,
# and runs eddy's main job on the embedded mini-cluster: user sessions in event time over
# the bundled click stream (examples/click_sessions.c, data/clicks.csv).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh build
exec ./build/eddy run build/click_sessions.so data/clicks.csv
