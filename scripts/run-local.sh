#!/usr/bin/env bash
# Builds the agent and runs it in local development mode on the shipped examples.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
swift build -c release --product appconfig-agent --static-swift-stdlib
port="${HTTP_PORT:-2772}"
cat <<TXT
appconfig-agent: local development mode on ./examples, http://localhost:$port  (Ctrl-C to stop)
Try:
  curl -i localhost:$port/applications/demo/environments/dev/configurations/settings
  curl -i localhost:$port/applications/demo/environments/dev/configurations/motd
  curl -i localhost:$port/applications/demo/environments/dev/configurations/flags
  curl -i 'localhost:$port/applications/demo/environments/dev/configurations/flags?flag=dark_mode'
  curl -i 'localhost:$port/applications/demo/environments/dev/configurations/flags?flag=dark_mode&flag=checkout_v2'
  curl -i -H 'Context: tier=gold' localhost:$port/applications/demo/environments/dev/configurations/variants
  curl -i -H 'Context: country=FR,age=30' 'localhost:$port/applications/demo/environments/dev/configurations/variants?flag=banner'
  curl -i -H 'Context: userId=u-42' -H 'Context: email=qa+1@example.com' 'localhost:$port/applications/demo/environments/dev/configurations/variants?flag=checkout_v2&flag=banner'
  curl -i localhost:$port/ping
Edit a file under ./examples and ask again: it is re-read every ${POLL_INTERVAL:-5s}.
TXT
export LOCAL_DEVELOPMENT_DIRECTORY="${LOCAL_DEVELOPMENT_DIRECTORY:-$PWD/examples}"
export POLL_INTERVAL="${POLL_INTERVAL:-5s}"
exec .build/release/appconfig-agent
