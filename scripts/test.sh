#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (unit and end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
python3 -c 'import prometheus_client' 2>/dev/null || python3 -m pip install --quiet prometheus-client
python3 -m unittest discover -s Tests/Fakes -q
./scripts/packaging-tests.sh
swift build --build-tests
# writeTo under SIGKILL: 1,000 writes of a 256 KiB configuration, every read checked (about a minute).
python3 -m unittest discover -s Tests/Crash
exposition="$(mktemp)"
trap 'rm -f "$exposition"' EXIT
# Unit tests and end-to-end tests run as separate processes: the end-to-end tests block on real
# processes and sockets, and sharing the 2-core cooperative pool with them would starve the unit
# tests' async timeouts.
METRICS_EXPOSITION_OUT="$exposition" swift test --skip-build --filter AgentCoreTests
swift test --skip-build --filter EndToEndTests
python3 Tests/Metrics/check_exposition.py < "$exposition" >/dev/null
# A bounded libFuzzer run over feature-flag documents: the Ion reader (text and binary, with and
# without the shared tables, and under tight limits), the rule compiler and evaluation.
fuzz_log="$(mktemp)"
trap 'rm -f "$exposition" "$fuzz_log"' EXIT
if ! fuzz/run.sh flags "${FUZZ_SECONDS:-45}" >"$fuzz_log" 2>&1; then
  tail -60 "$fuzz_log"
  echo "fuzzing found a crash, leak or timeout: reproducer in .build/fuzz/artifacts-flags" >&2
  exit 1
fi
grep -E "^Done [0-9]+ runs" "$fuzz_log"
