"""A local NEMWEB: serve a directory tree over HTTP the way nemweb.com.au serves its own.

Used by the tests (a NEMWEB-shaped tree built from real AEMO files) and by ``nemdash demo`` (the
synthetic NEM), so that the real client, listing parser and collector run unchanged against it.
What it copies from the real site (an IIS server):

* directory pages in IIS's format, as in ``shared/fixtures/listings/Dispatch_SCADA.html``: a
  ``[To Parent Directory]`` link, then one line per entry, the modified time right-aligned in 38
  characters (``Tuesday, August 31, 2021 12:50 PM``, NEM time), ``&lt;dir&gt;`` or the size
  right-aligned in 13, and an upper-case ``<A HREF>`` with the site-relative path; entries sorted
  by name;
* file names are literal: a file stored as ``PUBLIC_ARCHIVE%23...`` is requested as
  ``PUBLIC_ARCHIVE%2523...`` (and ``%23``, a ``#``, does not find it), exactly as on NEMWEB;
* folder names match case-insensitively (``/Reports/Current/`` finds ``Reports/CURRENT``) and a
  folder asked without its trailing slash is redirected to it;
* zips are served as ``application/x-zip-compressed``, pages as ``text/html``.

It listens on 127.0.0.1 on a free port, serves each request on its own thread, and starts and
stops as a context manager. ``intercept`` lets a caller (the tests' fault injection) answer a
request itself before the tree is consulted.
"""

from __future__ import annotations

import html
import logging
import mimetypes
import posixpath
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote, unquote, urlsplit

from nemdash.nemtime import NEM_TZ

log = logging.getLogger(__name__)

HOST_TITLE = "www.nemweb.com.au"
_CONTENT_TYPES = {".zip": "application/x-zip-compressed", ".csv": "text/csv"}


@dataclass
class MirrorResponse:
    """A canned answer: what ``intercept`` returns to replace the normal one."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/html"
    headers: dict[str, str] = field(default_factory=dict)


#: Called with the decoded site path (no leading ``/``) of every request; None means "serve
#: normally". It runs on the request's thread, so it may also sleep to simulate a slow server.
Intercept = Callable[[str], MirrorResponse | None]


def listing_page(site_path: str, entries: list[tuple[str, bool, int, datetime]]) -> str:
    """Render an IIS directory page for ``site_path`` (entries: name, is_dir, size, modified)."""
    folder = "/" + site_path.strip("/") + "/" if site_path.strip("/") else "/"
    title = f"{HOST_TITLE} - {html.escape(folder)}"
    parts = [
        f"<html><head><title>{title}</title></head><body><H1>{title}</H1><hr>\r\n\r\n<pre>",
    ]
    if folder != "/":
        parent = posixpath.dirname(folder.rstrip("/"))
        parent = parent if parent.endswith("/") else parent + "/"
        parts.append(f'<A HREF="{quote(parent)}">[To Parent Directory]</A><br><br>')
    for name, is_dir, size, modified in sorted(entries, key=lambda e: e[0].upper()):
        href = quote(folder + name + ("/" if is_dir else ""))
        size_text = "&lt;dir&gt;" if is_dir else str(size)
        # IIS pads the size column to 13 visible characters; "&lt;dir&gt;" shows as 5.
        pad = 13 - (5 if is_dir else len(size_text))
        parts.append(
            f"{_iis_time(modified):>38}{' ' * pad}{size_text} "
            f'<A HREF="{html.escape(href)}">{html.escape(name)}</A><br>'
        )
    parts.append("</pre><hr></body></html>")
    return "".join(parts)


def _iis_time(value: datetime) -> str:
    hour = value.hour % 12 or 12
    return (
        f"{value:%A}, {value:%B} {value.day}, {value.year} "
        f"{hour:>2}:{value.minute:02d} {'AM' if value.hour < 12 else 'PM'}"
    )


class NemwebMirror:
    """Serve ``root`` as NEMWEB on ``http://127.0.0.1:<port>/`` (a context manager)."""

    def __init__(
        self,
        root: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        intercept: Intercept | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.host = host
        self.port = port
        self.intercept = intercept
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL of the running mirror, ending with ``/``."""
        if self._server is None:
            raise RuntimeError("the mirror is not running: use it as a context manager or start()")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> Self:
        """Start serving on a background thread."""
        if self._server is not None:
            return self
        mirror = self

        handler = type("Handler", (_Handler,), {"owner": mirror})

        server = _Server((self.host, self.port), handler)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.name = f"nemweb-mirror-{server.server_address[1]}"
        self._thread.start()
        log.info("NEMWEB mirror of %s at %s", self.root, self.url)
        return self

    def stop(self) -> None:
        """Stop serving and free the port (requests still being answered are abandoned)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def resolve(self, site_path: str) -> Path | None:
        """The file or folder for a decoded site path (folders case-insensitively), or None."""
        current = self.root
        for part in [p for p in site_path.split("/") if p]:
            if part in (".", ".."):
                return None
            candidate = current / part
            if not candidate.exists() and current.is_dir():
                folded = part.casefold()
                matches = [c for c in current.iterdir() if c.name.casefold() == folded]
                candidate = matches[0] if len(matches) == 1 else candidate
            if not candidate.exists():
                return None
            current = candidate
        return current


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up (e.g. after its timeout) is normal here: log, do not print."""
        log.debug("mirror request from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    owner: NemwebMirror
    server_version = "Microsoft-IIS/10.0"
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: with Nagle's algorithm on, the body waits for
    # the client's delayed ACK (~40 ms a request, measured), which made a day of CURRENT files
    # take half a minute to serve. TCP_NODELAY: ~1 ms a request.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("mirror: " + format, *args)

    def _answer(self, *, send_body: bool) -> None:
        raw_path = urlsplit(self.path).path
        site_path = unquote(raw_path).lstrip("/")
        if self.owner.intercept is not None:
            canned = self.owner.intercept(site_path)
            if canned is not None:
                self._send(
                    canned.status, canned.body, canned.content_type, canned.headers, send_body
                )
                return
        target = self.owner.resolve(site_path)
        if target is None:
            self._not_found(send_body)
        elif target.is_dir():
            if not raw_path.endswith("/"):
                self._send(301, b"", "text/html", {"Location": raw_path + "/"}, send_body)
                return
            page = listing_page(site_path, _entries(target)).encode("utf-8")
            self._send(200, page, "text/html", {}, send_body)
        else:
            body = target.read_bytes()
            kind = _CONTENT_TYPES.get(target.suffix.lower()) or (
                mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            )
            self._send(200, body, kind, {}, send_body)

    def _not_found(self, send_body: bool) -> None:
        page = (
            b"<html><head><title>404 - File or directory not found.</title></head><body>"
            b"<h2>404 - File or directory not found.</h2></body></html>"
        )
        self._send(404, page, "text/html", {}, send_body)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str], send_body: bool
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if send_body and body:
            self.wfile.write(body)


def _entries(folder: Path) -> list[tuple[str, bool, int, datetime]]:
    entries = []
    for child in folder.iterdir():
        stat = child.stat()
        modified = datetime.fromtimestamp(stat.st_mtime, UTC).astimezone(NEM_TZ)
        entries.append((child.name, child.is_dir(), stat.st_size, modified))
    return entries
