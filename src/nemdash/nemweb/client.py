"""The NEMWEB HTTP client: polite, bounded, retrying, and strict about what counts as data.

NEMWEB is flaky (NEM-FACTS.md): requests time out, the site answers 5xx or 429 under load, and it
sometimes serves an HTML page (often a 403) where a zip was asked for. This client:

* sends a User-Agent and applies one timeout per request;
* never has more than ``concurrency`` requests in flight, whichever thread asks (a semaphore), and
  downloads many files through a small thread pool of that size;
* retries timeouts, connection errors, 5xx and 429 with exponential backoff (``backoff`` seconds,
  doubling; a numeric ``Retry-After`` is honoured up to :data:`MAX_RETRY_AFTER`) and raises
  :class:`~nemdash.errors.NemwebUnavailable` when the retries are used up;
* turns a 404 into :class:`~nemdash.errors.NemwebNotFound` (a CURRENT file rolls off after 2-3
  days: a state, not an alarm), and any other 4xx, or a body that is HTML or lacks the zip magic
  ``PK\\x03\\x04`` when a zip was asked for, into :class:`~nemdash.errors.NotAZipError`, so that an
  error page is never stored as data.

All network I/O goes through an ``httpx`` transport: tests pass a real local server's URL, or an
``httpx.MockTransport`` for the retry logic.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import httpx

from nemdash.config import Settings
from nemdash.errors import (
    NemdashError,
    NemwebError,
    NemwebNotFound,
    NemwebUnavailable,
    NotAZipError,
)
from nemdash.nemweb.filenames import url_path
from nemdash.nemweb.listing import Listing, parse_listing

log = logging.getLogger(__name__)

#: Zip local-file-header magic, and the end-of-central-directory magic of an empty zip.
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
#: Longest pause taken on a server's ``Retry-After`` (seconds): NEMWEB never needs more.
MAX_RETRY_AFTER = 60.0
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Download:
    """The outcome of one download in :meth:`NemwebClient.fetch_many`: data or an error."""

    path: str
    data: bytes | None = None
    error: NemdashError | None = None


class NemwebClient:
    """Talks to NEMWEB (or a mirror of it) over HTTP; thread-safe."""

    def __init__(
        self,
        base_url: str,
        *,
        user_agent: str = "nemdash",
        timeout: float = 30.0,
        concurrency: int = 4,
        retries: int = 4,
        backoff: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.base_url = base_url.rstrip("/") + "/"
        self.retries = retries
        self.backoff = backoff
        self.concurrency = concurrency
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(concurrency)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"User-Agent": user_agent},
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=True,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, *, transport: httpx.BaseTransport | None = None
    ) -> NemwebClient:
        """A client configured from the ``NEMDASH_*`` settings."""
        return cls(
            settings.nemweb_url,
            user_agent=settings.user_agent,
            timeout=settings.http_timeout,
            concurrency=settings.http_concurrency,
            retries=settings.http_retries,
            backoff=settings.http_backoff,
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def url(self, path: str) -> str:
        """The absolute URL of a decoded site path."""
        return self.base_url + url_path(path.lstrip("/"))

    def get(self, path: str) -> httpx.Response:
        """GET a decoded site path, retrying transient failures; raises on 404 and other 4xx."""
        url = self.url(path)
        attempt = 0
        while True:
            try:
                with self._slots:
                    response = self._http.get(url)
            except httpx.TimeoutException as exc:
                cause = f"timed out ({type(exc).__name__})"
                retry_after = None
            except httpx.TransportError as exc:
                cause = f"connection failed ({type(exc).__name__}: {exc})"
                retry_after = None
            else:
                status = response.status_code
                if status < 400:
                    return response
                if status == 404:
                    raise NemwebNotFound(
                        f"{url}: HTTP 404, the file is not (or no longer) on NEMWEB; "
                        "CURRENT files roll off after 2-3 days, use the ARCHIVE or MMSDM backfill"
                    )
                if status not in _RETRY_STATUS:
                    raise NotAZipError(
                        f"{url}: HTTP {status} "
                        f"({response.headers.get('content-type', 'no content type')}), not data; "
                        "NEMWEB may be refusing requests: try again later"
                    )
                cause = f"HTTP {status}"
                retry_after = _retry_after(response)
            if attempt >= self.retries:
                raise NemwebUnavailable(
                    f"{url}: {cause}, after {attempt + 1} attempts; NEMWEB seems down, "
                    "try again later"
                )
            pause = self.backoff * 2**attempt
            if retry_after is not None:
                pause = max(pause, retry_after)
            log.info("%s: %s; retry %d/%d in %.1fs", url, cause, attempt + 1, self.retries, pause)
            self._sleep(pause)
            attempt += 1

    def get_zip(self, path: str) -> bytes:
        """Download a zip; an HTML page or a body without the zip magic is a NotAZipError."""
        response = self.get(path)
        data = response.content
        content_type = response.headers.get("content-type", "").lower()
        if "html" in content_type or not data.startswith(ZIP_MAGIC):
            snippet = data[:80].decode("latin-1", "replace").replace("\n", " ")
            raise NotAZipError(
                f"{self.url(path)}: expected a zip, got {content_type or 'no content type'} "
                f"({len(data)} bytes starting {snippet!r}); not stored, it will be asked again"
            )
        return data

    def list_dir(self, path: str) -> Listing:
        """Fetch and parse the directory page of a site folder."""
        folder = path.strip("/") + "/" if path.strip("/") else ""
        response = self.get(folder)
        content_type = response.headers.get("content-type", "").lower()
        if content_type and "html" not in content_type:
            raise NemwebError(
                f"{self.url(folder)}: expected a directory page, got {content_type}; "
                "check NEMDASH_NEMWEB_URL"
            )
        return parse_listing(response.text, folder)

    def fetch_many(self, paths: Iterable[str]) -> Generator[Download]:
        """Download zips with bounded concurrency; yields one :class:`Download` per path, in order.

        Errors are returned, not raised, so that one bad file does not stop the others.
        """
        path_list = list(paths)
        if not path_list:
            return
        with ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(path_list)), thread_name_prefix="nemweb"
        ) as pool:
            futures: list[tuple[str, Future[bytes]]] = [
                (p, pool.submit(self.get_zip, p)) for p in path_list
            ]
            try:
                for path, future in futures:
                    try:
                        yield Download(path, data=future.result())
                    except NemdashError as exc:
                        yield Download(path, error=exc)
            finally:
                for _, future in futures:
                    future.cancel()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return min(float(value), MAX_RETRY_AFTER)
    except ValueError:
        return None
