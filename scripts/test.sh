#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (unit and end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
python3 -m unittest discover -s Tests/Fakes -q
swift build --build-tests
swift test --skip-build
