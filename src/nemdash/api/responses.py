"""HTTP caching of API answers: ETags from the store version, 304s, and rendered responses.

A data answer depends only on the request (path and query) and the data in the store, so:

* its **ETag** is a hash of the store tag (:class:`~nemdash.query.cache.StoreTags`: the version
  and a fingerprint of the live files, so a rebuilt data directory never reuses one), the path,
  the sorted query string and the format. It is weak (``W/"..."``): the same for the gzipped and
  the plain body. The tag is read *before* the data, so an ETag never claims newer data than the
  body holds; at worst a publish in between costs the client one more 200.
* a request whose ``If-None-Match`` holds that ETag gets a **304** at once, without a query.
* ``Cache-Control: public, max-age=<api_cache_max_age>`` (``private`` when bearer tokens are
  on) lets browsers and proxies reuse an answer for that long, then revalidate.
* the rendered body (and its gzip) is kept in a per-process LRU bounded in bytes
  (``api_response_cache_bytes``), keyed like the ETag, so a repeated request costs a dictionary
  lookup: no query, no rendering, no compression. It is emptied when the store version moves.

A request line answered before at the current store tag is answered by :class:`FastPath`, an
ASGI middleware in front of the application, from the same cache (same bytes and headers), without
routing, validation or dependency injection: about three times the requests per second.

Bodies of 500 bytes or more are gzipped here once (ISA-L, level 1) when the client accepts it; the
``GZipMiddleware`` passes an answer that already has a ``Content-Encoding`` through untouched and
compresses the rest (errors, status).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import pyarrow as pa
from isal import igzip
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from nemdash import nemtime
from nemdash.api.formats import (
    MEDIA_TYPES,
    Format,
    render_arrow,
    render_csv,
    render_json,
    table_notes,
    units_of,
)
from nemdash.api.models import CacheLayerStatus, Meta
from nemdash.query.cache import CacheKey, MemoryCache

log = logging.getLogger(__name__)

#: Smallest body worth gzipping (as Starlette's GZipMiddleware).
GZIP_MINIMUM: Final = 500
#: gzip level of ISA-L's igzip: its level 1 is ~6x faster than zlib's level 6 (17 vs 97 ms for a
#: 5 MB week of generation mix) for a body ~2 % larger; any gzip reader reads it.
GZIP_LEVEL: Final = 1
#: Seconds a rendered response stays cached at most (the store version moves it on anyway).
RESPONSE_TTL: Final = 3600.0
#: Most request lines the fast path remembers (each a few hundred bytes).
MAX_ALIASES: Final = 20_000


@dataclass(frozen=True)
class StoreState:
    """The store as one request sees it: version, tag (version + file fingerprint), synthetic."""

    version: int
    tag: str
    synthetic: bool

    def meta(self, **fields: object) -> Meta:
        """The ``meta`` of a response computed now from this store state."""
        return Meta.model_validate(
            {
                "store_version": self.version,
                "synthetic": self.synthetic,
                "generated_at": nemtime.now().replace(microsecond=0),
                **fields,
            }
        )


@dataclass(frozen=True)
class Rendered:
    """A response body ready to send again: plain and (when worth it) gzipped."""

    body: bytes
    media_type: str
    gzipped: bytes | None
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"") + 200

    @classmethod
    def of(cls, body: bytes, media_type: str, headers: Mapping[str, str] | None = None) -> Rendered:
        """A rendered body, gzipped once if it is big enough to gain from it."""
        packed = igzip.compress(body, GZIP_LEVEL, mtime=0) if len(body) >= GZIP_MINIMUM else None
        return cls(body, media_type, packed, tuple((headers or {}).items()))


@dataclass
class ResponseCache:
    """Rendered responses of this process, by (path, query + format, store tag)."""

    max_bytes: int
    memory: MemoryCache = field(init=False)

    aliases: dict[tuple[str, bytes], tuple[CacheKey, str]] = field(init=False)
    """(path, raw query string) -> (key, ETag) of answers rendered: the fast path's index."""

    fast_answers: int = field(init=False, default=0)
    """Requests :class:`FastPath` answered (200 or 304)."""

    def __post_init__(self) -> None:
        self.memory = MemoryCache(self.max_bytes, RESPONSE_TTL)
        self.aliases = {}

    def alias(self, path: str, query: bytes, key: CacheKey, etag: str) -> None:
        """Remember that this exact request line is answered by ``key`` (see :class:`FastPath`)."""
        if len(self.aliases) >= MAX_ALIASES:
            self.aliases = {}  # a crude bound: rebuilt by the next requests
        self.aliases[(path, query)] = (key, etag)

    def get(self, key: CacheKey) -> Rendered | None:
        """The rendered response of ``key``, or None."""
        found = self.memory.get(key)
        return found if isinstance(found, Rendered) else None

    def put(self, key: CacheKey, rendered: Rendered) -> None:
        """Keep a rendered response (unless it is too big for the cache)."""
        self.memory.put(key, rendered, rendered.size)

    def clear(self) -> int:
        """Forget every response (the store version moved on); returns how many."""
        self.aliases = {}
        return self.memory.clear()

    def stats(self) -> CacheLayerStatus:
        """Hits, misses and size."""
        s = self.memory.stats()
        return CacheLayerStatus(
            hits=s.hits,
            misses=s.misses,
            entries=s.entries,
            bytes=s.bytes,
            max_bytes=s.max_bytes,
            hit_ratio=s.hit_ratio,
        )


