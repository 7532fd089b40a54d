#!/usr/bin/env python3
"""Idle keep-alive connections: what one costs the gateway in memory, by the size of the last
request it carried.

A load balancer keeps a pool of connections to each gateway and reuses them for hours; each sits
idle between requests. What an idle connection holds is RSS that stays. For each request size,
a fresh gateway (one worker, the in-process mock, which echoes the request's text back, so the
answer is as large as the request) gets N connections; each sends one chat request, reads the
answer and stays open. After IDLE_SECONDS (3; a connection idle for a second is parked), the RSS
growth over N is the memory per idle connection (kernel socket buffers are not in it).

Traffic goes to 127.0.0.1 only; every socket operation has a 10 s timeout, every connection is
closed and the gateway stopped at the end (about 20 s). Usage (after `cargo build --release`):

    python3 loadtest/idle_connections.py            # sizes 200 B, 10 KB, 100 KB, 1 MB
    N=500 SIZES=1000,100000 python3 loadtest/idle_connections.py

Binary: $SLUICE_BIN, else target/release/sluice.
"""
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time

from scaling import free_port, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLUICE = os.environ.get("SLUICE_BIN", os.path.join(ROOT, "target/release/sluice"))
N = int(os.environ.get("N", "1000"))
SIZES = [int(s) for s in os.environ.get("SIZES", "200,10000,100000,1000000").split(",")]
# The largest sizes get fewer connections: N x 1 MB of buffers is not the question.
MAX_BYTES_HELD = 512 * 1024 * 1024
IDLE_SECONDS = float(os.environ.get("IDLE_SECONDS", "3"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit(f"no VmRSS for pid {pid}")


def chat_request(size):
    body = json.dumps({"model": "mock-model", "messages": [{"role": "user", "content": "x" * size}]}).encode()
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer sk-idle\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


def exchange(sock, request):
    """Sends one request and reads its whole answer (a content-length one); the socket stays."""
    sock.sendall(request)
    data = b""
    while True:
        piece = sock.recv(1 << 20)
        if not piece:
            raise SystemExit("the gateway closed a connection")
        data += piece
        head, sep, body = data.partition(b"\r\n\r\n")
        if not sep:
            continue
        if not head.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"not a 200: {head[:200]!r}")
        lengths = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
        if lengths and len(body) >= lengths[0]:
            return


def measure(size, n):
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as cfg:
        cfg.write(
            f'[server]\nlisten = "127.0.0.1:{port}"\nworkers = 1\nmax_connections = {n + 100}\n'
            f'max_body_bytes = {2 * size + 65536}\n'
            '[routing]\ndefault_provider = "mock"\n'
            '[[providers]]\nname = "mock"\nkind = "mock"\nmodels = ["mock-model"]\n'
        )
    gateway = subprocess.Popen([SLUICE, "--config", cfg.name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socks = []
    try:
        wait_for(port)
        request = chat_request(size)
        # Warm: the worker's first requests allocate what every later one reuses.
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                exchange(s, request)
        # As long as after the connections below: what the warm-up freed is given back (or
        # not) alike in both readings.
        time.sleep(IDLE_SECONDS)
        before = rss_kib(gateway.pid)
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            socks.append(s)
            exchange(s, request)
        # Past the time after which an idle connection is parked (`PARK_AFTER`, 1 s).
        time.sleep(IDLE_SECONDS)
        after = rss_kib(gateway.pid)
        return (after - before) * 1024 / n, len(request)
    finally:
        for s in socks:
            s.close()
        gateway.terminate()
        gateway.wait(timeout=15)
        os.unlink(cfg.name)


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, N + 1000)), hard))
    print(f"gateway {SLUICE}")
    print("| request text | request on the wire | connections | RSS per idle connection |")
    print("|---:|---:|---:|---:|")
    for size in SIZES:
        n = max(10, min(N, MAX_BYTES_HELD // (4 * size)))
        per_conn, wire = measure(size, n)
        print(f"| {size:,} B | {wire:,} B | {n:,} | {per_conn / 1024:,.1f} KiB |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
