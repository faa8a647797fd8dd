"""The project's exception hierarchy.

Every error nemdash raises on purpose is a :class:`NemdashError`. Transient errors (worth a retry
after a pause) are kept apart from terminal ones (retrying will not help; the message says what to
do instead). Callers branch on the class, never on the message text.

::

    NemdashError
    ├── TransientError                 retry with backoff
    │   ├── NemwebUnavailable          timeout, connection refused, HTTP 5xx, 429
    │   └── StoreBusy                  another process holds the writer lock
    └── TerminalError                  give up and say why
        ├── ConfigError                a setting is missing or out of range
        ├── NemwebError                NEMWEB answered, but not with data
        │   ├── NemwebNotFound         404: the file rolled off the site (a state, not an alarm)
        │   └── NotAZipError           an HTML page (403 etc.) or other non-zip body
        ├── SourceError                a file we were given cannot be read as AEMO data
        │   ├── UnsupportedSource      not a CSV, zip or zip of zips we know
        │   ├── CorruptArchive         a truncated or damaged zip
        │   └── MMSParseError          malformed MMS CSV (names the file and the line)
        │       └── TruncatedFileError no ``C,"END OF REPORT",n`` footer
        ├── RegistryError              the DUID registry workbook or JSON is unusable
        ├── StoreError                 the lake or its manifest is inconsistent
        └── QueryError                 a query was refused (not read-only, too many rows, timeout)
            └── InvalidParameter       a parameter is wrong: names it, its value and what is allowed
"""

from __future__ import annotations


class NemdashError(Exception):
    """Base class of every error nemdash raises on purpose."""


class TransientError(NemdashError):
    """Retrying later may succeed (network trouble, a busy lock)."""


class TerminalError(NemdashError):
    """Retrying will not help; the message says what to do instead."""


class NemwebUnavailable(TransientError):
    """NEMWEB timed out, refused the connection or answered 5xx/429."""


class StoreBusy(TransientError):
    """Another process holds the writer lock of the data directory."""


class ConfigError(TerminalError):
    """A setting is missing, malformed or out of range."""


class NemwebError(TerminalError):
    """NEMWEB answered, but not with the data asked for."""


class NemwebNotFound(NemwebError):
    """HTTP 404: the file has rolled off NEMWEB (CURRENT keeps about 2-3 days)."""


class NotAZipError(NemwebError):
    """The body is not a zip (typically a 403 or error page served as HTML)."""


class SourceError(TerminalError):
    """A file cannot be read as AEMO data."""


class UnsupportedSource(SourceError):
    """Not a CSV, zip or zip of zips in a layout nemdash knows."""


class CorruptArchive(SourceError):
    """A zip that is truncated or damaged."""


class MMSParseError(SourceError):
    """Malformed MMS CSV. ``source`` names the file (and zip member), ``line`` is 1-based."""

    def __init__(self, message: str, *, source: str, line: int | None = None) -> None:
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.line = line
        self.reason = message


class TruncatedFileError(MMSParseError):
    """The file ends without AEMO's ``C,"END OF REPORT",n`` row: it was cut short."""


class RegistryError(TerminalError):
    """The DUID registry source (workbook or JSON) cannot be used."""


class StoreError(TerminalError):
    """The lake or its manifest is inconsistent or cannot be written."""


class QueryError(TerminalError):
    """A query was refused or failed: not read-only, too many rows, or over its time limit."""


class InvalidParameter(QueryError):
    """A parameter (of a query or an API request) is wrong: unknown, malformed or out of range.

    ``parameter`` names it, ``value`` is what was given, ``allowed`` lists what would be accepted
    (or describes it), ``code`` is a stable machine-readable reason such as ``invalid_region``,
    and ``limit`` the bound that was exceeded, where there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        parameter: str,
        value: object = None,
        allowed: tuple[str, ...] | str | None = None,
        code: str = "invalid_parameter",
        limit: int | None = None,
    ) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.value = value
        self.allowed = allowed
        self.code = code
        self.limit = limit
