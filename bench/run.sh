#!/usr/bin/env bash
# Serving benchmark: the agent (local development mode) against nginx on the same 1 KB JSON, driven
# alternately by wrk in one run, so that the ratios compare like with like on this machine.
# Also drives a variant feature-flag profile (20 flags × 5 variants, evaluated per request with a
# Context header) against the same nginx figure. Prints req/s and p99 for each, their ratios
# against the goals, the agent's RSS after the run, and
# the time from exec to the first /ping answer. Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh nginx-light wrk python3
swift build -c release --product appconfig-agent --static-swift-stdlib >/dev/null

DURATION="${BENCH_DURATION:-8}"
CONNECTIONS="${BENCH_CONNECTIONS:-50}"
ROUNDS="${BENCH_ROUNDS:-2}"
AGENT_PORT=27720
NGINX_PORT=27721
work="$(mktemp -d)"
trap 'kill $(cat "$work"/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT

python3 bench/make_payloads.py "$work"
chmod -R a+rX "$work"  # nginx workers run as an unprivileged user

cat > "$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  types { }
  default_type application/json;
  server {
    listen 127.0.0.1:$NGINX_PORT reuseport;
    location = /applications/bench/environments/bench/configurations/config {
      alias $work/config/bench:bench:config.json;
    }
  }
}
CONF
nginx -c "$work/nginx.conf" -p "$work"

LOCAL_DEVELOPMENT_DIRECTORY="$work/config" HTTP_PORT=$AGENT_PORT LOG_LEVEL=warn POLL_INTERVAL=1h \
  .build/release/appconfig-agent & echo $! > "$work/agent.pid"
for _ in $(seq 100); do curl -sf "localhost:$AGENT_PORT/ping" >/dev/null && break; sleep 0.05; done

path=/applications/bench/environments/bench/configurations/config
curl -sf "localhost:$NGINX_PORT$path" | cmp - "$work/config/bench:bench:config.json"
curl -sf "localhost:$AGENT_PORT$path" | cmp - "$work/config/bench:bench:config.json"

run_wrk() { # name url [wrk options…] → appends "name rps p99ms" to results
  local out name="$1" url="$2"
  shift 2
  out="$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url")"
  python3 bench/parse_wrk.py "$name" <<<"$out" >> "$work/results"
}
variants=/applications/bench/environments/bench/configurations/variants
context=(-H "Context: country=FR, tier=silver" -H "Context: userId=user-12345")
curl -sf "${context[@]}" "localhost:$AGENT_PORT$variants" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d) == 20, d'

: > "$work/results"
for _ in $(seq "$ROUNDS"); do
  run_wrk nginx "http://127.0.0.1:$NGINX_PORT$path"
  run_wrk agent "http://127.0.0.1:$AGENT_PORT$path"
  run_wrk agent_flag "http://127.0.0.1:$AGENT_PORT$path?flag=flag_07"
done
# The serving goal's RSS: after the JSON runs. Variant evaluation then maps more of libcrypto and
# the rule engine; that figure is printed too.
rss_kib="$(awk '/VmRSS/ {print $2}' "/proc/$(cat "$work/agent.pid")/status")"
for _ in $(seq "$ROUNDS"); do
  run_wrk nginx "http://127.0.0.1:$NGINX_PORT$path"
  run_wrk agent_variant "http://127.0.0.1:$AGENT_PORT$variants" "${context[@]}"
done
rss_variants_kib="$(awk '/VmRSS/ {print $2}' "/proc/$(cat "$work/agent.pid")/status")"
kill "$(cat "$work/agent.pid")"; rm "$work/agent.pid"

ping_ms="$(python3 bench/startup.py .build/release/appconfig-agent "$work/config")"

mkdir -p bench/out
python3 bench/report.py "$work/results" "$rss_kib" "$ping_ms" "$rss_variants_kib" | tee bench/out/results.txt
AGENT_BINARY="$PWD/.build/release/appconfig-agent" python3 bench/longpoll.py | tee -a bench/out/results.txt
