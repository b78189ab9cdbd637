"""Long-poll figures: memory added by N concurrent waiters and the time from a new version to all
of them answered. The real agent in local mode; N clients on loopback, each one connection.

    python3 bench/longpoll.py [--waiters 1000]
"""
import argparse, asyncio, os, re, signal, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENT = os.path.join(ROOT, ".build", "release", "appconfig-agent")
PATH = "/applications/app/environments/env/configurations/cfg"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


async def request(port, headers=""):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {PATH}?wait=60s HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
    await writer.drain()
    return reader, writer


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--waiters", type=int, default=1000)
    args = parser.parse_args()
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
        before = rss_kib(agent.pid)
        clients = [await request(port, f"If-None-Match: {etag}\r\n") for _ in range(args.waiters)]
        await asyncio.sleep(1.0)
        during = rss_kib(agent.pid)
        with open(config, "w") as f:
            f.write('{"v":2}')
        changed = time.monotonic()
        agent.send_signal(signal.SIGHUP)  # re-read the directory now

        async def answered(reader):
            line = await reader.readline()
            return line.startswith(b"HTTP/1.1 200"), time.monotonic()

        results = await asyncio.gather(*(answered(r) for r, _ in clients))
        last = max(t for _, t in results) - changed
        ok = sum(1 for good, _ in results if good)
        for _, w in clients:
            w.close()
        print(f"{args.waiters} long-poll waiters: RSS {before / 1024:.1f} MiB before, {during / 1024:.1f} MiB while waiting "
              f"(+{(during - before) / 1024:.2f} MiB, {(during - before) * 1024 / args.waiters:.0f} bytes each)")
        print(f"new version to all {ok}/{args.waiters} waiters answered 200: {last * 1000:.0f} ms (file change + SIGHUP re-read included)")
    finally:
        agent.terminate()
        agent.wait()


asyncio.run(main())
