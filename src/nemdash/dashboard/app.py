# mypy: disallow-untyped-calls=False
# (Panel's widgets, panes and layouts take their params as untyped **kwargs.)
"""The dashboard application: one app per browser session, mounted in the server's FastAPI app.

* :func:`create_dashboard` returns the per-session factory. Each call (one per browser session)
  builds a :class:`~nemdash.dashboard.datastore.DataStore` (the session's filters), syncs it with
  the page's URL (``?tab=prices&range=30d&regions=...``, so a link reproduces a view; the tab,
  region and range are in it from the start, see :func:`show_state_in_url`), and
  builds the page: a header with the data's last interval and a stale warning, a banner when the
  store holds the synthetic demo data, and five tabs, each built on its first visit.
* New data appears without a reload: the factory subscribes the session to new store versions
  (the server's :meth:`nemdash.refresh.Refresher.on_new_version`); the callback, called on the
  refresh thread, hands the version to the session's document with
  ``doc.add_next_tick_callback``, and the views on screen fetch again. The subscription, the
  views' watchers and pending fetches are dropped when the session ends
  (``pn.state.on_session_destroyed``).
* Queries run on a small thread pool shared by the sessions of the process (DuckDB releases the
  GIL), so the event loop keeps serving other sessions while one waits; the results come from
  the query layer's cache, shared by all sessions, never copied per session.
* :func:`mount_dashboard` serves the factory at ``path`` (default ``/``) of a FastAPI app with
  Panel's FastAPI integration (``panel.io.fastapi``, bokeh-fastapi), beside the REST API.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

import anyio.to_thread
import panel as pn
from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from panel.template import BootstrapTemplate
from panel.template.base import BaseTemplate
from starlette.routing import BaseRoute, Route

from nemdash import nemtime
from nemdash.config import Settings
from nemdash.dashboard.datastore import URL_PARAMETERS, DataStore, Runner, SessionRunner
from nemdash.dashboard.theme import CSS
from nemdash.dashboard.views.analysis import AnalysisTab
from nemdash.dashboard.views.controls import LazyTabs
from nemdash.dashboard.views.generation import GenerationTab
from nemdash.dashboard.views.prices import PricesTab
from nemdash.dashboard.views.stations import StationsTab
from nemdash.dashboard.views.today import TodayView
from nemdash.query.connection import Database

log = logging.getLogger(__name__)

#: What a session factory returns: a page (template) or any Panel object.
Page = pn.viewable.Viewable | BaseTemplate
#: ``subscribe(callback) -> unsubscribe``: how a session hears of new store versions.
VersionHook = Callable[[Callable[[int], None]], Callable[[], None]]

#: Worker threads running the sessions' queries (per process, shared by its sessions).
QUERY_THREADS: Final = 4
#: Store params always shown in the page's URL, even at their defaults (a link is a view).
URL_STATE: Final = ("tab", "region", "range")
#: How often (ms) a session re-reads the data's age for the stale warning.
STATUS_PERIOD_MS: Final = 60_000
TITLE: Final = "nemdash · NEM dashboard"
HEADER_COLOUR: Final = "#1F3A5F"
_PANEL_ICON: Final = Path(pn.__file__).parent / "dist" / "images" / "favicon.ico"


class Dashboard:
    """One session's page: header, banners and the five lazily built tabs."""

    def __init__(self, settings: Settings, store: DataStore) -> None:
        self.settings = settings
        self.store = store
        self.status = pn.pane.HTML(
            "", stylesheets=[CSS], styles={"color": "white"}, name="data-status"
        )
        self.synthetic = pn.pane.Alert(
            "**Synthetic demo data.** Nothing here is real: stations, prices and weather are "
            "simulated (in AEMO's own file formats) so that nemdash can run offline. Times are "
            "the demo's own clock.",
            alert_type="warning",
            visible=False,
            sizing_mode="stretch_width",
            name="synthetic-banner",
        )
        self.stale = pn.pane.Alert(
            "", alert_type="danger", visible=False, sizing_mode="stretch_width", name="stale"
        )
        self.message = pn.pane.Alert(
            "", alert_type="info", visible=False, sizing_mode="stretch_width", name="message"
        )
        self.tabs = LazyTabs(
            store,
            "tab",
            [
                ("today", "Today", lambda: TodayView(store)),
                ("generation", "Generation", lambda: GenerationTab(store)),
                ("prices", "Prices", lambda: PricesTab(store)),
                ("analysis", "Price analysis", lambda: AnalysisTab(store)),
                ("stations", "Stations", lambda: StationsTab(store)),
            ],
            name="tabs",
        )
        self._watcher = store.param.watch(lambda _e: self.update_status(), "version")
        self.update_status()

    def update_status(self) -> None:
        """Show the newest interval, and warn when it is older than ``stale_after``."""
        synthetic = self.store.synthetic
        self.synthetic.visible = synthetic
        last = self.store.last_interval()
        if last is None:
            self.status.object = '<span class="nd-status">No data yet</span>'
            self.stale.visible = False
            return
        when = nemtime.to_naive(last).strftime("%a %d %b %Y %H:%M")
        self.status.object = (
            f'<span class="nd-status">Data to <b>{when}</b> NEM time'
            f"{' (synthetic)' if synthetic else ''}</span>"
        )
        age = nemtime.now() - last
        if synthetic or age <= timedelta(seconds=self.settings.stale_after):
            self.stale.visible = False
            return
        self.stale.object = (
            f"**The data is stale:** the newest interval ended {describe_age(age)} ago "
            f"({when} NEM time). The collector may be stopped or NEMWEB unreachable; "
            "`/api/v1/status` says which."
        )
        self.stale.visible = True

    def url_error(self, values: dict[str, Any]) -> None:
        """Apply the URL's values one by one, and say which could not be used."""
        ignored = []
        for name, value in values.items():
            try:
                setattr(self.store, name, value)
            except Exception:
                ignored.append(f"{URL_PARAMETERS.get(name, name)}={value!r}")
        if ignored:
            self.message.object = "Ignored from the link (not valid here): " + ", ".join(ignored)
            self.message.visible = True

    def page(self) -> BootstrapTemplate:
        """The page: the template with the header, the banners and the tabs."""
        return BootstrapTemplate(
            title=TITLE,
            header=[self.status],
            header_background=HEADER_COLOUR,
            main=[self.synthetic, self.stale, self.message, self.tabs],
            collapsed_sidebar=True,
        )

    def close(self) -> None:
        """Drop every watcher of the session (its store and views go with it)."""
        self.store.param.unwatch(self._watcher)
        self.tabs.close()


