"""``nemdash serve``: one port serving the REST API (and, once mounted, the dashboard), with the
background refresh that keeps the store up to date.

* :func:`serve` runs uvicorn with the factory import string ``nemdash.server:app_factory``, so
  that with ``workers`` > 1 each worker is a separate process (spawned, not forked: every DuckDB
  handle is opened in the process that uses it) building its own app. The settings travel to the
  workers as ``NEMDASH_*`` environment variables (:func:`settings_environment`).
* Every worker serves and watches the store version; exactly one collects: the one that holds
  ``<data_dir>/collector.lock`` (see :mod:`nemdash.refresh`). If it dies, uvicorn starts a new
  worker and one of the workers takes the lock over within :data:`nemdash.refresh.LOCK_RETRY`
  seconds.
* Shutdown on SIGTERM or SIGINT is graceful: uvicorn stops accepting, lets open requests finish
  (at most :data:`CONNECTION_GRACE` seconds), then the app's lifespan tells the background
  collector to stop and waits for it (``shutdown_timeout``): a cycle ingests what it already
  downloaded in one publish, or is abandoned mid-write, which the crash-safe lake survives. The
  process then exits with status 0.

Host defaults to 127.0.0.1: exposing the server is a deliberate choice (``--host 0.0.0.0``), best
with bearer tokens (``NEMDASH_API_TOKENS``) or behind a proxy. See ``docs/operating.md``.
"""

from __future__ import annotations

import copy
import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urlencode

import uvicorn
import uvicorn.config
from fastapi import FastAPI
from pydantic import SecretStr

from nemdash.api.app import create_app
from nemdash.config import Settings, get_settings
from nemdash.errors import NemdashError

log = logging.getLogger(__name__)

#: The app factory uvicorn imports in each worker.
APP_FACTORY: Final = "nemdash.server:app_factory"
#: Seconds open connections get to finish at shutdown (a dashboard's websockets never do).
CONNECTION_GRACE: Final = 10.0
ENV_PREFIX: Final = "NEMDASH_"

__all__ = ["APP_FACTORY", "app_factory", "create_app", "serve", "settings_environment"]


def settings_environment(settings: Settings) -> dict[str, str | None]:
    """``NEMDASH_<FIELD>`` for every setting (None: the variable must be unset)."""
    found: dict[str, str | None] = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            text = None
        elif isinstance(value, SecretStr):
            text = value.get_secret_value()
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        found[f"{ENV_PREFIX}{name.upper()}"] = text
    return found


def _export(variables: Mapping[str, str | None]) -> None:
    """Set (or unset) environment variables for this process and the workers it starts."""
    for key, text in variables.items():
        if text is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = text


def app_factory() -> FastAPI:
    """The app of one worker, from the ``NEMDASH_*`` environment (uvicorn's factory).

    The API under ``/api/v1`` and the Panel dashboard at ``/``, on the same runtime (DuckDB,
    caches, background refresh), so that one port serves both.
    """
    from nemdash.dashboard.app import mount_dashboard

    settings = get_settings()

    def dashboard(app: FastAPI) -> None:
        mount_dashboard(app, settings, app.state.runtime.db)
        _sessions_on_any_worker()

    return create_app(settings, mount=dashboard)


def _sessions_on_any_worker() -> None:
    """Let a worker open a dashboard session whose page another worker served.

    With several workers the kernel hands the page's GET and its websocket to any of them; a
    worker that did not serve the page creates the session from the page's token (Bokeh carries
    the request's headers and query arguments in it). Panel 1.9.4 then reads the page's
    ``protocol``, ``host`` and ``uri`` from bokeh-fastapi's websocket scope, which has none of
    them, and the session fails (the browser's websocket is closed: a blank page); and if that
    worker has served no page yet, bokeh-fastapi has not given the application its event loop
    either. Measured on two workers: 6 websockets of 8 failed. :func:`_complete_session_request`
    fills in both.
    """
    import panel as pn

    if _complete_session_request not in pn.state._on_session_created:
        pn.state.on_session_created(_complete_session_request)


