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
