"""What the benchmarks (and the browser tests) share: a free port, Debian's chromium and its
flags, and waiting for a server process to answer.

The scripts in this folder import it as ``support`` (Python puts a script's own folder first on
``sys.path``); the browser tests add this folder to ``sys.path`` first.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Final

import httpx

#: Debian's chromium, driven by Playwright (never ``playwright install``).
CHROMIUM: Final = Path("/usr/bin/chromium")
#: Chromium's flags for a headless run as root in a container.
CHROMIUM_ARGS: Final = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_serving(
    url: str,
    process: subprocess.Popen[bytes],
    *,
    timeout: float,
    log: Path | None = None,
    interval: float = 0.3,
    below: int = 500,
) -> None:
    """Wait until ``url`` answers with a status under ``below`` (default: anything but a 5xx);
    RuntimeError if ``process`` exits first or ``timeout`` seconds pass (quoting the end of
    ``log``, the server's output, if given)."""

    def tail() -> str:
        return "" if log is None else f":\n{log.read_text(errors='replace')[-2000:]}"

    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}{tail()}")
        try:
            if httpx.get(url, timeout=5).status_code < below:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s{tail()}")
        time.sleep(interval)
