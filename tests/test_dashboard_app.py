"""Mounting the dashboard in the server's FastAPI app (served by a real uvicorn in a thread):
routes, the page, the version hook.

Sessions in a real browser (their updates and their end) are in ``tests/browser``.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Route

from api_support import ServerThread, no_hot_set
from nemdash.api.app import create_app
from nemdash.config import Settings
from nemdash.dashboard.app import _refresher_hook, mount_dashboard
from nemdash.query.connection import Database
from query_factory import build_store, market

pytestmark = [
    # Panel's FastAPI integration (panel.io.fastapi, 1.9.4) builds a tornado HTTPServerRequest
    # the way tornado 6.6 deprecates; in this process pytest would make that an error at GET /.
    pytest.mark.filterwarnings("ignore:The method, uri, and version arguments:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The start_line argument:DeprecationWarning"),
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = Path(tmp_path_factory.mktemp("app")) / "data"
    build_store(root, market(1)).close()
    return root


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, server_collect=False, duckdb_threads=1, cache_disk_bytes=0)


def test_the_dashboard_takes_the_root_beside_the_api(settings: Settings) -> None:
    app = create_app(settings, hot_set=no_hot_set)
    mount_dashboard(app, settings, app.state.runtime.db)
    roots = [r for r in app.router.routes if isinstance(r, Route) and r.path == "/"]
    assert len(roots) == 1  # the API's redirect to /docs made way
    assert any(getattr(r, "path", None) == "/ws" for r in app.router.routes)
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert "bokeh" in page.text.lower()
        assert client.get("/favicon.ico").status_code == 200
        assert client.get("/api/v1/status").status_code == 200


def test_sessions_hear_of_versions_from_the_servers_refresher(settings: Settings) -> None:
    app = create_app(settings, hot_set=no_hot_set)
    hook = _refresher_hook(app)
    assert hook is not None
    heard: list[int] = []
    unsubscribe = hook(heard.append)
    app.state.runtime.refresher.announce(12345)
    unsubscribe()
    app.state.runtime.refresher.announce(12346)
    assert heard == [12345]


def test_an_app_without_a_refresher_gets_a_version_watch(settings: Settings) -> None:
    app = FastAPI()
    assert _refresher_hook(app) is None
    db = Database(settings)
    mount_dashboard(app, settings, db)
    with ServerThread(app) as server:
        assert httpx.get(server.url + "/", timeout=60).status_code == 200
    db.close()
