"""Crash consistency of writeTo: the real agent (local development mode, a manifest with writeTo)
is fed a stream of new versions of a 256 KiB configuration and killed with SIGKILL at random moments,
then restarted, while a reader checks that every read of the written file is one complete version.

    python3 -m unittest discover -s Tests/Crash      (WRITES=1000 by default)

Prints the figures: writes made, reads checked, torn reads, the time from a version's arrival in
the agent to its file on disk (from the agent's own log lines), and the time from publishing a
version (file renamed into place, SIGHUP sent) to the reader first seeing it in the written file.
"""
import os, random, re, signal, statistics, subprocess, tempfile, threading, time, unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AGENT = os.environ.get("AGENT_BINARY", os.path.join(ROOT, ".build", "debug", "appconfig-agent"))
SIZE = 256 << 10
WRITES = int(os.environ.get("WRITES", "1000"))


def content(version):
    head = f"v={version:08d};".encode()
    tail = f";end={version:08d}".encode()
    filler = bytes([97 + version % 26]) * (SIZE - len(head) - len(tail))
    return head + filler + tail


def check(data):
    """The version when `data` is one complete version, else None."""
    if len(data) != SIZE or not data.startswith(b"v="):
        return None
    version = int(data[2:10])
    return version if data == content(version) else None


class CrashConsistencyTest(unittest.TestCase):
    def test_no_torn_reads_across_sigkill(self):
        work = tempfile.mkdtemp()
        os.chmod(work, 0o700)
        source_dir = os.path.join(work, "config")
        os.mkdir(source_dir, 0o700)
        target = os.path.join(work, "out", "big.conf")
        source = os.path.join(source_dir, "app:env:big.txt")

        def publish(version):
            tmp = os.path.join(source_dir, ".next")
            with open(tmp, "wb") as f:
                f.write(content(version))
            os.rename(tmp, source)  # the agent never sees a half-written source

        publish(0)
        env = dict(os.environ, LOCAL_DEVELOPMENT_DIRECTORY=source_dir, HTTP_PORT="0", POLL_INTERVAL="1h",
                   LOG_LEVEL="info", MANIFEST='{"app:env:big": {"writeTo": {"path": "%s"}}}' % target)
        logs = []
        stop = threading.Event()
        reads = {"checked": 0, "torn": 0}
        published, first_seen = {}, {}

        def reader():
            while not stop.is_set():
                try:
                    with open(target, "rb") as f:
                        data = f.read()
                except FileNotFoundError:
                    continue
                reads["checked"] += 1
                seen = check(data)
                if seen is None:
                    reads["torn"] += 1
                elif seen not in first_seen:
                    first_seen[seen] = time.monotonic()

        def start():
            log = open(os.path.join(work, f"agent-{len(logs)}.log"), "w+")
            logs.append(log)
            return subprocess.Popen([AGENT], env=env, stdout=log, stderr=log)

        finished = {"writes": 0}

        def count(log):
            with open(log.name) as f:
                return f.read().count("wrote configuration 'app:env:big'")

        def writes_so_far():
            return finished["writes"] + count(logs[-1])

        agent = start()
        time.sleep(0.5)
        threading.Thread(target=reader, daemon=True).start()
        version = 0
        kills = 0
        deadline = time.monotonic() + 600
        try:
            while time.monotonic() < deadline:
                if version % 25 == 0 and writes_so_far() >= WRITES:
                    break
                version += 1
                publish(version)
                published[version] = time.monotonic()
                agent.send_signal(signal.SIGHUP)
                time.sleep(0.004)
                if random.random() < 0.01:
                    agent.send_signal(signal.SIGKILL)  # mid-write, wherever it is
                    agent.wait()
                    kills += 1
                    finished["writes"] += count(logs[-1])
                    agent = start()
                    time.sleep(0.3)
        finally:
            stop.set()
            agent.terminate()
            agent.wait()
        writes = finished["writes"] + count(logs[-1])
        delays = []
        for log in logs:
            with open(log.name) as f:
                delays += [int(m) for m in re.findall(r"(\d+)ms after it arrived", f.read())]
        with open(target, "rb") as f:
            final = check(f.read())
        leftovers = [n for n in os.listdir(os.path.dirname(target)) if n.startswith(".")]
        end_to_end = sorted(first_seen[v] - published[v] for v in first_seen if v in published)
        self.assertTrue(delays and end_to_end, "no write was logged or seen")

        def spread(values, unit=1):
            ordered = sorted(values)
            return (f"median {statistics.median(ordered) * unit:.1f} ms, "
                    f"p99 {ordered[max(int(len(ordered) * 0.99) - 1, 0)] * unit:.1f} ms, max {ordered[-1] * unit:.1f} ms")

        print(f"\ncrash test: {writes} writes of 256 KiB, {kills} SIGKILLs, {reads['checked']} reads checked, "
              f"{reads['torn']} torn; version arrived in the agent to file on disk: {spread(delays)}; "
              f"published + SIGHUP to seen by the reader ({len(end_to_end)} versions): {spread(end_to_end, 1000)}")
        self.assertGreaterEqual(writes, WRITES)
        self.assertGreater(kills, 0)
        self.assertGreater(reads["checked"], 0)
        self.assertEqual(reads["torn"], 0)
        self.assertIsNotNone(final)
        # Temporary files of writes cut short by SIGKILL may remain; they are hidden (dot) files,
        # never the target, and carry the same 0600 mode.
        for name in leftovers:
            self.assertEqual(os.stat(os.path.join(os.path.dirname(target), name)).st_mode & 0o777, 0o600)


if __name__ == "__main__":
    unittest.main()