def describe_age(age: timedelta) -> str:
    """``3 days``, ``5 hours``, ``17 minutes``: how old the data is, roughly."""
    minutes = age.total_seconds() / 60
    if minutes >= 2 * 24 * 60:
        return f"{minutes / 1440:,.0f} days"
    if minutes >= 120:
        return f"{minutes / 60:,.0f} hours"
    return f"{minutes:,.0f} minutes"


def create_dashboard(
    settings: Settings,
    db: Database,
    *,
    on_new_version: VersionHook | None = None,
    executor: ThreadPoolExecutor | None = None,
) -> Callable[[], Page]:
    """The per-session factory: each call builds one session's DataStore, views and page.

    ``on_new_version`` subscribes a session to new store versions (the server's refresher);
    ``executor`` runs the sessions' queries (default: a pool of :data:`QUERY_THREADS`).
    Outside a server session (a script, a test) queries run inline.
    """
    pool = executor or ThreadPoolExecutor(QUERY_THREADS, thread_name_prefix="nemdash-dashboard")

    def session() -> Page:
        pn.extension(design="bootstrap", notifications=False)
        doc = pn.state.curdoc
        in_session = doc is not None and doc.session_context is not None
        runner: Runner = SessionRunner(pool, doc) if in_session else Runner()
        store = DataStore(db, runner=runner)
        store.version = db.lake.version()
        location = _location() if in_session else None
        dashboard: Dashboard | None = None
        pending: dict[str, Any] = {}
        if location is not None:
            # The URL is applied before the tabs exist, so only the tab it names is built.
            location.sync(store, dict(URL_PARAMETERS), on_error=pending.update)
            show_state_in_url(location, store)
        dashboard = Dashboard(settings, store)
        if pending:
            dashboard.url_error(pending)
        unsubscribe: Callable[[], None] | None = None
        if on_new_version is not None:
            unsubscribe = on_new_version(
                lambda version: runner.call_soon(lambda: store.new_version(version))
            )
        if in_session:
            pn.state.add_periodic_callback(dashboard.update_status, period=STATUS_PERIOD_MS)
            built = dashboard

            def destroyed(_context: Any) -> None:
                if unsubscribe is not None:
                    unsubscribe()
                runner.close()
                built.close()
                log.debug("dashboard session closed")

            pn.state.on_session_destroyed(destroyed)
        return dashboard.page()

    return session


