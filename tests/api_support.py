"""Test helpers for the API and server tests: a small store built from the real AEMO fixtures
through the real pipeline, and real uvicorn servers (in a thread, or as a process via serve()).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import uvicorn
from fastapi import FastAPI
from filelock import FileLock

from nemdash.api.app import create_app
from nemdash.config import Settings
from nemdash.query.connection import Database
from nemdash.server import settings_environment
from nemdash.store.ingest import find_sources, ingest_paths
from nemdash.store.lake import Lake
from nemdash.store.registry import update_registry
from nemdash.store.rollups import rebuild_rollups

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test server: no collector, a small thread budget, short waits."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "server_collect": False,
        "duckdb_threads": 1,
        "duckdb_memory_limit": "512MB",
        "http_timeout": 5.0,
        "http_retries": 0,
        "http_backoff": 0.0,
        "shutdown_timeout": 20.0,
        "cache_version_poll": 0.2,
    }
    values.update(overrides)
    return Settings(**values)


def build_store(data_dir: Path, shared_fixtures: Path) -> Path:
    """Ingest every real fixture file, the real registry workbook and the rollups into a store."""
    settings = server_settings(data_dir)
    lake = Lake(settings.paths)
    with lake.writer() as writer:
        report = ingest_paths(writer, find_sources([shared_fixtures / "nemweb"]))
        assert not report.quarantined, report.quarantined
    with lake.writer() as writer:
        update_registry(
            writer,
            settings,
            xlsx=shared_fixtures / "registry" / "NEM-Registration-and-Exemption-List.xlsx",
        )
    db = Database(settings, lake)
    try:
        with lake.writer() as writer:
            rebuild_rollups(writer, db)
    finally:
        db.close()
    return data_dir


def shared_store(base: Path, shared_fixtures: Path) -> Path:
    """The fixture store, built once per test session (and per xdist worker) under ``base``."""
    target = base / "api-fixture-store"
    with FileLock(str(base / "api-fixture-store.lock")):
        if not (target / "READY").exists():
            shutil.rmtree(target, ignore_errors=True)
            build_store(target, shared_fixtures)
            (target / "READY").write_text("built\n")
    return target


def copy_store(source: Path, dest: Path) -> Path:
    """A private copy of a store (for tests that change it)."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("READY", "cache"))
    return dest


class ServerThread:
    """A real uvicorn server for ``app`` on a free port of 127.0.0.1, in a thread."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="test-uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)


@contextmanager
def running(settings: Settings, **kwargs: Any) -> Iterator[tuple[ServerThread, httpx.Client]]:
    """A server for ``settings`` (create_app keyword arguments passed on) and a client of it."""
    kwargs.setdefault("hot_set", no_hot_set)
    with (
        ServerThread(create_app(settings, **kwargs)) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        yield server, client


def no_hot_set(db: Database) -> list[Callable[[], object]]:
    """Warm nothing (most tests do not want a warm-up competing for the two cores)."""
    return []


# -- a real server process (serve() in a subprocess) ----------------------------------------------

_SERVE = (
    "import sys\n"
    "from nemdash.config import get_settings\n"
    "from nemdash.server import serve\n"
    "serve(get_settings(), port=int(sys.argv[1]), workers=int(sys.argv[2]), log_level='info')\n"
)


class ServerProcess:
    """``nemdash.server.serve()`` in a subprocess, configured by ``NEMDASH_*`` variables."""

    def __init__(self, settings: Settings, *, workers: int = 1, log: Path) -> None:
        self.port = free_port()
        self.workers = workers
        self.log_path = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEMDASH_")}
        env.update({k: v for k, v in settings_environment(settings).items() if v is not None})
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready: Callable[[httpx.Response], bool] | None = None) -> Self:
        """Start and wait until ``/api/v1/status`` answers (and ``ready`` accepts it)."""
        handle = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SERVE, str(self.port), str(self.workers)],
            env=self.env,
            cwd=REPO,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        handle.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.log()}")
            try:
                answer = httpx.get(f"{self.url}/api/v1/status", timeout=5)
                if ready is None or ready(answer):
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not become ready:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, signum: int = signal.SIGTERM) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout: float = 60) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        """Make sure the process is gone (SIGTERM, then SIGKILL)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def children(self) -> list[int]:
        """PIDs of the worker processes (Linux /proc)."""
        assert self.process is not None
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                found.append(int(entry.name))
        return found


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, interval: float = 0.05) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def flock_holders(path: Path) -> set[int]:
    """PIDs holding a flock on ``path`` (Linux ``/proc/locks``)."""
    inode = path.stat().st_ino
    holders = set()
    for line in Path("/proc/locks").read_text().splitlines():
        parts = line.split()
        if len(parts) < 6 or parts[1] != "FLOCK":
            continue
        device_inode = parts[5].split(":")
        if len(device_inode) == 3 and int(device_inode[2]) == inode:
            holders.add(int(parts[4]))
    return holders