def _complete_session_request(session_context: Any) -> None:
    """Give a session created by its websocket the page's protocol, host and URI (see above)."""
    from tornado.ioloop import IOLoop

    context = session_context.server_context.application_context
    if context is not None and context.io_loop is None:
        context._loop = IOLoop.current()  # what bokeh-fastapi does when it serves a page
    request = session_context.request
    scope = getattr(request, "_request", None)
    if not isinstance(scope, dict) or "uri" in scope:
        return  # this worker served the page: Panel has the real request
    headers = request.headers
    server = scope.get("server") or ("127.0.0.1", 80)
    pairs = [
        (name, value.decode() if isinstance(value, bytes) else str(value))
        for name, values in (request.arguments or {}).items()
        for value in values
    ]
    path = str(scope.get("path", "/")).removesuffix("ws") or "/"
    scope["protocol"] = "https" if scope.get("scheme") == "wss" else "http"
    scope["host"] = headers.get("Host") or headers.get("host") or f"{server[0]}:{server[1]}"
    scope["uri"] = path + (f"?{urlencode(pairs)}" if pairs else "")


def _log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, plus nemdash's own loggers at ``level`` (workers inherit it)."""
    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["nemdash"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    collect: bool | None = None,
    log_level: str = "info",
) -> None:
    """Serve until SIGTERM or SIGINT, then shut down cleanly and return.

    ``collect``: run the live collector in one worker (None: the ``server_collect`` setting).
    ``workers``: processes serving the same port (each its own DuckDB and caches).
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    chosen = (
        settings if collect is None else settings.model_copy(update={"server_collect": collect})
    )
    _export(settings_environment(chosen))
    get_settings.cache_clear()  # the factory reads the environment just exported
    received: list[int] = []

    def note(signum: int, _frame: object) -> None:
        # uvicorn shuts down gracefully on the signal, then raises it again so that the default
        # action would end the process (SIGTERM: killed, exit status -15): noting it here instead
        # lets serve() return and the process exit with status 0.
        received.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    log.info(
        "serving %s on http://%s:%d with %d worker(s); collecting: %s",
        chosen.data_dir,
        host,
        port,
        workers,
        chosen.server_collect,
    )
    try:
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            log_config=_log_config(log_level),
            timeout_graceful_shutdown=int(CONNECTION_GRACE),
            lifespan="on",
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        log.info("stopped on %s", ", ".join(signal.Signals(s).name for s in received))


def serve_offline_first(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
    log_level: str = "info",
) -> None:
    """Serve the real store; on a first run with no data and no NEMWEB, serve the demo meanwhile.

    With an empty real store and NEMWEB unreachable, the synthetic demo store is served (labelled
    as such everywhere) while a watcher checks NEMWEB every ``demo_recheck`` seconds. When NEMWEB
    answers, the watcher collects one cycle into the **real** store (never into the demo); once the
    real store holds data, the demo server shuts down gracefully and the real one starts, collecting
    in the background. A person who stops the demo server (Ctrl-C) stops everything.
    """
    from nemdash.collector.loop import collect
    from nemdash.demo.build import offline_fallback, probe_nemweb, real_data_ready

    demo = offline_fallback(
        settings, days=settings.demo_days, units=settings.demo_units, progress=progress
    )
    if demo is None:
        serve(settings, host=host, port=port, workers=workers, collect=True, log_level=log_level)
        return
    switch = threading.Event()
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(settings.demo_recheck):
            if probe_nemweb(settings) is not None:
                continue
            try:
                collect(settings, once=True)
            except NemdashError:
                log.exception("NEMWEB answered but collecting failed; trying again later")
                continue
            if real_data_ready(settings):
                log.warning(
                    "real data collected into %s: switching from the demo", settings.data_dir
                )
                switch.set()
                os.kill(os.getpid(), signal.SIGTERM)  # serve() shuts down gracefully and returns
                return

    watcher = threading.Thread(target=watch, name="nemdash-offline-watch", daemon=True)
    watcher.start()
    try:
        serve(demo, host=host, port=port, workers=workers, collect=False, log_level=log_level)
    finally:
        stop.set()
    watcher.join(timeout=settings.http_timeout + 5)
    if switch.is_set():
        serve(settings, host=host, port=port, workers=workers, collect=True, log_level=log_level)
