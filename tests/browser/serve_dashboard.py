"""Serve nemdash (API and dashboard) for the browser tests: a real server process.

``python tests/browser/serve_dashboard.py --data-dir DIR --port PORT`` builds the server's app
with :func:`nemdash.api.app.create_app` (no collector, no warm-up) and mounts the dashboard at
``/`` with :func:`nemdash.dashboard.app.mount_dashboard`, unless ``create_app`` already does,
then serves it with uvicorn on 127.0.0.1 until it is terminated.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from nemdash.api.app import create_app
from nemdash.config import Settings
from nemdash.dashboard.app import mount_dashboard
from nemdash.query.connection import Database


def no_hot_set(db: Database) -> list[Callable[[], object]]:
    """Warm nothing: the tests time nothing, and the two cores are shared."""
    return []


def build(data_dir: Path) -> FastAPI:
    """The server's app over ``data_dir``, with the dashboard at ``/``."""
    settings = Settings(
        data_dir=data_dir,
        server_collect=False,
        duckdb_threads=1,
        duckdb_memory_limit="512MB",
        cache_version_poll=0.2,
        cache_disk_bytes=0,
    )
    app = create_app(settings, hot_set=no_hot_set)
    mounted = any(getattr(route, "path", None) == "/ws" for route in app.router.routes)
    if not mounted:
        mount_dashboard(app, settings, app.state.runtime.db)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True, help="The store to serve.")
    parser.add_argument("--port", type=int, required=True, help="Port on 127.0.0.1.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    uvicorn.run(build(args.data_dir), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
