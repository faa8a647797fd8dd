"""A dashboard session without a browser: the Bokeh websocket protocol, spoken as BokehJS does.

The dashboard is a Panel (Bokeh server) app: the page's HTML carries a session token, the browser
opens ``<page>ws`` with the subprotocols ``["bokeh", token]``, receives ``ACK``, asks for the
document (``PULL-DOC-REQ``) and receives it (``PULL-DOC-REPLY``); from then on every click is a
``PATCH-DOC`` holding one ``ModelChanged`` event (a tab's ``active``, a select's ``value``), and
the server answers with ``OK`` and then ``PATCH-DOC`` messages: the views' loading state, the
URL, and the new data (a ``ColumnDataSource``'s columns, as binary buffers).

:class:`DashboardSession` does exactly that with a plain websocket (``websockets``' sync client,
one background reader thread per connection), keeping the document as JSON (no Bokeh models are
built on this side, so that a hundred sessions cost the benchmark little). It sends what a
browser sends on connecting (the URL it was opened at, ``document_ready``), but not what only a
layout engine knows (plot sizes, auto-ranged axis bounds): the server does slightly less per
session than it would for a real browser. The messages were checked against chromium's own
websocket frames (Playwright's ``framesent``).

Interactions (:meth:`DashboardSession.interact`) name a widget by what the user sees:

* ``"tab:Prices"``: click the tab with that title (top-level tabs and the Generation tab's
  sub-tabs alike, e.g. ``"tab:Time of day"``);
* ``"region:VIC1"``: choose a region (``NEM`` or a region id) in the Generation tab's selector
  (the Generation tab must have been shown once, as for a user);
* ``"range:30d"``: click a range preset (``1d`` ``7d`` ``30d`` ``90d`` ``1y`` ``all``) on the
  tab shown.

Each returns the seconds from sending the click until the last message of the server's answer
that changed a view (its data, its models, its loading state, the URL): the interaction is
complete when Panel's busy indicator is idle, no view is loading and nothing more has arrived
for ``settle`` seconds (the waits after the last change are not counted).
An action that would change nothing (the tab already shown) sends nothing and returns 0.0.
Sessions are independent: many threads may each drive their own at once.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

#: Panel marks a view that waits with this CSS class.
LOADING_CLASS: Final = "pn-loading"
#: Panel's busy indicator (the template's spinner) has these classes while events are handled.
BUSY_CLASSES: Final = frozenset({"loader", "spin"})
#: Event kinds that carry new data for a ColumnDataSource.
DATA_EVENTS: Final = frozenset({"ColumnDataChanged", "ColumnsStreamed", "ColumnsPatched"})
_TOKEN: Final = re.compile(r'"token":\s*"([^"]+)"')
ACTIONS: Final = ("tab", "region", "range")


class DashboardProtocolError(RuntimeError):
    """The server answered something a browser would not accept (an ERROR, a closed socket)."""


@dataclass
class Received:
    """One protocol message: its header, content, binary buffers and when it was complete."""

    header: dict[str, Any]
    content: Any
    buffers: dict[str, bytes]
    at: float
    size: int

    @property
    def msgtype(self) -> str:
        return str(self.header.get("msgtype", ""))


@dataclass
class Interaction:
    """What the last call to ``open`` or ``interact`` saw."""

    seconds: float = 0.0
    messages: int = 0
    patches: int = 0
    bytes: int = 0
    data_events: int = 0
    sources: set[str] = field(default_factory=set)


class DashboardSession:
    """One dashboard session over the Bokeh protocol (see the module docstring).

    ``base_url`` is the page to open, with its query string if any
    (``http://127.0.0.1:8000/?tab=prices``). ``timeout``: most seconds to wait for an answer;
    ``settle``: seconds without a message after which an answer is taken as complete.
    """

    def __init__(self, base_url: str, *, timeout: float = 120.0, settle: float = 0.25) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.settle = settle
        self.session_id = ""
        self.models: dict[str, dict[str, Any]] = {}
        """The document: model id -> ``{"type": ..., "attributes": {...}}`` (JSON as sent)."""
        self.buffers: dict[str, bytes] = {}
        self.last = Interaction()
        self._ws: ClientConnection | None = None
        self._lock = threading.Lock()

    # -- public API ---------------------------------------------------------------------------

    def open(self) -> float:
        """Load the page, connect, receive the document and wait for the first view's data.

        Returns the seconds from the page request until the first view is complete (the
        document received and no view loading any more).
        """
        with self._lock:
            if self._ws is not None:
                raise DashboardProtocolError("this session is already open")
            began = time.perf_counter()
            page = httpx.get(self.base_url, timeout=self.timeout)
            page.raise_for_status()
            found = _TOKEN.search(page.text)
            if found is None:
                raise DashboardProtocolError(
                    f"{self.base_url} holds no Bokeh session token: is it the dashboard page?"
                )
            token = found.group(1)
            self.session_id = session_id_of(token)
            parts = urlsplit(self.base_url)
            page_url = f"{parts.scheme}://{parts.netloc}{parts.path or '/'}"
            ws_url = urljoin(page_url, "ws").replace("http", "ws", 1)
            # Entered by hand: the connection lives until close(), across calls. No bound on
            # the receive queue: a browser reads whatever comes, even when its user is idle,
            # and an unread queue would push back on the server.
            self._ws = connect(
                ws_url,
                subprotocols=["bokeh", token],  # type: ignore[list-item]
                max_size=None,
                max_queue=None,
                open_timeout=self.timeout,
                close_timeout=5,
            ).__enter__()
            self._expect("ACK")
            pull = self._send("PULL-DOC-REQ", {})
            seen = Interaction()
            while True:
                message = self._receive(self.timeout)
                if message is None:
                    raise DashboardProtocolError(f"no document from {ws_url} in {self.timeout} s")
                seen.messages += 1
                seen.bytes += message.size
                if message.msgtype == "PULL-DOC-REPLY" and message.header.get("reqid") == pull:
                    break
                # Patches sent before the reply are already part of the document it holds.
            self._load(message)
            last_change = message.at
            # What BokehJS sends once the document is rendered: the URL it was opened at
            # (Panel's Location view reports it), then ``document_ready``.
            location = self._first("panel.models.location.Location")
            search = f"?{parts.query}" if parts.query else ""
            if location is not None and location["attributes"].get("search", "") != search:
                self._change(location, "search", search)
            self._send("PATCH-DOC", {"events": [_document_ready()]})
            last_change = max(
                last_change,
                self._settle(seen, since=message.at, need_change=False, until=self._shows_data),
            )
            seen.seconds = last_change - began
            self.last = seen
            return seen.seconds

    def interact(self, action: str) -> float:
        """Click as a user would (``"tab:Prices"``, ``"region:VIC1"``, ``"range:7d"``).

        Returns the seconds until the server's answer is complete (0.0, sending nothing, when
        the action changes nothing).
        """
        kind, _, value = action.partition(":")
        with self._lock:
            if self._ws is None:
                raise DashboardProtocolError("open the session first")
            self._drain()
            if kind == "tab":
                target = self._tab(value)
            elif kind == "region":
                target = self._region(value)
            elif kind == "range":
                target = self._range(value)
            else:
                raise ValueError(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}")
            model, attr, new = target
            seen = Interaction()
            if model["attributes"].get(attr) == new:
                self.last = seen
                return 0.0
            began = time.perf_counter()
            self._change(model, attr, new)
            last_change = self._settle(seen, since=began)
            seen.seconds = max(0.0, last_change - began)
            self.last = seen
            return seen.seconds

    def close(self) -> None:
        """Close the websocket (the server then ends the session)."""
        with self._lock:
            if self._ws is not None:
                self._ws.close()
                self._ws = None

    # -- reading the document -----------------------------------------------------------------

    def named(self, name: str) -> dict[str, Any] | None:
        """The model whose ``name`` is ``name`` (a chart's data source: ``today-mix-source``)."""
        for model in self.models.values():
            if model["attributes"].get("name") == name:
                return model
        return None

    def rows(self, source: str, column: str) -> int:
        """Rows in a column of a named data source (-1: no such source or column)."""
        model = self.named(source)
        if model is None:
            return -1
        data = _entries(model["attributes"].get("data"))
        value = data.get(column)
        if value is None:
            return -1
        if isinstance(value, dict) and "shape" in value:
            return int(value["shape"][0])
        return len(value) if isinstance(value, list) else -1

    def loading(self) -> list[str]:
        """Ids of the models showing Panel's loading spinner."""
        return [
            mid
            for mid, model in self.models.items()
            if LOADING_CLASS in (model["attributes"].get("css_classes") or ())
        ]

    def busy(self) -> bool:
        """Whether the page header's busy indicator spins (Panel is handling an event)."""
        return any(
            set(model["attributes"].get("css_classes") or ()) >= BUSY_CLASSES
            for model in self.models.values()
        )

    def search(self) -> str:
        """The URL's query string as the server last wrote it (Panel's Location model)."""
        location = self._first("panel.models.location.Location")
        return "" if location is None else str(location["attributes"].get("search", ""))

    def tab_titles(self) -> list[str]:
        """Titles of every tab in the document (top-level tabs first)."""
        titles = []
        for tabs in self._of_type("Tabs"):
            for panel in tabs["attributes"].get("tabs", []):
                titles.append(str(self.models[panel["id"]]["attributes"].get("title", "")))
        return titles

    # -- the widgets a user clicks ------------------------------------------------------------

    def _tab(self, title: str) -> tuple[dict[str, Any], str, Any]:
        for tabs in self._of_type("Tabs"):
            panels = [self.models[p["id"]] for p in tabs["attributes"].get("tabs", [])]
            for index, panel in enumerate(panels):
                if panel["attributes"].get("title") == title:
                    return tabs, "active", index
        raise ValueError(f"no tab titled {title!r}; the document has {self.tab_titles()}")

    def _region(self, region: str) -> tuple[dict[str, Any], str, Any]:
        for select in self._of_type("Select") + self._of_type("CustomSelect"):
            options = select["attributes"].get("options", [])
            values = [o[0] if isinstance(o, list) else o for o in options]
            if "NEM" in values:
                if region not in values:
                    raise ValueError(f"no region {region!r}: choose one of {values}")
                return select, "value", region
        raise ValueError("no region selector in the document: show the Generation tab first")

    def _range(self, preset: str) -> tuple[dict[str, Any], str, Any]:
        shown = self._shown()
        groups = [
            g
            for g in self._of_type("RadioButtonGroup")
            if "nd-range" in (g["attributes"].get("css_classes") or ())
        ]
        groups.sort(key=lambda g: g["id"] not in shown)  # the one on the tab shown first
        for group in groups:
            labels = [str(label).lower() for label in group["attributes"].get("labels", [])]
            if preset.lower() in labels:
                return group, "active", labels.index(preset.lower())
        raise ValueError(f"no range button {preset!r} on the page: show a tab with a range")

    def _shown(self) -> set[str]:
        """Ids of the models inside the active top-level tab."""
        tabs = self._of_type("Tabs")
        if not tabs:
            return set()
        top = tabs[0]
        panels = top["attributes"].get("tabs", [])
        active = int(top["attributes"].get("active", 0) or 0)
        if not panels or active >= len(panels):
            return set()
        found: set[str] = set()
        stack = [panels[active]["id"]]
        while stack:
            mid = stack.pop()
            if mid in found or mid not in self.models:
                continue
            found.add(mid)
            stack.extend(_refs(self.models[mid]["attributes"]))
        return found

    def _of_type(self, suffix: str) -> list[dict[str, Any]]:
        """Models whose type ends with ``suffix`` (``Tabs`` finds Panel's and Bokeh's), by id."""
        found = [
            m
            for m in self.models.values()
            if m["type"] == suffix or m["type"].endswith(f".{suffix}")
        ]
        return sorted(found, key=lambda m: int(m["id"][1:]) if m["id"][1:].isdigit() else 0)

    def _first(self, type_name: str) -> dict[str, Any] | None:
        return next((m for m in self.models.values() if m["type"] == type_name), None)

    # -- the protocol -------------------------------------------------------------------------

    def _send(self, msgtype: str, content: Any) -> str:
        assert self._ws is not None
        msgid = uuid.uuid4().hex.upper()
        self._ws.send(json.dumps({"msgid": msgid, "msgtype": msgtype}))
        self._ws.send("{}")
        self._ws.send(json.dumps(content))
        return msgid

    def _change(self, model: dict[str, Any], attr: str, new: Any) -> str:
        """Send one ``ModelChanged`` (what BokehJS sends when a widget changes) and apply it."""
        model["attributes"][attr] = new
        event = {"kind": "ModelChanged", "model": {"id": model["id"]}, "attr": attr, "new": new}
        return self._send("PATCH-DOC", {"events": [event]})

    def _receive(self, timeout: float | None) -> Received | None:
        """The next whole message (header, metadata, content, buffers), or None on timeout."""
        assert self._ws is not None
        try:
            first = self._ws.recv(timeout)
        except TimeoutError:
            return None
        except ConnectionClosed as exc:
            raise DashboardProtocolError(f"the server closed the session: {exc}") from exc
        header = json.loads(first)
        size = len(first)
        frames = [self._ws.recv(self.timeout) for _ in range(2)]
        size += sum(len(f) for f in frames)
        content = json.loads(frames[1])
        buffers: dict[str, bytes] = {}
        for _ in range(int(header.get("num_buffers", 0))):
            ref = self._ws.recv(self.timeout)
            payload = self._ws.recv(self.timeout)
            size += len(ref) + len(payload)
            raw = payload if isinstance(payload, bytes) else payload.encode()
            buffers[json.loads(ref)["id"]] = raw
        if header.get("msgtype") == "ERROR":
            raise DashboardProtocolError(f"the server answered ERROR: {content}")
        return Received(header, content, buffers, time.perf_counter(), size)

    def _expect(self, msgtype: str) -> Received:
        message = self._receive(self.timeout)
        if message is None or message.msgtype != msgtype:
            got = "nothing" if message is None else message.msgtype
            raise DashboardProtocolError(f"expected {msgtype} from the server, got {got}")
        return message

    def wait_until(self, condition: Callable[[], bool], timeout: float | None = None) -> bool:
        """Apply the server's messages until ``condition()`` holds; False after ``timeout`` s.

        For what comes after an interaction's answer (a view's data arriving late).
        """
        deadline = time.perf_counter() + (self.timeout if timeout is None else timeout)
        with self._lock:
            while not condition():
                left = deadline - time.perf_counter()
                if left <= 0:
                    return False
                message = self._receive(left)
                if message is not None:
                    self._apply(message, Interaction())
            return True

    def _drain(self) -> None:
        """Apply whatever arrived while the session was idle (periodic updates)."""
        while (message := self._receive(0)) is not None:
            self._apply(message, Interaction())

    def _shows_data(self) -> bool:
        """Whether a named data source of the document holds rows (the first view is drawn)."""
        for model in self.models.values():
            name = model["attributes"].get("name")
            data = model["attributes"].get("data")
            named = isinstance(name, str) and name.endswith("-source") and data is not None
            if named and any(self.rows(str(name), column) > 0 for column in _entries(data)):
                return True
        return False

    def _settle(
        self,
        seen: Interaction,
        *,
        since: float,
        need_change: bool = True,
        until: Callable[[], bool] | None = None,
    ) -> float:
        """Read the server's answer until no view loads and all is quiet; its last change's time.

        A change is a message that brought data, new models (a view built) or the new URL, or
        that changed a view's loading state. The answer is complete once Panel's busy
        indicator is idle again (it spins while the click is handled: a tab being built) and no
        view is loading; the indicator itself is no change (it goes idle after a debounce, well
        after the views are drawn), so it delays the end of the wait, not the time. Without
        ``need_change`` (opening, where the document itself may be the answer), no view loading
        is enough. ``until``: a further condition of completeness (the first view's data: a
        view may be waiting for its first answer without its loading class reaching the
        document yet).
        """
        last_change: float | None = None
        last_any = since
        deadline = time.perf_counter() + self.timeout
        while True:
            answered = last_change is not None or not need_change
            quiet = answered and not self.loading() and not self.busy()
            quiet = quiet and (until is None or until())
            wait = self.settle if quiet else max(0.0, deadline - time.perf_counter())
            message = self._receive(wait)
            if message is None:
                if quiet:
                    return last_change if last_change is not None else last_any
                raise DashboardProtocolError(
                    f"no complete answer in {self.timeout} s (still loading: {self.loading()})"
                )
            if self._apply(message, seen):
                last_change = message.at
            last_any = message.at

    def _apply(self, message: Received, seen: Interaction) -> bool:
        """Apply a message to the document; True if it changed data or loading."""
        seen.messages += 1
        seen.bytes += message.size
        self.buffers.update(message.buffers)
        if message.msgtype != "PATCH-DOC":
            return False
        seen.patches += 1
        changed = False
        for event in message.content.get("events", []):
            kind = event.get("kind")
            for model in _definitions(event):
                self.models.setdefault(model["id"], model)
                changed = True  # new models: a view was built, or its figure put on screen
            if kind == "ModelChanged":
                target = self.models.get(event["model"]["id"])
                if target is None:
                    continue
                attr = event["attr"]
                if attr == "search":
                    changed = True  # the server has taken the click in (the URL follows it)
                elif attr == "css_classes":
                    before = LOADING_CLASS in (target["attributes"].get(attr) or ())
                    changed |= before != (LOADING_CLASS in (event["new"] or ()))
                elif attr == "data":
                    changed = True
                    seen.data_events += 1
                    seen.sources.add(str(target["attributes"].get("name", target["id"])))
                target["attributes"][attr] = event["new"]
            elif kind in DATA_EVENTS:
                changed = True
                seen.data_events += 1
                target = self.models.get(event["model"]["id"], {"attributes": {}, "id": "?"})
                seen.sources.add(str(target["attributes"].get("name", target["id"])))
                if kind == "ColumnDataChanged":
                    data = _entries(target["attributes"].get("data"))
                    data.update(_entries(event.get("new")))
                    target["attributes"]["data"] = {"type": "map", "entries": list(data.items())}
        return changed

    def _load(self, reply: Received) -> None:
        """Take the document of a ``PULL-DOC-REPLY``: every model by id."""
        self.models = {}
        self.buffers = dict(reply.buffers)
        doc = reply.content["doc"]
        for model in _definitions(doc.get("roots", [])):
            self.models.setdefault(model["id"], model)


def session_id_of(token: str) -> str:
    """The session id inside a Bokeh session token (its payload is base64 JSON)."""
    payload = token.split(".")[0]
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return ""
    return str(data.get("session_id", ""))


def _document_ready() -> dict[str, Any]:
    """The event BokehJS sends once it has rendered the document (Panel's ``onload``)."""
    return {
        "kind": "MessageSent",
        "msg_type": "bokeh_event",
        "msg_data": {"type": "event", "name": "document_ready", "values": {"type": "map"}},
    }


def _definitions(value: Any) -> Iterator[dict[str, Any]]:
    """Every model defined inside a JSON value, as ``{"id", "type", "attributes"}``."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") == "object" and "id" in item and "name" in item:
                attributes = item.get("attributes") or {}
                yield {"id": item["id"], "type": item["name"], "attributes": attributes}
                stack.extend(attributes.values())
            else:
                stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _refs(value: Any) -> Iterator[str]:
    """Ids of the models a JSON value refers to (definitions and ``{"id": ...}`` references)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "id" in item and (item.get("type") == "object" or len(item) == 1):
                yield str(item["id"])
            stack.extend(v for k, v in item.items() if k != "id")
        elif isinstance(item, list):
            stack.extend(item)


def _entries(value: Any) -> dict[str, Any]:
    """A Bokeh-serialised map (``{"type": "map", "entries": [...]}``) or dict as a dict."""
    if isinstance(value, dict) and value.get("type") == "map":
        return {str(k): v for k, v in value.get("entries", [])}
    return dict(value) if isinstance(value, dict) else {}


__all__ = ["ACTIONS", "DashboardProtocolError", "DashboardSession", "Interaction"]
