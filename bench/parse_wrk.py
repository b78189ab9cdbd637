"""Reads wrk --latency output on stdin; prints 'name requests_per_second p99_ms'."""
import re, sys

name = sys.argv[1]
text = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", text).groups()
p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
if errors:
    sys.exit(f"{name}: {errors.group(1)} error responses")
print(name, rps, p99)
