#!/usr/bin/env python3
"""Checks Prometheus text exposition (format 0.0.4) read on stdin.

Parses it with prometheus_client's own parser (PyPI `prometheus-client`), then checks what that
parser lets through: every sample belongs to a family declared once with # TYPE, no series appears
twice, and each histogram's buckets are cumulative with _count equal to the +Inf bucket.
Prints the families found (with --json: every sample as a JSON list of {"name", "labels", "value"},
for tests that check values); exits 1 on any problem, 2 when prometheus_client is missing.

    swift test ... ; python3 Tests/Metrics/check_exposition.py [--json] < exposition.txt
"""
import json
import math
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("check_exposition: prometheus_client is not installed (pip install prometheus-client)", file=sys.stderr)
    sys.exit(2)


def fail(message):
    print(f"check_exposition: {message}", file=sys.stderr)
    sys.exit(1)


def check_lines(text):
    """What the lenient parser does not check: declarations come once and before their samples."""
    if text and not text.endswith("\n"):
        fail("exposition does not end with a newline")
    declared = {}
    for number, line in enumerate(text.split("\n")[:-1], start=1):
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4:
                fail(f"line {number}: malformed TYPE line: {line!r}")
            name, kind = parts[2], parts[3]
            if name in declared:
                fail(f"line {number}: {name} declared twice")
            if kind not in ("counter", "gauge", "histogram", "summary", "untyped"):
                fail(f"line {number}: unknown type {kind!r}")
            declared[name] = kind
        elif line.startswith("#") or not line:
            if not line:
                fail(f"line {number}: empty line")
        else:
            sample = line.split("{", 1)[0].split(" ", 1)[0]
            family = sample
            for suffix in ("_bucket", "_sum", "_count"):
                if sample.endswith(suffix) and declared.get(sample[: -len(suffix)]) == "histogram":
                    family = sample[: -len(suffix)]
            if family not in declared:
                fail(f"line {number}: sample {sample} comes before any # TYPE of its family")


def check_families(families):
    seen = set()
    for family in families:
        histograms = {}
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            if key in seen:
                fail(f"series {sample.name}{sample.labels} appears twice")
            seen.add(key)
            if family.type == "histogram":
                series = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
                entry = histograms.setdefault(series, {"buckets": [], "count": None})
                if sample.name.endswith("_bucket"):
                    entry["buckets"].append((float(sample.labels["le"]), sample.value))
                elif sample.name.endswith("_count"):
                    entry["count"] = sample.value
        for series, entry in histograms.items():
            buckets = entry["buckets"]
            if not buckets or not math.isinf(buckets[-1][0]):
                fail(f"{family.name}{dict(series)} has no +Inf bucket last")
            bounds = [bound for bound, _ in buckets]
            counts = [count for _, count in buckets]
            if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
                fail(f"{family.name}{dict(series)} bucket bounds are not increasing: {bounds}")
            if counts != sorted(counts):
                fail(f"{family.name}{dict(series)} buckets are not cumulative: {counts}")
            if entry["count"] != counts[-1]:
                fail(f"{family.name}{dict(series)} _count {entry['count']} differs from +Inf bucket {counts[-1]}")


def main():
    text = sys.stdin.read()
    check_lines(text)
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as error:  # the parser raises ValueError and others on bad input
        fail(f"prometheus_client could not parse the exposition: {error!r}")
    check_families(families)
    if "--json" in sys.argv[1:]:
        print(json.dumps([{"name": sample.name, "labels": sample.labels, "value": sample.value}
                          for family in families for sample in family.samples]))
        return
    for family in families:
        print(f"{family.name} {family.type} {len(family.samples)} samples")
    print(f"check_exposition: {len(families)} families parsed")


if __name__ == "__main__":
    main()
