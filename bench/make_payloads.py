"""Writes the benchmark's configuration: a 1 KB JSON object of feature flags."""
import json, os, sys

work = sys.argv[1]
os.makedirs(os.path.join(work, "config"), exist_ok=True)
flags = {}
i = 0
while len(json.dumps(flags, separators=(",", ":"))) < 1024 - 60:
    flags[f"flag_{i:02d}"] = {"enabled": i % 2 == 0, "limit": i * 10, "label": f"variant-{i}"}
    i += 1
text = json.dumps(flags, separators=(",", ":"))
text = text + " " * (1024 - len(text))
assert len(text) == 1024, len(text)
with open(os.path.join(work, "config", "bench:bench:config.json"), "w") as f:
    f.write(text)

# Variant feature flags: 20 flags with 5 ruled variants and a default each, the same rule shapes as
# the evaluation micro-benchmark (Tests/AgentCoreTests/FeatureFlagBenchmarkTests.swift).
rules = [
    '(eq $country "C{i}")',
    '(in $tier ["gold", "platinum", "t{i}"])',
    '(matches in::$tier pattern::"^(plat|diamond)[0-9]*$")',
    '(split pct::10 by::$userId seed::"s{i}")',
    '(and (eq $country "FR") (split pct::50 by::$userId))',
]
lines = []
for i in range(20):
    variants = [
        f"  [ {rule.format(i=i)}, '''{{\"_variant\":\"V{n}\",\"enabled\":true,\"variant\":{n},\"limit\":{i * 10}}}''' ],"
        for n, rule in enumerate(rules)
    ]
    lines.append(f"'flag_{i:02d}'::[\n" + "\n".join(variants) + "\n  '''{\"_variant\":\"Default\",\"enabled\":false}'''\n]")
name = "bench:bench:variants.application%ion%type=AWS.AppConfig.FeatureFlags"
with open(os.path.join(work, "config", name), "w") as f:
    f.write("\n".join(lines) + "\n")
