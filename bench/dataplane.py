"""Data-plane figures: the real agent against the fake AppConfig Data service on loopback.

    python3 bench/dataplane.py [--minutes 10] [--throttle-minutes 5]

Runs four checks side by side, each with its own fake service and agent, and prints:
- GetLatestConfiguration calls per configuration per hour at POLL_INTERVAL=15 (goal 240 +- 2),
  from the mean spacing of the polls of 3 configurations over --minutes;
- the call rate under --throttle-minutes of 100 % throttling (every call answered 429);
- the time from a new deployment to the agent serving it (goal <= interval + 1 s), 8 samples;
- the time to prefetch 100 configurations at MAX_CONNECTIONS=3.
"""
import argparse, json, os, random, re, signal, socket, statistics, subprocess, sys, threading, time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENT = os.path.join(ROOT, ".build", "release", "appconfig-agent")
FAKE = os.path.join(ROOT, "Tests", "Fakes", "fake_aws.py")


class Fake:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, FAKE, "--port", "0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        self.port = int(re.search(r"FAKE_AWS_PORT=(\d+)", line).group(1))

    def admin(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/_admin/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def put(self, profile, content, label=None):
        body = {"content": content, "content_type": "text/plain"}
        if label:
            body["version_label"] = label
        self.admin("PUT", f"configurations/app/env/{profile}", body)

    def calls(self, path):
        return [c for c in self.admin("GET", "calls") if c["path"] == path]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agent:
    def __init__(self, fake, **env):
        self.port = free_port()
        full = dict(os.environ, AWS_ENDPOINT_URL=f"http://127.0.0.1:{fake.port}", SERVICE_REGION="us-east-1",
                    AWS_ACCESS_KEY_ID="AKIDFAKE", AWS_SECRET_ACCESS_KEY="fake-secret-key",
                    AWS_EC2_METADATA_DISABLED="true", HTTP_PORT=str(self.port), LOG_LEVEL="warn")
        full.update(env)
        self.proc = subprocess.Popen([AGENT], env=full, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                self.get("/ping")
                return
            except OSError:
                time.sleep(0.02)
        raise SystemExit("agent did not start")

    def get(self, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
            return r.status, r.read(), dict(r.headers)

    def config(self, profile):
        try:
            return self.get(f"/applications/app/environments/env/configurations/{profile}")
        except urllib.error.HTTPError as e:
            return e.code, b"", {}

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait()


results = {}


def poll_rate(minutes):
    fake = Fake()
    profiles = [f"p{i}" for i in range(3)]
    for p in profiles:
        fake.put(p, "x")
    agent = Agent(fake, POLL_INTERVAL="15", PREFETCH_LIST=",".join(f"app:env:{p}" for p in profiles))
    time.sleep(minutes * 60)
    calls = fake.calls("/configuration")
    agent.stop()
    fake.stop()
    rates = []
    for p in profiles:
        times = sorted(c["t"] for c in calls if c.get("profile") == p)
        gaps = [b - a for a, b in zip(times[1:], times[2:])]  # skip the first gap (start-up jitter)
        rates.append(3600 / statistics.mean(gaps))
    results["polls_per_hour"] = (rates, sum(len([c for c in calls if c.get("profile") == p]) for p in profiles))


def throttle_rate(minutes):
    fake = Fake()
    fake.put("t", "x")
    agent = Agent(fake, POLL_INTERVAL="15", PREFETCH_LIST="app:env:t")
    while agent.config("t")[0] != 200:
        time.sleep(0.05)
    fake.admin("DELETE", "calls")
    fake.admin("POST", "faults", {"match": {"service": "appconfig"}, "kind": "throttle"})
    time.sleep(minutes * 60)
    calls = fake.admin("GET", "calls")
    still_served = agent.config("t")[0] == 200
    agent.stop()
    fake.stop()
    results["throttled"] = (len(calls), minutes, still_served)


def deployment_latency(samples):
    fake = Fake()
    fake.put("d", "v0", label="0")
    agent = Agent(fake, POLL_INTERVAL="15", PREFETCH_LIST="app:env:d")
    while agent.config("d")[0] != 200:
        time.sleep(0.05)
    latencies = []
    for i in range(1, samples + 1):
        time.sleep(random.uniform(0, 15))
        fake.put("d", f"v{i}", label=str(i))
        deployed = time.monotonic()
        while agent.config("d")[2].get("Version-Label") != str(i):
            time.sleep(0.01)
        latencies.append(time.monotonic() - deployed)
    agent.stop()
    fake.stop()
    results["deployment"] = latencies


def prefetch_time(count):
    fake = Fake()
    for i in range(count):
        fake.put(f"c{i}", f"config {i}")
    started = time.monotonic()
    agent = Agent(fake, MAX_CONNECTIONS="3", PREFETCH_LIST=",".join(f"app:env:c{i}" for i in range(count)))
    while True:
        if all(agent.config(f"c{i}")[0] == 200 for i in range(count - 1, -1, -1)):
            break
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    agent.stop()
    fake.stop()
    results["prefetch"] = (count, elapsed)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--throttle-minutes", type=float, default=5)
    parser.add_argument("--samples", type=int, default=8)
    args = parser.parse_args()
    checks = [threading.Thread(target=poll_rate, args=(args.minutes,)),
              threading.Thread(target=throttle_rate, args=(args.throttle_minutes,)),
              threading.Thread(target=deployment_latency, args=(args.samples,)),
              threading.Thread(target=prefetch_time, args=(100,))]
    for t in checks:
        t.start()
    for t in checks:
        t.join()
    rates, total = results["polls_per_hour"]
    print(f"polls per configuration per hour at POLL_INTERVAL=15: "
          f"{', '.join(f'{r:.1f}' for r in rates)} ({total} polls over {args.minutes:g} min; goal 240 +- 2)")
    n, minutes, served = results["throttled"]
    print(f"calls under {minutes:g} min of 100% throttling: {n} ({n / minutes:.1f}/min; "
          f"last good configuration still served: {served})")
    lat = results["deployment"]
    print(f"new deployment to served (POLL_INTERVAL=15): median {statistics.median(lat):.2f} s, "
          f"max {max(lat):.2f} s over {len(lat)} samples (goal <= 16 s)")
    count, elapsed = results["prefetch"]
    print(f"prefetch of {count} configurations at MAX_CONNECTIONS=3: {elapsed:.2f} s")


if __name__ == "__main__":
    main()