def request_key(request: Request, fmt: Format | None, tag: str) -> CacheKey:
    """The cache key of a request at a store tag: path, sorted query (format included), tag."""
    query = sorted(request.query_params.multi_items())
    params = "&".join(f"{k}={v}" for k, v in query) + f"#{fmt or ''}"
    return CacheKey(request.url.path, params, tag)


def etag_of(key: CacheKey) -> str:
    """A weak ETag for a cache key."""
    return f'W/"{key.digest()[:32]}"'


def _matches(header: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, ``*`` included)."""
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in header.split(","):
        item = candidate.strip()
        if item == "*" or item.removeprefix("W/") == wanted:
            return True
    return False


@dataclass(frozen=True)
class HttpCaching:
    """How answers are marked for HTTP caches."""

    max_age: int
    private: bool

    def headers(self, etag: str, state: StoreState) -> dict[str, str]:
        """ETag, Cache-Control, Vary and the store headers of a data answer."""
        scope = "private" if self.private else "public"
        return {
            "ETag": etag,
            "Cache-Control": f"{scope}, max-age={self.max_age}",
            "Vary": "Accept-Encoding, Authorization" if self.private else "Accept-Encoding",
            "X-Nemdash-Store-Version": str(state.version),
            "X-Nemdash-Synthetic": "true" if state.synthetic else "false",
        }


def _accepts_gzip(accept_encoding: str | None) -> bool:
    return "gzip" in (accept_encoding or "").lower()


def _send(accepts_gzip: bool, rendered: Rendered, headers: dict[str, str]) -> Response:
    all_headers = {**dict(rendered.headers), **headers}
    if rendered.gzipped is not None and accepts_gzip:
        all_headers["Content-Encoding"] = "gzip"
        return Response(rendered.gzipped, media_type=rendered.media_type, headers=all_headers)
    return Response(rendered.body, media_type=rendered.media_type, headers=all_headers)


def _not_modified(headers: dict[str, str]) -> Response:
    keep = ("ETag", "Cache-Control", "Vary", "X-Nemdash-Store-Version", "X-Nemdash-Synthetic")
    return Response(status_code=304, headers={k: headers[k] for k in keep if k in headers})


def _time_note(notes: Mapping[str, str], name: str) -> datetime | None:
    text = notes.get(name)
    if text is None:
        return None
    try:
        return nemtime.ensure_aware(datetime.fromisoformat(text))
    except ValueError:
        return None


def table_meta(table: pa.Table, state: StoreState, units: Mapping[str, str]) -> Meta:
    """The ``meta`` of a table answer: store, units, range and resolution from the table."""
    notes = table_notes(table)
    known = {"start", "end", "resolution", "time"}
    return state.meta(
        rows=table.num_rows,
        units=dict(units),
        start=_time_note(notes, "start"),
        end=_time_note(notes, "end"),
        resolution=notes.get("resolution"),
        notes={k: v for k, v in notes.items() if k not in known},
    )


def render_table(
    table: pa.Table,
    fmt: Format,
    state: StoreState,
    *,
    units: Mapping[str, str] | None = None,
    filename: str = "nemdash",
) -> Rendered:
    """A table in the asked format."""
    found = units_of(table, units)
    meta = table_meta(table, state, found)
    if fmt is Format.csv:
        disposition = {"Content-Disposition": f'inline; filename="{filename}.csv"'}
        body = render_csv(table, found, synthetic=state.synthetic)
        return Rendered.of(body, MEDIA_TYPES[fmt], disposition)
    if fmt is Format.arrow:
        return Rendered.of(render_arrow(table, found, meta), MEDIA_TYPES[fmt])
    return Rendered.of(render_json(table, meta), MEDIA_TYPES[Format.json])


async def respond(
    request: Request,
    *,
    state: StoreState,
    cache: ResponseCache,
    caching: HttpCaching,
    fmt: Format | None,
    render: Callable[[], Rendered],
) -> Response:
    """Answer from the ETag (304) or the response cache, else ``render()`` in a worker thread."""
    key = request_key(request, fmt, state.tag)
    etag = etag_of(key)
    headers = caching.headers(etag, state)
    if _matches(request.headers.get("if-none-match"), etag):
        return _not_modified(headers)
    rendered = cache.get(key)
    if rendered is None:
        rendered = await run_in_threadpool(render)
        cache.put(key, rendered)
    cache.alias(request.url.path, request.scope.get("query_string", b""), key, etag)
    return _send(_accepts_gzip(request.headers.get("accept-encoding")), rendered, headers)


def render_model(model: BaseModel) -> Rendered:
    """A pydantic answer as JSON."""
    return Rendered.of(model.model_dump_json().encode(), MEDIA_TYPES[Format.json])


class FastPath:
    """ASGI middleware: answer a repeated API request from the rendered-response cache at once.

    A request line (path and raw query string) that was answered before at the current store
    tag is served here, before routing, parameter validation and dependency injection: the same
    bytes, ETag and headers as :func:`respond` sends (or its 304), at a fraction of the cost.
    Anything else (a new request line, a new store version, a POST) goes through the
    application as usual, which fills the index.
    ``state()`` gives the current :class:`StoreState`; the app installs this only when no bearer
    token and no CORS origin is configured (both need headers the application adds).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        prefix: str,
        cache: ResponseCache,
        caching: HttpCaching,
        state: Callable[[], StoreState],
        skip: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.cache = cache
        self.caching = caching
        self.state = state
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            wanted = path.startswith(self.prefix) and not path.startswith(self.skip)
            if wanted and await self._answer(scope, send, path):
                self.cache.fast_answers += 1
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, send: Send, path: str) -> bool:
        """Send the cached answer of this request line, if there is one; True if sent."""
        found = self.cache.aliases.get((path, scope.get("query_string", b"")))
        if found is None:
            return False
        key, etag = found
        state = self.state()
        if key.tag != state.tag:
            return False
        request_headers = dict(scope["headers"])
        headers = self.caching.headers(etag, state)
        if _matches(_text(request_headers.get(b"if-none-match")), etag):
            await _send_raw(send, _not_modified(headers))
            return True
        rendered = self.cache.get(key)
        if rendered is None:
            return False
        accepts = _accepts_gzip(_text(request_headers.get(b"accept-encoding")))
        await _send_raw(send, _send(accepts, rendered, headers))
        return True


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


async def _send_raw(send: Send, response: Response) -> None:
    """Send a finished :class:`Response` (body in memory) without a request object."""
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})
