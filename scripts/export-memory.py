#!/usr/bin/env python3
"""Memory of a large CSV export, measured (not timed) on the release binary, loopback only.

Creates an organization through the API, adds N drivers straight into its SQLite database
(copies of the admin's row with new ids, emails and names), then downloads
/export/drivers.csv while sampling the gateway's RSS. Prints RSS before, at the peak of the
download, the rows received and the bytes.

Usage: scripts/export-memory.py [path/to/lastmile]   (N: EXPORT_ROWS, default 50,000)
Only the Python standard library is used.
"""

import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

ROWS = int(os.environ.get("EXPORT_ROWS", "50000"))


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


def gql(port: int, query: str, variables: dict, token: str = "") -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def seed(db: str) -> None:
    """N copies of the admin's membership row as ACTIVE drivers, in one transaction."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    admin = conn.execute("SELECT * FROM users LIMIT 1").fetchone()
    columns = admin.keys()
    rows = []
    for i in range(ROWS):
        row = dict(admin)
        row["id"] = str(uuid.uuid7()) if hasattr(uuid, "uuid7") else str(uuid.uuid1())
        if isinstance(admin["id"], bytes):
            row["id"] = uuid.UUID(row["id"]).bytes
        row["email"] = f"driver-{i}@example.test"
        row["first_name"] = f"Driver{i}"
        row["last_name"] = "Load, \"quoted\""
        row["account_id"] = None
        row["is_admin"] = 0
        row["is_dispatcher"] = 0
        row["is_driver"] = 1
        rows.append(tuple(row[c] for c in columns))
    placeholders = ",".join("?" for _ in columns)
    conn.executemany(f"INSERT INTO users ({','.join(columns)}) VALUES ({placeholders})", rows)
    conn.commit()
    conn.close()


def main() -> None:
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    binary = sys.argv[1] if len(sys.argv) > 1 else f"{target}/release/lastmile"
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        db = f"{tmp}/export.db"
        env = dict(os.environ, LISTEN_ADDR=f"127.0.0.1:{port}", DATABASE_URL=f"sqlite://{db}?mode=rwc",
                   MAIL_DIR=f"{tmp}/mail", RUST_LOG="warn")
        env.pop("REDIS_URL", None)
        server = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        sys.exit("the gateway did not start")
                    time.sleep(0.2)
            created = gql(port, """mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { accessToken } }""",
                          {"i": {"name": "Export Load", "adminFirstName": "Ada", "adminLastName": "Admin",
                                 "adminEmail": "ada@export.test", "adminPassword": "a long password"}})
            token = created["data"]["createOrganization"]["accessToken"]
            seed(db)
            before = rss_mib(server.pid)
            peak = before
            done = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, rss_mib(server.pid))
                    time.sleep(0.01)

            sampler = threading.Thread(target=sample)
            sampler.start()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/export/drivers.csv",
                                             headers={"Authorization": f"Bearer {token}"})
            received, lines = 0, 0
            with urllib.request.urlopen(request, timeout=300) as response:
                while chunk := response.read(64 * 1024):
                    received += len(chunk)
                    lines += chunk.count(b"\n")
            done.set()
            sampler.join()
            print(f"export of {ROWS} drivers: {lines} lines, {received / 1e6:.1f} MB; "
                  f"RSS before {before:.0f} MiB, peak during the download {peak:.0f} MiB")
        finally:
            server.terminate()
            server.wait(timeout=15)


if __name__ == "__main__":
    main()
