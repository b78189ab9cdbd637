"""Time from exec of the agent to its first answer on /ping, median of several starts, in ms."""
import os, socket, statistics, subprocess, sys, time

binary, config = sys.argv[1], sys.argv[2]
port = 27730
samples = []
for _ in range(7):
    env = dict(os.environ, LOCAL_DEVELOPMENT_DIRECTORY=config, HTTP_PORT=str(port), LOG_LEVEL="error")
    start = time.monotonic()
    proc = subprocess.Popen([binary], env=env)
    try:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                time.sleep(0.0005)
            if time.monotonic() - start > 5:
                sys.exit("agent did not answer /ping within 5 s")
        samples.append((time.monotonic() - start) * 1000)
    finally:
        proc.terminate()
        proc.wait()
print(f"{statistics.median(samples):.1f}")