def url_state(store: DataStore, query: Mapping[str, str]) -> dict[str, str]:
    """The query string showing the store's state: the main filters and what ``query`` named.

    :data:`URL_STATE` always, at the values in effect; every other synced parameter that
    ``query`` (the browser's own query string, raw) names, at its value in effect too (a value
    the page ignored is replaced by the one used); anything else in ``query`` kept as it was.
    Values are serialised as Panel's ``Location.sync`` does, so that reading them back gives
    the same values.
    """
    names = {query_name: name for name, query_name in URL_PARAMETERS.items()}
    state: dict[str, str] = {}
    wanted = [URL_PARAMETERS[name] for name in URL_STATE]
    wanted += [key for key in query if key not in wanted]
    for key in wanted:
        name = names.get(key)
        if name is None:
            state[key] = query[key]
            continue
        value = store.param[name].serialize(getattr(store, name))
        state[key] = value if isinstance(value, str) else json.dumps(value)
    return state


def show_state_in_url(location: Any, store: DataStore) -> None:
    """Write the view's state into the browser's URL as soon as the page is ready.

    Panel's ``Location`` writes only the parameters that change, and the browser's first word
    is its own URL, so a page opened without a query string showed no state until the first
    click (and a shared link kept only what it named). Once the page has rendered (Panel's
    ``onload``: by then the browser has reported its URL, and Panel's Location view pushes a
    new one at once instead of waiting for the document to go idle, which it may miss), the
    URL is rewritten once with :func:`url_state`; from then on Panel adds whatever changes.
    """

    def ready() -> None:
        raw = dict(parse_qsl(location.search.removeprefix("?"), keep_blank_values=True))
        search = "?" + urlencode(url_state(store, raw))
        if search != location.search:
            location.search = search

    pn.state.onload(ready)


def _location() -> Any:
    """The session's URL, or None when Panel cannot read it.

    A session re-created from its websocket (its first one expired before the browser
    connected) has no HTTP request to read the URL from; the page then works without it.
    """
    try:
        return pn.state.location
    except AttributeError:
        log.warning("dashboard session without its URL: filters start from their defaults")
        return None


def _refresher_hook(app: FastAPI) -> VersionHook | None:
    """The server's refresher (``create_app`` keeps it at ``app.state.runtime``), if any."""
    runtime = getattr(app.state, "runtime", None)
    refresher = getattr(runtime, "refresher", None)
    hook = getattr(refresher, "on_new_version", None)
    return hook if callable(hook) else None


def _own_watch(app: FastAPI, settings: Settings, db: Database) -> VersionHook:
    """A version watch of the dashboard's own, for an app without a refresher (not collecting)."""
    from nemdash.refresh import Refresher

    refresher = Refresher(settings, db, collect=False)
    _add_lifespan(app, refresher.start, refresher.stop)
    return refresher.on_new_version


