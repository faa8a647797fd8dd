"""The offline first run, as a user meets it: ``nemdash serve`` in a real process.

With an empty store and NEMWEB unreachable it serves the labelled synthetic demo store; once
NEMWEB answers, it collects into the real store and switches to it, without a restart by hand.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api_support import free_port, wait_for
from nemdash.nemweb.mirror import MirrorResponse, NemwebMirror
from nemweb_server import build_tree

pytestmark = pytest.mark.slow


def test_serve_shows_the_demo_offline_then_switches_to_real_data(
    tmp_path: Path, nemweb_root: Path
) -> None:
    tree = build_tree(
        tmp_path / "nemweb", nemweb_root, include=lambda p: p.startswith("Reports/CURRENT/")
    )
    online = False

    def outage(_path: str) -> MirrorResponse | None:
        return None if online else MirrorResponse(503, b"<html>down</html>")

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEMDASH_")}
    with NemwebMirror(tree, intercept=outage) as mirror:
        env.update(
            NEMDASH_DATA_DIR=str(tmp_path / "real"),
            NEMDASH_DEMO_DATA_DIR=str(tmp_path / "demo"),
            NEMDASH_DEMO_DAYS="1",
            NEMDASH_DEMO_UNITS="40",
            NEMDASH_DEMO_RECHECK="1",
            NEMDASH_DEMO_PROBE_TIMEOUT="2",
            NEMDASH_NEMWEB_URL=mirror.url,
            NEMDASH_HTTP_RETRIES="0",
        )
        log = (tmp_path / "serve.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "nemdash.cli", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/api/v1/metadata/store"

        def store() -> dict[str, object] | None:
            try:
                answer = httpx.get(url, timeout=5)
            except httpx.TransportError:
                return None
            return answer.json()["meta"] if answer.status_code == 200 else None

        try:
            assert wait_for(lambda: store() is not None, timeout=240, interval=0.5), (
                tmp_path / "serve.log"
            ).read_text()
            first = store()
            assert first is not None
            assert first["synthetic"] is True
            assert not (tmp_path / "real" / "lake").exists()  # nothing demo in the real store
            online = True
            switched = wait_for(
                lambda: (meta := store()) is not None and meta["synthetic"] is False,
                timeout=120,
                interval=0.5,
            )
            assert switched, (tmp_path / "serve.log").read_text()
            assert any((tmp_path / "real" / "lake").iterdir())
            process.send_signal(signal.SIGTERM)
            started = time.monotonic()
            assert process.wait(timeout=60) == 0, (tmp_path / "serve.log").read_text()
            assert time.monotonic() - started < 60
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
