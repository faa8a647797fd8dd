"""Fixtures of the browser suite: a small synthetic demo store, a real server process serving
it, and Debian's chromium driven by Playwright (never ``playwright install``).

The demo store (two days, 40 units) is built once per test session (and shared by pytest-xdist
workers under a file lock), through the real pipeline; each server gets a private copy, since
the live-update test adds data to it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from browser_support import Server
from filelock import FileLock
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from nemdash.config import Settings
from nemdash.demo.build import build_demo_store, open_demo_store

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from support import CHROMIUM, CHROMIUM_ARGS, wait_serving

LAUNCHER = Path(__file__).with_name("serve_dashboard.py")
DEMO_DAYS = 2
DEMO_UNITS = 40
#: Seconds a server gets to start (two shared cores: imports alone take a few seconds).
START_TIMEOUT = 90.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_settings_at(folder: Path) -> Settings:
    """Settings whose demo directory is ``folder`` (the real data dir stays apart)."""
    return Settings(
        data_dir=folder.parent / f"{folder.name}-real",
        demo_data_dir=folder,
        duckdb_threads=1,
        duckdb_memory_limit="512MB",
        cache_disk_bytes=0,
    )


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo store, built once for the session (and for every xdist worker)."""
    base = tmp_path_factory.getbasetemp().parent
    folder = base / "dashboard-demo-store"
    with FileLock(str(base / "dashboard-demo-store.lock")):
        build_demo_store(demo_settings_at(folder), days=DEMO_DAYS, units=DEMO_UNITS)
    return folder


@pytest.fixture(scope="module")
def server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server process on a free port of 127.0.0.1, stopped (by its PID) afterwards."""
    folder = tmp_path_factory.mktemp("served") / "demo"
    shutil.copytree(demo_template, folder, ignore=shutil.ignore_patterns("cache", "*.lock"))
    settings = demo_settings_at(folder)
    demo = open_demo_store(settings)
    assert demo is not None, f"no demo store in {folder}"
    port = _free_port()
    log = folder.parent / "server.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                str(LAUNCHER),
                "--data-dir",
                str(demo.settings.data_dir),
                "--port",
                str(port),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        # Any answer will do: a stale demo store's status may be a 503.
        wait_serving(f"{url}/api/v1/status", process, timeout=START_TIMEOUT, log=log, below=600)
        yield Server(url, demo, process, log, settings)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


#: Console warnings that are known and not ours to fix: Bokeh's MultiChoice builds Choices.js
#: without ``allowHTML`` (Price analysis filters; docs/dashboard.md, "Known limits").
KNOWN_WARNINGS = ("Deprecation warning: allowHTML will default to false",)


@dataclass
class Console:
    """What the page said: console errors and warnings, and uncaught exceptions."""

    errors: list[str] = field(default_factory=list)

    def message(self, message: ConsoleMessage) -> None:
        if message.type == "warning" and message.text.startswith(KNOWN_WARNINGS):
            return
        if message.type in ("error", "warning"):
            self.errors.append(
                f"{message.type}: {message.text} ({message.location.get('url', '')})"
            )

    def exception(self, error: Exception) -> None:
        self.errors.append(f"uncaught: {error}")


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    """A desktop-sized page whose console errors and warnings fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    tab = context.new_page()
    tab.on("console", console.message)
    tab.on("pageerror", console.exception)
    yield tab
    context.close()
    assert console.errors == [], "the browser console reported errors or warnings"


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go (printed in the test output, to look at)."""
    folder = tmp_path_factory.mktemp("screenshots")
    print(f"\nscreenshots: {folder}")
    return folder
