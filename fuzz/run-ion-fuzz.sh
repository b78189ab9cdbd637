#!/usr/bin/env bash
# Fuzzes the Ion reader with libFuzzer and AddressSanitizer.
#   fuzz/run-ion-fuzz.sh [seconds]      (default 60)
# Builds into .build/fuzz, seeds a corpus from the Ion test vectors, and exits non-zero when
# libFuzzer finds a crash, a leak or a timeout (the reproducer is left in .build/fuzz/artifacts).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
out=.build/fuzz
mkdir -p "$out/corpus" "$out/artifacts"

swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
    -module-name IonFuzz \
    Sources/AgentCore/Ion/*.swift fuzz/IonFuzz/main.swift \
    -o "$out/ion-fuzz"

# Seed with every vector, good and bad (libFuzzer keeps the corpus between runs).
for file in Tests/AgentCoreTests/Fixtures/ion/good/*.ion Tests/AgentCoreTests/Fixtures/ion/good/*.10n \
            Tests/AgentCoreTests/Fixtures/ion/bad/*.ion Tests/AgentCoreTests/Fixtures/ion/bad/*.10n; do
    [ -e "$file" ] || continue
    [ "$(stat -c %s "$file")" -le 65536 ] || continue
    cp -n "$file" "$out/corpus/" 2>/dev/null || true
done

exec "$out/ion-fuzz" "$out/corpus" -dict=fuzz/ion.dict \
    -max_total_time="$seconds" -timeout=2 -rss_limit_mb=1024 -max_len=65536 \
    -artifact_prefix="$out/artifacts/" -print_final_stats=1
