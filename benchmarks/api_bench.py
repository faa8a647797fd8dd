"""Issue 6's API benchmark: one server process under load on loopback.

Run: ``.venv/bin/python benchmarks/api_bench.py`` (needs ``wrk``: ``apt-get install wrk``). It
serves a store (``NEMDASH_BENCH_STORE``, e.g. the five-year synthetic NEM; default: a small demo
store built in a temporary folder) with ``nemdash serve --no-collect`` (one worker), then:

* **cached series endpoints**: ``wrk`` with 32 connections for ``--seconds`` on each of a few
  series URLs (the second request onwards is served from the rendered-response cache): req/s,
  p50 and p99 latency, with ``Accept-Encoding: gzip`` as a browser sends it; and, as the baseline
  in the same run, a bare ASGI app on the same uvicorn (httptools, uvloop, one worker) answering
  two bytes: the ceiling of the server stack itself on this machine, against which each
  endpoint's rate is given as a share;
* **uncached one-week generation mix**: distinct weeks (so every request misses every cache),
  4 concurrent clients: req/s and p95.

Prints a Markdown section for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx

from nemdash.config import Settings
from nemdash.query.connection import Database
from nemdash.query.hotset import preset_range
from support import free_port, wait_serving

GZIP = "Accept-Encoding: gzip"
#: The baseline: the least an ASGI app can do, served by the same uvicorn as nemdash.
BARE_APP = """
import sys
import uvicorn

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def bare_floor(seconds: int) -> tuple[float, str, str]:
    """wrk against a bare ASGI app on the same uvicorn: the stack's own ceiling."""
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)])
    try:
        wait_serving(f"http://127.0.0.1:{port}/", bare, timeout=60)
        return wrk(f"http://127.0.0.1:{port}/", seconds)
    finally:
        bare.terminate()
        bare.wait(timeout=30)


def wrk(url: str, seconds: int, connections: int = 32) -> tuple[float, str, str]:
    """Requests/s, p50 and p99 of ``wrk`` against ``url``."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", GZIP, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"\s50%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"\s99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    if "Non-2xx" in out:
        raise RuntimeError(f"non-2xx answers from {url}:\n{out}")
    return rate, p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per URL")
    parser.add_argument("--uncached", type=int, default=40, help="uncached requests")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    store = os.environ.get("NEMDASH_BENCH_STORE")
    if store is None:
        from nemdash.demo.build import build_demo_store

        tmp = Path(tempfile.mkdtemp(prefix="nemdash-api-bench-"))
        base = Settings(data_dir=tmp / "real", demo_data_dir=tmp / "demo")
        data_dir = build_demo_store(base, days=30, units=450).settings.data_dir
    else:
        data_dir = Path(store)
    db = Database(Settings(data_dir=data_dir))
    week = preset_range(db, "7d")
    year = preset_range(db, "1y")
    span = preset_range(db, "all")
    if week is None or year is None or span is None:
        sys.exit(f"the store at {data_dir} is empty")
    db.close()
    port = free_port()
    env = {**os.environ, "NEMDASH_DATA_DIR": str(data_dir)}
    server = subprocess.Popen(
        [sys.executable, "-m", "nemdash.cli", "serve", "--no-collect", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_serving(f"{base_url}/status", server, timeout=120)

        def fmt(t: object) -> str:
            return t.isoformat(timespec="minutes")  # type: ignore[attr-defined]

        def q(t: object) -> str:
            return fmt(t).replace("+", "%2B")  # a literal + in a query string means a space

        urls = {
            "latest prices": f"{base_url}/prices/latest",
            "price series, 5 regions, 7 days": (
                f"{base_url}/prices/series?start={q(week[0])}&end={q(week[1])}"
            ),
            "NEM generation mix, 1 year": (
                f"{base_url}/generation/mix?start={q(year[0])}&end={q(year[1])}"
            ),
            "metadata/regions": f"{base_url}/metadata/regions",
        }
        floor, floor_p50, floor_p99 = bare_floor(args.seconds)
        lines = [
            "## API (issue 6): one server process, loopback, 32 connections",
            "",
            f"Store: {data_dir.name} ({span[0]:%Y-%m-%d} .. {span[1]:%Y-%m-%d}); one worker, "
            "uvicorn with httptools and uvloop. Command: `.venv/bin/python benchmarks/api_bench.py`"
            " (wrk -t2 -c32).",
            "",
            "| endpoint (cached after the first request) | req/s | p50 | p99 | of the floor |",
            "|---|---:|---:|---:|---:|",
        ]
        for label, url in urls.items():
            httpx.get(url, timeout=60).raise_for_status()  # warm the caches
            rate, p50, p99 = wrk(url, args.seconds)
            lines.append(f"| {label} | {rate:,.0f} | {p50} | {p99} | {rate / floor:.0%} |")
        lines.append(
            f"| baseline: a bare ASGI app on the same uvicorn | {floor:,.0f} | {floor_p50} | "
            f"{floor_p99} | 100% |"
        )
        # Uncached: every request a different week, so no cache layer can answer it.
        starts = [week[0] - timedelta(days=7 * (i + 1)) for i in range(args.uncached)]

        def one(start: object) -> float:
            end = start + timedelta(days=7)  # type: ignore[operator]
            began = time.perf_counter()
            answer = httpx.get(
                f"{base_url}/generation/mix",
                params={"start": fmt(start), "end": fmt(end)},
                timeout=120,
            )
            answer.raise_for_status()
            return time.perf_counter() - began

        began = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            latencies = list(pool.map(one, starts))
        elapsed = time.perf_counter() - began
        p95 = statistics.quantiles(latencies, n=20)[-1]
        lines += [
            "",
            f"Uncached one-week NEM generation mix ({args.uncached} distinct weeks, 4 clients): "
            f"**{args.uncached / elapsed:.0f} req/s**, p95 {p95 * 1000:.0f} ms (target 100 req/s).",
        ]
        print("\n".join(lines))
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
