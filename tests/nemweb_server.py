"""Test helper: a local NEMWEB with fault injection, around :class:`nemdash.nemweb.mirror`.

:func:`build_tree` lays out a NEMWEB-shaped tree in a temporary folder from the real AEMO files in
``../shared/fixtures/nemweb``; :class:`FaultyNemweb` serves it through the real mirror and can make
any path misbehave the way NEMWEB does: a 404 (a CURRENT file that rolled off after being listed),
a 5xx n times before answering, a delay longer than the client's timeout, a 403 HTML page, a
truncated zip, a zip whose CSV is corrupt, a zip whose footer count is wrong. :func:`reissue` puts
the same interval on the site a second time under another id, as AEMO does when it re-issues a file.
Faults rewrite the answer on the fly, so the tree on disk stays the real files.
"""

from __future__ import annotations

import io
import shutil
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from nemdash import tables
from nemdash.nemweb import filenames
from nemdash.nemweb.mirror import MirrorResponse, NemwebMirror

FORBIDDEN_PAGE = (
    b"<html><head><title>403 - Forbidden: Access is denied.</title></head><body>"
    b"<h2>403 - Forbidden: Access is denied.</h2></body></html>"
)


def build_tree(
    dest: Path, nemweb_root: Path, *, include: Callable[[str], bool] | None = None
) -> Path:
    """Copy the real NEMWEB-shaped fixture tree to ``dest`` (only paths ``include`` accepts)."""
    for source in sorted(nemweb_root.rglob("*")):
        if not source.is_file():
            continue
        rel = source.relative_to(nemweb_root).as_posix()
        if include is not None and not include(rel):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)  # not copy2: the fixtures are read-only
    return dest


def current_files(tree: Path, feed: str) -> list[str]:
    """Site paths of the CURRENT files of ``feed`` in the tree, sorted by name."""
    folder = tree / tables.FEEDS[feed].current_dir
    if not folder.is_dir():
        return []
    return [tables.FEEDS[feed].current_dir + p.name for p in sorted(folder.iterdir())]


def reissue(tree: Path, site_path: str, new_id: str) -> str:
    """Publish the file at ``site_path`` again under another id (same interval); its new path."""
    parsed = filenames.parse(site_path)
    assert parsed is not None
    assert parsed.kind is filenames.Kind.CURRENT
    assert parsed.feed
    assert parsed.timestamp is not None
    name = filenames.current_name(parsed.feed, parsed.timestamp, new_id, parsed.variant or "")
    new_path = parsed.directory + name
    shutil.copyfile(tree / site_path, tree / new_path)
    return new_path


def rewrite_csv(zip_bytes: bytes, change: Callable[[list[str]], list[str]]) -> bytes:
    """Re-zip ``zip_bytes`` with its CSV's lines passed through ``change`` (CRLF kept)."""
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zin:
        members = [(i.filename, zin.read(i)) for i in zin.infolist()]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in members:
            if name.lower().endswith(".csv"):
                lines = data.decode("latin-1").split("\r\n")
                data = "\r\n".join(change(lines)).encode("latin-1")
            zout.writestr(name, data)
    return out.getvalue()


def corrupt_lines(lines: list[str]) -> list[str]:
    """Break the CSV: a data row's quoted date loses its closing quote and its fields."""
    for i, line in enumerate(lines):
        if line.startswith("D,"):
            lines[i] = 'D,"2025/12/27 00:05:00'
            break
    return lines


def footer_plus_one(lines: list[str]) -> list[str]:
    """Make the ``C,"END OF REPORT",n`` footer count one line too many."""
    for i, line in enumerate(lines):
        if line.startswith('C,"END OF REPORT"'):
            head, count = line.rsplit(",", 1)
            lines[i] = f"{head},{int(count) + 1}"
    return lines


class FaultyNemweb:
    """A running NEMWEB mirror of ``tree`` whose answers can be broken per path."""

    def __init__(self, tree: Path) -> None:
        self.tree = tree
        self._lock = threading.Lock()
        self._faults: dict[str, Callable[[str], MirrorResponse | None]] = {}
        self.requests: Counter[str] = Counter()
        self.mirror = NemwebMirror(tree, intercept=self._intercept)

    def __enter__(self) -> Self:
        self.mirror.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.mirror.stop()

    @property
    def url(self) -> str:
        return self.mirror.url

    def _intercept(self, site_path: str) -> MirrorResponse | None:
        with self._lock:
            self.requests[site_path] += 1
            fault = self._faults.get(site_path)
        return fault(site_path) if fault else None

    def _set(self, site_path: str, fault: Callable[[str], MirrorResponse | None]) -> None:
        with self._lock:
            self._faults[site_path] = fault

    def clear(self, site_path: str | None = None) -> None:
        """Remove the fault of one path, or of all."""
        with self._lock:
            if site_path is None:
                self._faults.clear()
            else:
                self._faults.pop(site_path, None)

    def _file(self, site_path: str) -> bytes:
        return (self.tree / site_path).read_bytes()

    def not_found(self, site_path: str) -> None:
        """Answer 404 although the listing still shows the file (it just rolled off)."""
        page = b"<html><body><h2>404 - File or directory not found.</h2></body></html>"
        self._set(site_path, lambda _: MirrorResponse(404, page))

    def fail(self, site_path: str, times: int, status: int = 500) -> None:
        """Answer ``status`` the first ``times`` requests, then serve normally."""
        remaining = [times]

        def fault(_: str) -> MirrorResponse | None:
            with self._lock:
                if remaining[0] <= 0:
                    return None
                remaining[0] -= 1
            return MirrorResponse(status, b"<html><body>Service Unavailable</body></html>")

        self._set(site_path, fault)

    def delay(self, site_path: str, seconds: float) -> None:
        """Wait ``seconds`` before answering (longer than the client timeout: it gives up)."""

        def fault(_: str) -> None:
            time.sleep(seconds)

        self._set(site_path, fault)

    def forbidden(self, site_path: str) -> None:
        """Answer with IIS's 403 HTML page."""
        self._set(site_path, lambda _: MirrorResponse(403, FORBIDDEN_PAGE))

    def html_instead_of_zip(self, site_path: str) -> None:
        """Answer 200 with an HTML page where the zip should be."""
        self._set(site_path, lambda _: MirrorResponse(200, FORBIDDEN_PAGE, "text/html"))

    def truncate(self, site_path: str) -> None:
        """Serve only the first half of the zip (a download cut short but sent as complete)."""
        data = self._file(site_path)
        cut = data[: len(data) // 2]
        self._set(site_path, lambda _: MirrorResponse(200, cut, "application/x-zip-compressed"))

    def corrupt_csv(self, site_path: str) -> None:
        """Serve a valid zip whose CSV has a malformed data row."""
        data = rewrite_csv(self._file(site_path), corrupt_lines)
        self._set(site_path, lambda _: MirrorResponse(200, data, "application/x-zip-compressed"))

    def footer_mismatch(self, site_path: str) -> None:
        """Serve the file with a footer count one too high (AEMO data otherwise intact)."""
        data = rewrite_csv(self._file(site_path), footer_plus_one)
        self._set(site_path, lambda _: MirrorResponse(200, data, "application/x-zip-compressed"))
