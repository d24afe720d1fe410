#!/usr/bin/env bash
# Everything from a fresh machine to a running job: installs what is missing, builds,
# and runs eddy's main job on the embedded mini-cluster over the bundled sample.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh build
exec ./build/eddy run -p 2 build/wordcount.so --input data/words.txt
