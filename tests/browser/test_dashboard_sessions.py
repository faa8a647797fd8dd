"""Dashboard sessions in a server running in this process: subscribed while open, and
unsubscribed (views, watchers and the store-version subscription dropped) once closed."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from browser_support import rows_in
from playwright.sync_api import Browser

from api_support import ServerThread, no_hot_set
from nemdash.api.app import create_app
from nemdash.config import Settings
from nemdash.dashboard.app import mount_dashboard

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    # Panel's FastAPI integration (panel.io.fastapi, 1.9.4) builds a tornado HTTPServerRequest
    # the way tornado 6.6 deprecates; in this process pytest would turn that into an error
    # answering GET /. Nothing to fix on our side; the subprocess servers never see it.
    pytest.mark.filterwarnings("ignore:The method, uri, and version arguments:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The start_line argument:DeprecationWarning"),
]


def test_a_closed_session_leaves_nothing_behind(
    demo_template: Path, browser: Browser, tmp_path: Path
) -> None:
    folder = tmp_path / "demo"
    shutil.copytree(demo_template, folder, ignore=shutil.ignore_patterns("cache", "*.lock"))
    settings = Settings(data_dir=folder, server_collect=False, duckdb_threads=1, cache_disk_bytes=0)
    app = create_app(settings, hot_set=no_hot_set)
    mount_dashboard(
        app,
        settings,
        app.state.runtime.db,
        # Long enough for the browser to connect to the session its GET made, then short.
        session_options={
            "check_unused_sessions_milliseconds": 500,
            "unused_session_lifetime_milliseconds": 5000,
        },
    )
    bus = app.state.runtime.refresher.bus
    with ServerThread(app) as server:
        before = len(bus)
        context = browser.new_context()
        page = context.new_page()
        page.goto(server.url + "/", wait_until="domcontentloaded")
        page.wait_for_function(rows_in("today-mix-source", "bucket_end"), timeout=60_000)
        assert len(bus) == before + 1
        context.close()
        deadline = time.monotonic() + 30
        while len(bus) > before and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(bus) == before
