"""Summarises benchmark results against the goals of the serving benchmark."""
import statistics, sys
from collections import defaultdict

results, rss_kib, ping_ms = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rss_variants_kib = int(sys.argv[4]) if len(sys.argv) > 4 else None
runs = defaultdict(list)
for line in open(results):
    name, rps, p99 = line.split()
    runs[name].append((float(rps), float(p99)))

def median(name, i):
    return statistics.median(r[i] for r in runs[name])

rows = []
for name in runs:
    rows.append(f"{name:12s} {median(name, 0):>12,.0f} req/s   p99 {median(name, 1):7.2f} ms")
nginx_rps, nginx_p99 = median("nginx", 0), median("nginx", 1)
checks = [
    ("agent req/s / nginx", median("agent", 0) / nginx_rps, ">=", 0.9),
    ("agent p99 / nginx p99", median("agent", 1) / nginx_p99, "<=", 1.5),
    ("?flag= req/s / nginx", median("agent_flag", 0) / nginx_rps, ">=", 0.8),
    ("variants req/s / nginx", median("agent_variant", 0) / nginx_rps, ">=", 0.6),
    ("RSS after run (MiB)", rss_kib / 1024, "<=", 16),
    ("exec to /ping (ms)", ping_ms, "<=", 50),
]
print("\n".join(rows))
if rss_variants_kib is not None:
    print(f"RSS after the variant runs too: {rss_variants_kib / 1024:.2f} MiB (no goal)")
for label, value, op, goal in checks:
    ok = value >= goal if op == ">=" else value <= goal
    print(f"{label:24s} {value:8.2f}  goal {op} {goal:<5}  {'ok' if ok else 'MISSED'}")
