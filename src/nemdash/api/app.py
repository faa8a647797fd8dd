"""The FastAPI application: API under ``/api/v1``, OpenAPI docs at ``/docs``, one error shape.

:func:`create_app` is a factory (nothing happens at import): it builds the process's
:class:`~nemdash.api.deps.Runtime` (lake, DuckDB, caches, background refresh), mounts one router
per resource, installs the error handlers, gzip and (when configured) CORS, and ties the
background refresh to the app's lifespan: it starts with the server and is told to stop, and
waited for, when the server shuts down (SIGTERM/SIGINT). ``nemdash.server`` serves it with
uvicorn; tests drive it with Starlette's ``TestClient``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.params import Depends as DependsParam
from fastapi.responses import RedirectResponse

import nemdash
from nemdash.api.deps import ALLOWED_VALUES, Runtime, require_token
from nemdash.api.errors import install_error_handlers
from nemdash.api.responses import GZIP_LEVEL, GZIP_MINIMUM, FastPath
from nemdash.api.routes import (
    analysis,
    generation,
    interconnectors,
    metadata,
    prices,
    stations,
    status,
)
from nemdash.config import Settings, get_settings
from nemdash.query.hotset import hot_set as default_hot_set
from nemdash.refresh import HotSet

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"

_DESCRIPTION = """
Public 5-minute data of Australia's National Electricity Market, from AEMO's NEMWEB.

* Times are **NEM time** (UTC+10, no daylight saving), ISO 8601 with `+10:00`, and mark the
  **end** of an interval. Ranges are `(start, end]`; a bare date as `end` includes that day.
* Series come as JSON (default), `?format=csv` (units in the header names) or `?format=arrow`
  (an Arrow IPC stream). Answers carry an `ETag`: send it back in `If-None-Match` for a 304.
* Every error has one shape: `{"error": {"status", "code", "message", "parameter", "value",
  "allowed", "limit"}}`.
* `/api/v1/status` is the health check (200 serving, 503 not).
"""


def _origins(settings: Settings) -> list[str]:
    return [o.strip() for o in settings.cors_origins.split(",") if o.strip()]


def create_app(
    settings: Settings | None = None,
    *,
    hot_set: HotSet | None = None,
    mount: Callable[[FastAPI], None] | None = None,
) -> FastAPI:
    """The nemdash server application for ``settings`` (default: :func:`get_settings`).

    ``hot_set`` gives the calls to warm after start-up and each new store version (default: the
    query layer's hot set). ``mount(app)`` adds more to the app once the API is in place (the
    dashboard, at ``/``; it finds the process's runtime, with its ``db`` and
    ``refresher.on_new_version``, at ``app.state.runtime``); without it ``/`` redirects to the
    API's documentation.
    """
    chosen = settings if settings is not None else get_settings()
    runtime = Runtime(chosen, hot_set=hot_set if hot_set is not None else default_hot_set)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime.refresher.start()
        try:
            yield
        finally:
            log.info("shutting down: stopping the background refresh")
            await anyio.to_thread.run_sync(runtime.refresher.stop)
            runtime.db.close()

    app = FastAPI(
        title="nemdash",
        version=nemdash.__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.runtime = runtime
    install_error_handlers(app, ALLOWED_VALUES)

    protected: list[DependsParam] = [Depends(require_token)] if runtime.tokens.enabled else []
    app.include_router(status.router, prefix=API_PREFIX)
    for module in (metadata, prices, generation, interconnectors, stations, analysis):
        app.include_router(module.router, prefix=API_PREFIX, dependencies=protected)

    if mount is not None:
        mount(app)
    else:

        @app.get("/", include_in_schema=False)
        async def index() -> RedirectResponse:
            """Without a dashboard mounted here: the API's documentation."""
            return RedirectResponse("/docs")

    origins = _origins(chosen)
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "HEAD", "OPTIONS"],
            allow_headers=["Authorization", "If-None-Match"],
            expose_headers=["ETag", "X-Nemdash-Store-Version", "X-Nemdash-Synthetic"],
            max_age=600,
        )
    # Added after the others, so outside them: it compresses whatever the rest answers (errors,
    # status); answers already gzipped pass through.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM, compresslevel=GZIP_LEVEL)
    if not origins and not runtime.tokens.enabled:
        # Outermost: a repeated request line is answered before anything else runs.
        app.add_middleware(
            FastPath,
            prefix=API_PREFIX + "/",
            cache=runtime.responses,
            caching=runtime.caching,
            state=runtime.store_state,
            skip=(API_PREFIX + "/status",),
        )
    return app
