"""The fault soak in short (benchmarks/soak.py), and the multi-worker dashboard sessions it needs.

The soak runs as the real command (a subprocess in its own process group) on a small demo store,
for about a minute with every fault compressed into it; the test asserts what must hold whatever
the machine's speed: no interval lost or duplicated, every fault recovered from, no 5xx. Timings
are the benchmark's business, not the test's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from api_support import ServerThread, no_hot_set
from nemdash.api.app import create_app
from nemdash.config import Settings
from nemdash.demo.build import build_demo_store
from nemdash.server import _sessions_on_any_worker

REPO = Path(__file__).resolve().parents[1]
SOAK = REPO / "benchmarks" / "soak.py"
#: Seconds the whole short soak may take (store, server start, a minute of load, checks).
SOAK_TIMEOUT = 900


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.timeout(SOAK_TIMEOUT + 120)
def test_the_short_soak_loses_nothing_and_recovers_from_every_fault(tmp_path: Path) -> None:
    report = tmp_path / "soak.json"
    command = [
        sys.executable,
        str(SOAK),
        "--small",
        "--seconds",
        "60",
        "--interval-seconds",
        "3",
        "--sessions",
        "4",
        "--browsers",
        "0",
        "--api-clients",
        "2",
        "--think",
        "2",
        "4",
        "--workdir",
        str(tmp_path / "work"),
        "--keep",
        "--json",
        str(report),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEMDASH_")}
    with (tmp_path / "soak.log").open("wb") as sink:
        soak = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        code = soak.wait(timeout=SOAK_TIMEOUT)
    finally:
        # Whatever happened: the harness's group (its load processes), then the server's group.
        _kill_group(soak.pid)
        for pgid in (tmp_path / "work").glob("*/server.pgid"):
            _kill_group(int(pgid.read_text()))
    log = (tmp_path / "soak.log").read_text(errors="replace")
    assert report.exists(), log[-5000:]
    result = json.loads(report.read_text())
    failed = [f"{i['name']}: {i['detail']}" for i in result["invariants"] if not i["ok"]]
    assert failed == [], "\n".join(failed) + "\n" + result["server"]["log_tail"]
    assert code == 0, log[-5000:]

    names = {i["name"] for i in result["invariants"]}
    assert "every published interval in the store, none duplicated" in names
    assert "no 5xx answer" in names
    faults = {f["name"]: f for f in result["faults"]}
    assert len(faults) == 7
    for name, fault in faults.items():
        assert fault["recovered"] is True, f"{name}: {fault['outcome']}"
        assert fault["store_ok"] is True, f"{name}: {fault['store']}"
    assert "holding writer.lock" in faults["collector killed mid-write"]["detail"]
    assert result["freshness"]["intervals"] >= 10
    assert result["freshness"]["caught_up"] is True


# Panel's FastAPI integration builds a tornado request the way tornado 6.6 deprecates; in this
# process pytest would turn that into an error (the server subprocesses never see it).
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The method, uri, and version arguments:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The start_line argument:DeprecationWarning")
def test_a_session_opens_on_a_worker_that_did_not_serve_its_page(tmp_path: Path) -> None:
    """Two workers: the page from one, its websocket to the other (as the kernel may route them)."""
    from nemdash.dashboard.app import mount_dashboard

    base = Settings(data_dir=tmp_path / "real", demo_data_dir=tmp_path / "demo")
    store = build_demo_store(base, days=1, units=40)
    settings = store.settings.model_copy(
        update={"server_collect": False, "duckdb_threads": 1, "cache_disk_bytes": 0}
    )
    apps = []
    for _ in range(2):
        app = create_app(settings, hot_set=no_hot_set)
        mount_dashboard(app, settings, app.state.runtime.db)
        apps.append(app)
    _sessions_on_any_worker()
    with ServerThread(apps[0]) as page_worker, ServerThread(apps[1]) as other_worker:
        page = httpx.get(page_worker.url + "/?tab=prices", timeout=60)
        token = re.search(r'"token":"([^"]+)"', page.text)
        assert token is not None
        ws_url = other_worker.url.replace("http", "ws", 1) + "/ws"
        protocols: list[Any] = ["bokeh", token.group(1)]
        with connect(ws_url, subprotocols=protocols, open_timeout=60) as ws:
            header = json.loads(ws.recv(timeout=60))
            assert header["msgtype"] == "ACK"
