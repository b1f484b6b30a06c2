#!/usr/bin/env python3
"""Clients for scripts/chaos.sh (standard library only). Each command prints one line of key=value figures.

  clients.py queue --port P --clients N --path PATH --signal-pid PID [--timeout S]
        N one-shot clients connect (so they wait in the listening socket's queue) and send GET PATH; then PID
        gets SIGTERM, and each client reads its whole response: served, reset, empty, timeout or other
  clients.py slowheads --port P --clients N [--probe-timeout S]
        N clients send half a request head and stay; then one GET /hello on a new connection is timed
  clients.py fill --port P --conns N [--probe-timeout S]
        N keep-alive connections, each answered once and then left idle; then one GET /hello is timed
  clients.py resets --port P --path PATH --clients N [--after BYTES]
        N downloads of PATH, each reset (SO_LINGER 0, then close) once BYTES have arrived
  clients.py who --port P --master PID --requests N
        N GET /worker, one connection each: how many were answered by PID's workers and how many by another
"""
import asyncio
import os
import re
import signal
import socket
import struct
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from tools import descendants, get_worker_pid, opt  # noqa: E402

HOST = "127.0.0.1"


def request(path, close=True):
    return (f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n" + ("Connection: close\r\n" if close else "") + "\r\n").encode()


def content_length(head):
    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    return int(m.group(1)) if m else None


def classify(data):
    """A one-shot response read to end-of-file: 'served' only when it is a whole 200."""
    if not data:
        return "empty"
    head, sep, body = data.partition(b"\r\n\r\n")
    if sep and head.startswith(b"HTTP/1.1 200") and content_length(head) == len(body):
        return "served"
    return "other"


async def read_all(reader, timeout):
    try:
        return classify(await asyncio.wait_for(reader.read(), timeout))
    except ConnectionResetError:
        return "reset"
    except asyncio.TimeoutError:
        return "timeout"
    except OSError:
        return "other"


async def connect(port, timeout=10):
    try:
        return await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
    except (OSError, asyncio.TimeoutError):
        return None


async def probe(port, timeout):
    """One GET /hello on a new connection: its outcome and how long it took (ms)."""
    t0 = time.perf_counter()
    conn = await connect(port, timeout)
    if conn is None:
        return "refused", (time.perf_counter() - t0) * 1000
    reader, writer = conn
    writer.write(request("/hello"))
    outcome = await read_all(reader, max(0.0, timeout - (time.perf_counter() - t0)))
    writer.close()
    return outcome, (time.perf_counter() - t0) * 1000


def close_all(writers):
    for w in writers:
        w.close()


# ------------------------------------------------------------------------------------------------ queue
async def queue(port, n, path, pid, timeout):
    conns = [c for c in await asyncio.gather(*(connect(port) for _ in range(n))) if c]
    for _, w in conns:
        w.write(request(path))
    await asyncio.gather(*(w.drain() for _, w in conns), return_exceptions=True)
    # All are connected and have sent: the workers hold the first ones, the rest wait in the queue.
    await asyncio.sleep(0.1)
    os.kill(pid, signal.SIGTERM)
    counts = Counter(await asyncio.gather(*(read_all(r, timeout) for r, _ in conns)))
    close_all(w for _, w in conns)
    print(f"QUEUE clients={n} connected={len(conns)} served={counts['served']} reset={counts['reset']} "
          f"empty={counts['empty']} timeout={counts['timeout']} other={counts['other']}")


# ------------------------------------------------------------------------------------------------ slowheads
async def slowheads(port, n, probe_timeout):
    conns = [c for c in await asyncio.gather(*(connect(port) for _ in range(n))) if c]
    for _, w in conns:
        w.write(f"GET /hello HTTP/1.1\r\nHost: {HOST}\r\n".encode())  # no empty line: the head never ends
    await asyncio.gather(*(w.drain() for _, w in conns), return_exceptions=True)
    await asyncio.sleep(0.2)
    outcome, ms = await probe(port, probe_timeout)
    close_all(w for _, w in conns)
    print(f"SLOW clients={n} connected={len(conns)} probe={outcome} probe_ms={ms:.0f}")


# ------------------------------------------------------------------------------------------------ fill
async def answered_once(port):
    """A keep-alive connection whose first request got its whole 200, left open; None if not."""
    conn = await connect(port, 5)
    if conn is None:
        return None
    reader, writer = conn
    try:
        writer.write(request("/hello", close=False))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        await asyncio.wait_for(reader.readexactly(content_length(head) or 0), 5)
        if head.startswith(b"HTTP/1.1 200") and b"connection: close" not in head.lower():
            return writer
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    writer.close()
    return None


async def fill(port, n, probe_timeout):
    idle = [w for w in await asyncio.gather(*(answered_once(port) for _ in range(n))) if w]
    outcome, ms = await probe(port, probe_timeout)
    close_all(idle)
    print(f"FILL conns={n} idle={len(idle)} probe={outcome} probe_ms={ms:.0f}")


# ------------------------------------------------------------------------------------------------ resets
def resets(port, path, n, after):
    cut = 0
    for _ in range(n):
        with socket.create_connection((HOST, port), timeout=5) as s:
            s.sendall(request(path, close=False))
            got = 0
            while got < after:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += len(chunk)
            # Linger 0: close() sends RST instead of FIN, as a client that crashes or gives up does.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            cut += got >= after
    print(f"RESETS clients={n} cut_mid_body={cut}")


# ------------------------------------------------------------------------------------------------ who
def who(port, master, n):
    mine = set(descendants(master))
    counts = Counter()
    for _ in range(n):
        pid = get_worker_pid(port, timeout=2)
        counts["failed" if pid is None else "first" if pid in mine else "other"] += 1
    print(f"WHO requests={n} first={counts['first']} other={counts['other']} failed={counts['failed']}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    port = opt(args, "--port", conv=int)
    if cmd == "queue":
        asyncio.run(queue(port, opt(args, "--clients", conv=int), opt(args, "--path"),
                          opt(args, "--signal-pid", conv=int), opt(args, "--timeout", 30.0, float)))
    elif cmd == "slowheads":
        asyncio.run(slowheads(port, opt(args, "--clients", conv=int), opt(args, "--probe-timeout", 3.0, float)))
    elif cmd == "fill":
        asyncio.run(fill(port, opt(args, "--conns", conv=int), opt(args, "--probe-timeout", 3.0, float)))
    elif cmd == "resets":
        resets(port, opt(args, "--path"), opt(args, "--clients", conv=int), opt(args, "--after", 262144, int))
    elif cmd == "who":
        who(port, opt(args, "--master", conv=int), opt(args, "--requests", conv=int))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
