"""Long-poll figures: memory and threads added by N concurrent waiters, and the time to answer them
all after a new version. The real agent in local mode; N clients on loopback, each one connection.
The agent is $AGENT_BINARY, else .build/release/appconfig-agent.

    python3 bench/longpoll.py [--waiters 1000]
"""
import argparse, asyncio, os, re, signal, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENT = os.environ.get("AGENT_BINARY") or os.path.join(ROOT, ".build", "release", "appconfig-agent")
PATH = "/applications/app/environments/env/configurations/cfg"


def status_field(pid, name):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(name + r":\s+(\d+)", f.read()).group(1))


def rss_kib(pid):
    return status_field(pid, "VmRSS")


def threads(pid):
    return status_field(pid, "Threads")


async def request(port, headers=""):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {PATH}?wait=60s HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
    await writer.drain()
    return reader, writer


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--waiters", type=int, default=1000)
    args = parser.parse_args()
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.waiters + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.waiters + 64), hard))
    directory = tempfile.mkdtemp()
    config = os.path.join(directory, "app:env:cfg.json")
    with open(config, "w") as f:
        f.write('{"v":1}')
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, LOCAL_DEVELOPMENT_DIRECTORY=directory, HTTP_PORT=str(port), POLL_INTERVAL="1h", LOG_LEVEL="warn")
    agent = subprocess.Popen([AGENT], env=env)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.02)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {PATH} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        etag = re.search(r"ETag: (.*)\r\n", head).group(1)
        writer.close()
        await asyncio.sleep(0.5)
        before, threads_before = rss_kib(agent.pid), threads(agent.pid)
        clients = [await request(port, f"If-None-Match: {etag}\r\n") for _ in range(args.waiters)]
        await asyncio.sleep(1.0)
        during, threads_during = rss_kib(agent.pid), threads(agent.pid)
        with open(config, "w") as f:
            f.write('{"v":2}')
        changed = time.monotonic()
        agent.send_signal(signal.SIGHUP)  # re-read the directory now

        async def answered(reader):
            line = await reader.readline()
            return line.startswith(b"HTTP/1.1 200"), time.monotonic()

        results = await asyncio.gather(*(answered(r) for r, _ in clients))
        first = min(t for _, t in results) - changed
        last = max(t for _, t in results) - changed
        ok = sum(1 for good, _ in results if good)
        for _, w in clients:
            w.close()
        print(f"{args.waiters} long-poll waiters: RSS {before / 1024:.1f} MiB before, {during / 1024:.1f} MiB while waiting "
              f"(+{(during - before) / 1024:.2f} MiB, {(during - before) * 1024 / args.waiters:.0f} bytes each)")
        print(f"threads: {threads_before} before, {threads_during} while {args.waiters} wait")
        print(f"file changed + SIGHUP to all {ok}/{args.waiters} waiters answered 200: {last * 1000:.0f} ms "
              f"(includes the directory re-read); first to last answer: {(last - first) * 1000:.0f} ms")
    finally:
        agent.terminate()
        agent.wait()


asyncio.run(main())
