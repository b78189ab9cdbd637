#!/usr/bin/env bash
# Installs the Debian packages the agent builds against, when any is missing. Safe to run again.
set -euo pipefail

packages=(pkg-config libevent-dev libcurl4-openssl-dev libssl-dev curl ca-certificates openssl)
# openssl: the CLI makes the certificates of the TLS tests (Tests/AgentCoreTests/CurlTLSTests.swift).
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
