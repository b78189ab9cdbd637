#!/usr/bin/env bash
# Fuzzes with libFuzzer and AddressSanitizer:
#   fuzz/run.sh ion [seconds]     the Ion reader alone (default 60 s)
#   fuzz/run.sh flags [seconds]   feature-flag documents: Ion, the rule compiler, evaluation
# Builds into .build/fuzz, seeds a corpus from the Ion test vectors (and the example flag files),
# and exits non-zero when libFuzzer finds a crash, a leak or a timeout (the reproducer is left in
# .build/fuzz/artifacts-TARGET). The corpus is kept between runs.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${1:?usage: fuzz/run.sh ion|flags [seconds]}"
seconds="${2:-60}"
out=.build/fuzz
corpus="$out/corpus-$target"
artifacts="$out/artifacts-$target"
mkdir -p "$corpus" "$artifacts"

vectors=(Tests/AgentCoreTests/Fixtures/ion/good/*.ion Tests/AgentCoreTests/Fixtures/ion/good/*.10n
         Tests/AgentCoreTests/Fixtures/ion/bad/*.ion Tests/AgentCoreTests/Fixtures/ion/bad/*.10n)
case "$target" in
  ion)
    sources=(Sources/AgentCore/Ion/*.swift fuzz/IonFuzz/main.swift)
    flags=()
    ;;
  flags)
    sources=(Sources/AgentCore/Ion/*.swift Sources/AgentCore/FeatureFlags/*.swift Sources/AgentCore/Flags/*.swift
             Sources/AgentCore/Crypto/Digest.swift fuzz/FlagFuzz/main.swift)
    flags=(-I Sources/CCrypto -lcrypto)
    vectors=(Tests/AgentCoreTests/Fixtures/ion/good/flags_* examples/*ion*)
    ;;
  *) echo "fuzz/run.sh: unknown target '$target' (ion or flags)" >&2; exit 2 ;;
esac

binary="$out/$target-fuzz"
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name "Fuzz_$target" \
    "${sources[@]}" "${flags[@]}" -o "$binary"

for file in "${vectors[@]}"; do
    [ -e "$file" ] || continue
    [ "$(stat -c %s "$file")" -le 65536 ] || continue
    cp -n "$file" "$corpus/" 2>/dev/null || true
done

exec "$binary" "$corpus" -dict=fuzz/ion.dict \
    -max_total_time="$seconds" -timeout=2 -rss_limit_mb=1024 -max_len=65536 \
    -artifact_prefix="$artifacts/" -print_final_stats=1
