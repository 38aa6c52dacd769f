"""Load test of `pocketecg serve`'s POST /api/predict on loopback: throughput, latency and peak memory.

    .venv/bin/python benchmarks/load_server.py [--requests 200] [--out benchmarks/results/load_server.json]

For each concurrency (1, 8, 32) a fresh server process starts (`pocketecg serve`, the shipped fp32 model),
`concurrency` clients each hold one keep-alive connection and send the same record until `requests` uploads
are done, and a sampler reads the server's resident memory from /proc every 20 ms. The record is the
largest CPSC 2018 original in ../shared/data (a 2.4 MB .mat, ~100 s), or a synthetic 60-s CSV when that
folder is absent. Bounded: loopback only, a fixed number of requests, every request with a 120-s timeout.
Linux only (reads /proc). Needs the page's runtime (`make web`), as `pocketecg serve` does.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_RECORD = ROOT.parent / "shared" / "data" / "cpsc2018" / "original" / "A1988.mat"


def payload_file(tmp: Path) -> Path:
    if SHARED_RECORD.exists():
        return SHARED_RECORD
    sys.path.insert(0, str(ROOT / "tests"))
    import ecg_files as F

    return F.write_csv(tmp / "synthetic-60s.csv", F.signal(seconds=60.0), fs=500)


def multipart(path: Path) -> tuple[bytes, dict]:
    boundary = "pocketecgloadtest"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + path.read_bytes() + \
        f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(port: int) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("pocketecg")
    server = subprocess.Popen([str(exe), "serve", "--port", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"pocketecg serve exited: {server.stderr.read()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("pocketecg serve did not start within 120 s")


def run_level(concurrency: int, requests: int, body: bytes, headers: dict) -> dict:
    port = free_port()
    server = start_server(port)
    idle_mib = rss_mib(server.pid)
    peak = [idle_mib]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mib(server.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    counter = iter(range(requests))
    lock = threading.Lock()

    def client() -> list[tuple[int, float]]:
        done = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if next(counter, None) is None:
                    break
            started = time.perf_counter()
            try:
                conn.request("POST", "/api/predict", body, headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0  # connection failed: counted, and a new connection for the next one
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            done.append((status, time.perf_counter() - started))
        conn.close()
        return done

    try:
        sampler.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            results = [r for part in pool.map(lambda _: client(), range(concurrency)) for r in part]
        wall = time.perf_counter() - started
        stop.set()
        sampler.join()
        high_water = rss_mib(server.pid, "VmHWM")
    finally:
        server.terminate()
        server.wait(30)
    latencies = sorted(t for s, t in results if s == 200)
    statuses = {}
    for s, _ in results:
        statuses[str(s)] = statuses.get(str(s), 0) + 1

    def pct(p):
        return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else None

    row = {"concurrency": concurrency, "requests": len(results), "ok": len(latencies), "statuses": statuses,
           "wall_s": round(wall, 2), "throughput_per_s": round(len(latencies) / wall, 2),
           "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
           "p95_ms": pct(0.95), "max_ms": round(1000 * latencies[-1], 1) if latencies else None,
           "server_idle_rss_mib": round(idle_mib, 1), "server_peak_rss_mib": round(max(peak[0], high_water), 1)}
    print(f"concurrency {concurrency:>2}: {row['ok']}/{row['requests']} ok, {row['throughput_per_s']} /s, "
          f"p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, peak RSS {row['server_peak_rss_mib']} MiB "
          f"(idle {row['server_idle_rss_mib']})", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=200, help="uploads per concurrency level")
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/load_server.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        record = payload_file(Path(tmp))
        body, headers = multipart(record)
        rows = [run_level(int(c), args.requests, body, headers) for c in args.concurrency.split(",")]
    from pocketecg.app.server import MAX_IN_FLIGHT

    out = {"record": record.name, "upload_bytes": len(body), "records_in_work_at_once": MAX_IN_FLIGHT,
           "levels": rows, "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                       "python": platform.python_version()},
           "date": time.strftime("%Y-%m-%d")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