def _add_lifespan(app: FastAPI, start: Callable[[], None], stop: Callable[[], object]) -> None:
    """Run ``start`` when the app starts and ``stop`` when it stops, beside its own lifespan."""
    original = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with original(application) as state:
            start()
            try:
                yield state
            finally:
                # Before the app's own shutdown (which closes the database): off the loop,
                # since it may wait for a query to end.
                await anyio.to_thread.run_sync(stop)

    app.router.lifespan_context = lifespan


def _drop_get_route(app: FastAPI, path: str) -> None:
    """Remove a GET route already at ``path`` (the API's placeholder redirect to its docs)."""
    kept: list[BaseRoute] = []
    for route in app.router.routes:
        if isinstance(route, Route) and route.path == path and "GET" in (route.methods or ()):
            log.info("the dashboard replaces the route GET %s (%s)", path, route.name)
            continue
        kept.append(route)
    app.router.routes[:] = kept


def _release_closed_connections() -> None:
    """Make bokeh-fastapi let go of a session whose browser tab has gone.

    bokeh-fastapi 0.1's receive loop reads the websocket with Starlette's ``receive()``, which
    returns the disconnect message instead of raising ``WebSocketDisconnect``; its next read
    raises ``RuntimeError``, which ends the loop without ``client_lost``. The session then keeps
    a connection forever and is never destroyed: no ``on_session_destroyed``, and a leak per
    closed tab. Here the connection is released whenever the loop ends. Idempotent; a fixed
    bokeh-fastapi makes it a no-op (the connection is already gone).
    """
    from bokeh_fastapi.handler import WSHandler  # type: ignore[import-untyped]

    if getattr(WSHandler, "_nemdash_releases_connections", False):
        return
    original = WSHandler.ws_connect

    async def ws_connect(self: Any, websocket: Any) -> None:
        try:
            await original(self, websocket)
        finally:
            connection = getattr(self, "connection", None)
            clients: set[Any] = getattr(self.application, "_clients", set())
            if connection is not None and connection in clients:
                self.application.client_lost(connection)

    WSHandler.ws_connect = ws_connect
    WSHandler._nemdash_releases_connections = True


def mount_dashboard(
    app: FastAPI,
    settings: Settings,
    db: Database,
    *,
    path: str = "/",
    on_new_version: VersionHook | None = None,
    title: str = TITLE,
    session_options: Mapping[str, Any] | None = None,
) -> None:
    """Serve the dashboard at ``path`` of ``app`` (its websocket at ``<path>ws``).

    New store versions reach open sessions through ``on_new_version``; by default the app's own
    refresher (``app.state.runtime.refresher``), else a version watch started with the app.
    ``session_options`` go to bokeh-fastapi's ``BokehFastAPI`` (e.g.
    ``unused_session_lifetime_milliseconds``, ``check_unused_sessions_milliseconds``: how soon
    a closed browser tab's session is destroyed; by default within about 30 s).
    """
    from panel.io.fastapi import add_applications

    _release_closed_connections()
    hook = on_new_version or _refresher_hook(app) or _own_watch(app, settings, db)
    pool = ThreadPoolExecutor(QUERY_THREADS, thread_name_prefix="nemdash-dashboard")
    _add_lifespan(app, lambda: None, lambda: pool.shutdown(wait=True, cancel_futures=True))
    _drop_get_route(app, path)
    add_applications(
        {path: create_dashboard(settings, db, on_new_version=hook, executor=pool)},
        app=app,
        title=title,
        **dict(session_options or {}),
    )
    if not any(getattr(r, "path", None) == "/favicon.ico" for r in app.router.routes):

        @app.get("/favicon.ico", include_in_schema=False)
        async def favicon() -> Response:
            """The browser's tab icon (Panel's)."""
            return FileResponse(_PANEL_ICON)

    log.info("dashboard mounted at %s", path)


__all__ = [
    "URL_STATE",
    "Dashboard",
    "VersionHook",
    "create_dashboard",
    "describe_age",
    "mount_dashboard",
    "show_state_in_url",
    "url_state",
]
