#!/usr/bin/env python3
"""Hostile load against the release binary, on loopback only, bounded in count and time.

Prints, for the closing numbers of the hardening work:
  * RSS of the gateway before, at the peak of, and 30 s after N concurrent sign-ins
    (default 500, distinct well-formed emails, so every one is hashed or refused busy);
  * how long M half-sent connections (default 2,000) live, and whether a normal client is
    served meanwhile.

Usage: scripts/hostile-load.py [path/to/lastmile] (default: $CARGO_TARGET_DIR/release/lastmile)
Only the Python standard library is used.
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

SIGN_INS = int(os.environ.get("SIGN_INS", "500"))
SLOW = int(os.environ.get("SLOW_CONNECTIONS", "2000"))
SETTLE = float(os.environ.get("SETTLE_SECONDS", "30"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def post(port: int, body: dict, timeout: float = 60) -> dict:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    payload = json.dumps(body).encode()
    writer.write(
        b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
        + payload
    )
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), timeout)
    writer.close()
    head, _, rest = raw.partition(b"\r\n\r\n")
    if b"chunked" in head.lower():
        body_bytes, data = b"", rest
        while data:
            size_line, _, data = data.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            body_bytes, data = body_bytes + data[:size], data[size + 2 :]
        rest = body_bytes
    return json.loads(rest)


async def healthz(port: int, timeout: float = 5) -> bool:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout)
        writer.close()
        return raw.startswith(b"HTTP/1.1 200")
    except (OSError, asyncio.TimeoutError):
        return False


async def sign_ins(port: int, pid: int) -> None:
    before = rss_mib(pid)
    peak = before
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mib(pid))
            await asyncio.sleep(0.02)

    query = "mutation($e: String!) { signIn(email: $e, password: \"wrong password\") { accessToken } }"
    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    answers = await asyncio.gather(
        *(post(port, {"query": query, "variables": {"e": f"load-{i}@example.test"}}) for i in range(SIGN_INS)),
        return_exceptions=True,
    )
    elapsed = time.monotonic() - started
    done.set()
    await sampler
    codes: dict = {}
    for a in answers:
        code = "transport error" if isinstance(a, Exception) else a["errors"][0]["extensions"]["code"]
        codes[code] = codes.get(code, 0) + 1
    await asyncio.sleep(SETTLE)
    after = rss_mib(pid)
    print(f"{SIGN_INS} concurrent sign-ins in {elapsed:.1f} s: {codes}")
    print(f"RSS before {before:.0f} MiB, peak {peak:.0f} MiB, {SETTLE:.0f} s after {after:.0f} MiB")


async def slow_connections(port: int) -> None:
    writers = []
    for _ in range(SLOW):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        writers.append((reader, writer))
    opened = time.monotonic()
    served = await healthz(port)

    async def lifetime(reader) -> float:
        try:
            await asyncio.wait_for(reader.read(), 120)
        except (OSError, asyncio.TimeoutError):
            pass
        return time.monotonic() - opened

    lives = sorted(await asyncio.gather(*(lifetime(r) for r, _ in writers)))
    for _, w in writers:
        w.close()
    print(
        f"{SLOW} half-sent connections: a normal client was {'served' if served else 'NOT served'} "
        f"meanwhile; they lived {lives[0]:.1f} s (first closed) to {lives[-1]:.1f} s (last closed)"
    )


def main() -> None:
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    binary = sys.argv[1] if len(sys.argv) > 1 else f"{target}/release/lastmile"
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            LISTEN_ADDR=f"127.0.0.1:{port}",
            DATABASE_URL=f"sqlite://{tmp}/load.db?mode=rwc",
            MAIL_DIR=f"{tmp}/mail",
            CLIENT_CREDENTIAL_ATTEMPTS="1000000",
            RUST_LOG="warn",
        )
        env.pop("REDIS_URL", None)
        server = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not asyncio.run(healthz(port, 1)):
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("the gateway did not start")
                time.sleep(0.2)
            asyncio.run(sign_ins(port, server.pid))
            asyncio.run(slow_connections(port))
            print("gateway alive:", asyncio.run(healthz(port)))
        finally:
            server.terminate()
            server.wait(timeout=15)


if __name__ == "__main__":
    main()
