"""Parse NEMWEB's directory pages (IIS listings) into entries.

NEMWEB serves plain IIS listings (see ``shared/fixtures/listings``): a ``<pre>`` block with a
``[To Parent Directory]`` link, then one line per entry, ``<date> <time> <AM|PM>`` followed by
``&lt;dir&gt;`` or the size in bytes and an ``<A HREF="...">name</A>``, separated by ``<br>``. The
server writes upper-case tags and site-relative links; a page saved by a browser has lower-case
tags and absolute URLs. Both are read here. The dates are the server's wall clock: NEM time.

Paths are returned decoded and without a leading ``/``, relative to the site root, the same form
as :attr:`nemdash.tables.FeedSpec.current_dir` (a file stored as ``PUBLIC_ARCHIVE%23...`` keeps its
literal ``%23``; :func:`nemdash.nemweb.filenames.url_path` encodes it again for a request).
"""

from __future__ import annotations

import html
import posixpath
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

from nemdash.nemtime import NEM_TZ

_ENTRY = re.compile(
    r"""(?:(?P<when>[A-Za-z]+,\s+[A-Za-z]+\s+\d{1,2},\s+\d{4}\s+\d{1,2}:\d{2}\s*[AP]M)\s+
         (?P<size>&lt;dir&gt;|<dir>|\d+)\s+)?
        <a\s[^>]*?href\s*=\s*(?P<q>["'])(?P<href>.*?)(?P=q)[^>]*>(?P<text>.*?)</a\s*>""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
_PARENT_TEXT = "[to parent directory]"
_ABSOLUTE = re.compile(r"^[a-z][a-z0-9+.-]*://[^/]*", re.IGNORECASE)


@dataclass(frozen=True)
class ListingEntry:
    """One line of a directory page."""

    name: str
    """The file or folder name (decoded; no trailing ``/``)."""
    path: str
    """Site path, decoded, relative to the site root (folders end with ``/``)."""
    is_dir: bool
    size: int | None = None
    """Bytes, where the page shows them (never for folders)."""
    modified: datetime | None = None
    """Last modified time shown by the server, NEM time (aware)."""


@dataclass(frozen=True)
class Listing:
    """A parsed directory page."""

    path: str
    """The folder listed, relative to the site root, ending with ``/``."""
    entries: tuple[ListingEntry, ...]
    """Files and sub-folders in page order (the parent link is not one of them)."""
    parent: str | None = None
    """Site path of the ``[To Parent Directory]`` link, when the page has one."""

    @property
    def files(self) -> tuple[ListingEntry, ...]:
        return tuple(e for e in self.entries if not e.is_dir)

    @property
    def dirs(self) -> tuple[ListingEntry, ...]:
        return tuple(e for e in self.entries if e.is_dir)


def parse_listing(page: str, base_path: str = "") -> Listing:
    """Parse an IIS directory page; ``base_path`` (the folder listed) resolves relative links."""
    base = _normalise_dir(base_path)
    entries: list[ListingEntry] = []
    parent: str | None = None
    for match in _ENTRY.finditer(page):
        text = html.unescape(re.sub(r"<[^>]+>", "", match["text"])).strip()
        path = _resolve(html.unescape(match["href"]), base)
        if text.lower() == _PARENT_TEXT:
            parent = path
            continue
        size_text = match["size"]
        is_dir = path.endswith("/") or (size_text is not None and not size_text.isdigit())
        name = posixpath.basename(path.rstrip("/")) or text
        entries.append(
            ListingEntry(
                name=name,
                path=path,
                is_dir=is_dir,
                size=int(size_text) if size_text and size_text.isdigit() else None,
                modified=_parse_when(match["when"]),
            )
        )
    return Listing(path=base, entries=tuple(entries), parent=parent)


def _normalise_dir(path: str) -> str:
    cleaned = path.strip().lstrip("/")
    if cleaned and not cleaned.endswith("/"):
        cleaned += "/"
    return cleaned


def _resolve(href: str, base: str) -> str:
    """A link as a decoded site path relative to the root (absolute URLs lose scheme and host)."""
    # Drop scheme and host by hand: urlsplit would cut the path at a literal '#' in a file name.
    raw = _ABSOLUTE.sub("", href.strip())
    raw = raw.split("?", 1)[0]
    if not raw.startswith("/"):
        raw = "/" + base + raw
    trailing = raw.endswith("/")
    resolved = posixpath.normpath(unquote(raw)).lstrip("/")
    if resolved == ".":
        resolved = ""
    if trailing and resolved:
        resolved += "/"
    return resolved


def _parse_when(text: str | None) -> datetime | None:
    if not text:
        return None
    cleaned = re.sub(r"\s+", " ", text.strip())
    try:
        return datetime.strptime(cleaned, "%A, %B %d, %Y %I:%M %p").replace(tzinfo=NEM_TZ)
    except ValueError:
        return None
