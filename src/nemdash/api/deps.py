"""What routes share: the process's runtime, bearer tokens, and the parameters, declared once.

Parameters are typed so that FastAPI validates them and OpenAPI lists what is allowed: regions,
fuels, interconnectors, resolutions and formats are enumerations; ``start``/``end`` are parsed
here (:func:`parse_time`) so that a bad date gets ``invalid_date`` with the accepted forms.
Ranges are ``(start, end]``, period-ending, NEM time (UTC+10): a bare date means that day's
midnight for ``start`` and the next midnight for ``end``, so ``start=2024-03-01&end=2024-03-01``
is the whole day (intervals ending 00:05 .. 24:00). Omitted, ``end`` is the newest interval in
the store and ``start`` one day before it.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Final

import pyarrow as pa
from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.responses import Response

from nemdash import nemtime
from nemdash.api.formats import Format
from nemdash.api.responses import (
    HttpCaching,
    Rendered,
    ResponseCache,
    StoreState,
    render_model,
    render_table,
    respond,
)
from nemdash.config import Settings
from nemdash.errors import ConfigError, InvalidParameter
from nemdash.query.cache import cache_for
from nemdash.query.connection import Database
from nemdash.query.hotset import preset_range
from nemdash.query.resolution import (
    DEFAULT_MAX_POINTS,
    MAX_FORCED_POINTS,
    Resolution,
    count_points,
)
from nemdash.refresh import HotSet, Refresher
from nemdash.store.lake import Lake

log = logging.getLogger(__name__)

#: The manifest state key that marks the synthetic demo store (set by ``nemdash demo``).
SYNTHETIC_KEY: Final = "store.synthetic"
#: Earliest and latest times a request may name: the NEM began in December 1998.
EARLIEST: Final = datetime(1998, 12, 1, tzinfo=nemtime.NEM_TZ)
LATEST: Final = datetime(2100, 1, 1, tzinfo=nemtime.NEM_TZ)
#: Accepted forms of ``start``/``end``/``at``.
TIME_FORMATS: Final = (
    "YYYY-MM-DD",
    "YYYY-MM-DDTHH:MM",
    "YYYY-MM-DDTHH:MM:SS",
    "YYYY-MM-DDTHH:MM:SS+10:00 (any offset; none means NEM time)",
)
#: Length of the range when ``start`` is omitted.
DEFAULT_SPAN: Final = timedelta(days=1)
_TOKEN_RECHECK = 1.0


# -- enumerated parameters ------------------------------------------------------------------------


class RegionId(StrEnum):
    """A NEM region (AEMO's ids; ``tables.REGIONS``)."""

    NSW1 = "NSW1"
    QLD1 = "QLD1"
    SA1 = "SA1"
    TAS1 = "TAS1"
    VIC1 = "VIC1"


class Area(StrEnum):
    """A NEM region, or the whole market."""

    NEM = "NEM"
    NSW1 = "NSW1"
    QLD1 = "QLD1"
    SA1 = "SA1"
    TAS1 = "TAS1"
    VIC1 = "VIC1"


class FuelId(StrEnum):
    """A fuel: the registry's taxonomy, rooftop PV, and ``unknown`` (``metadata.ALL_FUELS``)."""

    coal_black = "coal_black"
    coal_brown = "coal_brown"
    gas_ccgt = "gas_ccgt"
    gas_ocgt = "gas_ocgt"
    gas_other = "gas_other"
    hydro = "hydro"
    pumped_hydro = "pumped_hydro"
    wind = "wind"
    solar_utility = "solar_utility"
    battery = "battery"
    biomass = "biomass"
    distillate = "distillate"
    other = "other"
    rooftop_solar = "rooftop_solar"
    unknown = "unknown"


class InterconnectorId(StrEnum):
    """An interconnector (AEMO's ids; positive flow runs from the first-named region)."""

    NSW1_QLD1 = "NSW1-QLD1"
    N_Q_MNSP1 = "N-Q-MNSP1"
    VIC1_NSW1 = "VIC1-NSW1"
    V_SA = "V-SA"
    V_S_MNSP1 = "V-S-MNSP1"
    T_V_MNSP1 = "T-V-MNSP1"


#: Values accepted by each enumerated parameter (named in validation errors).
ALLOWED_VALUES: Final[Mapping[str, tuple[str, ...]]] = {
    "region": tuple(a.value for a in Area),
    "fuel": tuple(f.value for f in FuelId),
    "interconnector": tuple(i.value for i in InterconnectorId),
    "resolution": tuple(r.value for r in Resolution),
    "format": tuple(f.value for f in Format),
    "group_by": ("region", "fuel", "station", "duid"),
    "start": TIME_FORMATS,
    "end": TIME_FORMATS,
    "at": TIME_FORMATS,
}


# -- bearer tokens --------------------------------------------------------------------------------


class Tokens:
    """The accepted bearer tokens: from ``api_tokens`` and ``api_tokens_file`` (re-read when
    it changes). No token configured: the API is open."""

    def __init__(self, settings: Settings) -> None:
        secret = settings.api_tokens.get_secret_value() if settings.api_tokens else ""
        self._fixed = frozenset(t.strip() for t in secret.split(",") if t.strip())
        self._file: Path | None = settings.api_tokens_file
        self._from_file: frozenset[str] = frozenset()
        self._stamp: tuple[int, int] | None = None
        self._checked = -float("inf")
        self._lock = threading.Lock()
        if self._file is not None:
            try:
                self._load(self._file)
            except OSError as exc:
                raise ConfigError(
                    f"cannot read the API token file {self._file} (NEMDASH_API_TOKENS_FILE): "
                    f"{exc}; create it with one token per line, or unset the setting"
                ) from exc

    @property
    def enabled(self) -> bool:
        """Whether requests to the API need a token."""
        return bool(self._fixed) or self._file is not None

    def _load(self, path: Path) -> None:
        info = path.stat()
        lines = path.read_text(encoding="utf-8").splitlines()
        tokens = {line.split("#", 1)[0].strip() for line in lines}
        self._from_file = frozenset(t for t in tokens if t)
        self._stamp = (info.st_ino, info.st_mtime_ns)
        log.info("read %d API tokens from %s", len(self._from_file), path)

    def _refresh(self) -> None:
        if self._file is None or time.monotonic() - self._checked < _TOKEN_RECHECK:
            return
        with self._lock:
            self._checked = time.monotonic()
            try:
                info = self._file.stat()
                if (info.st_ino, info.st_mtime_ns) != self._stamp:
                    self._load(self._file)
            except OSError as exc:  # keep the tokens we had: a rotation may be mid-way
                log.warning("cannot re-read the API token file %s: %s", self._file, exc)

    def accepts(self, token: str) -> bool:
        """Whether ``token`` is one of the accepted tokens (compared in constant time)."""
        self._refresh()
        given = token.encode()
        return any(hmac.compare_digest(given, t.encode()) for t in self._fixed | self._from_file)


_bearer = HTTPBearer(
    auto_error=False,
    description="A token from NEMDASH_API_TOKENS or NEMDASH_API_TOKENS_FILE (when set).",
)


# -- the runtime of one server process ------------------------------------------------------------


class Runtime:
    """Everything a server process shares between requests: settings, store, caches, refresh."""

    def __init__(self, settings: Settings, *, hot_set: HotSet | None = None) -> None:
        self.settings = settings
        self.lake = Lake(settings.paths)
        self.db = Database(settings, self.lake)
        self.tokens = Tokens(settings)
        self.caching = HttpCaching(settings.api_cache_max_age, private=self.tokens.enabled)
        self.responses = ResponseCache(settings.api_response_cache_bytes)
        self.refresher = Refresher(
            settings, self.db, collect=settings.server_collect, hot_set=hot_set
        )
        self.refresher.on_new_version(self._forget_responses)
        self.started_at = nemtime.now()
        self.pid = os.getpid()
        self._state: StoreState | None = None

    def _forget_responses(self, version: int) -> None:
        """A new store version: every rendered response is now of an old one."""
        dropped = self.responses.clear()
        log.debug("store version %d: %d rendered responses dropped", version, dropped)

    def store_state(self) -> StoreState:
        """The store version and tag the next answer is computed at (see ``responses``)."""
        tags = cache_for(self.db).tags(self.db.view_version)
        state = self._state
        if state is None or state.tag != tags.store:
            synthetic = self.lake.get_state(SYNTHETIC_KEY) == "true"
            state = StoreState(tags.version, tags.store, synthetic)
            self._state = state
        return state

    async def table(
        self,
        request: Request,
        fmt: Format,
        compute: Callable[[Database], pa.Table],
        *,
        units: Mapping[str, str] | None = None,
        filename: str = "nemdash",
    ) -> Response:
        """Answer with a table in the asked format (ETag, 304, response cache)."""
        state = self.store_state()

        def render() -> Rendered:
            return render_table(compute(self.db), fmt, state, units=units, filename=filename)

        return await respond(
            request,
            state=state,
            cache=self.responses,
            caching=self.caching,
            fmt=fmt,
            render=render,
        )

    async def model(
        self, request: Request, compute: Callable[[Database, StoreState], BaseModel]
    ) -> Response:
        """Answer with a pydantic model as JSON (ETag, 304, response cache)."""
        state = self.store_state()
        return await respond(
            request,
            state=state,
            cache=self.responses,
            caching=self.caching,
            fmt=None,
            render=lambda: render_model(compute(self.db, state)),
        )


def get_runtime(request: Request) -> Runtime:
    """The runtime of the app serving ``request``."""
    runtime = getattr(request.app.state, "runtime", None)
    if not isinstance(runtime, Runtime):
        raise RuntimeError("the app has no runtime: build it with nemdash.api.app.create_app()")
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Refuse the request (401) unless it carries an accepted bearer token."""
    tokens = get_runtime(request).tokens
    if not tokens.enabled:
        return
    if credentials is None or not tokens.accepts(credentials.credentials):
        raise HTTPException(
            401,
            "a bearer token is required: send `Authorization: Bearer <token>` with a token "
            "from the server's NEMDASH_API_TOKENS or NEMDASH_API_TOKENS_FILE",
            headers={"WWW-Authenticate": 'Bearer realm="nemdash"'},
        )


# -- times and ranges -----------------------------------------------------------------------------


def parse_time(text: str, parameter: str, *, end_of_day: bool = False) -> datetime:
    """A user's date or time as an aware NEM-time datetime; InvalidParameter if it is not one."""
    try:
        value = nemtime.parse_user_time(text, end_of_day=end_of_day)
    except (ValueError, OverflowError):
        raise InvalidParameter(
            f"{parameter}: {text!r} is not a date or time; use {', '.join(TIME_FORMATS)}",
            parameter=parameter,
            value=text,
            allowed=TIME_FORMATS,
            code="invalid_date",
        ) from None
    if not EARLIEST <= value <= LATEST:
        raise InvalidParameter(
            f"{parameter}: {text!r} is outside the times the API answers for "
            f"({nemtime.isoformat(EARLIEST)} to {nemtime.isoformat(LATEST)})",
            parameter=parameter,
            value=text,
            allowed=(f"{EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}",),
            code="invalid_date",
        )
    return value


@dataclass(frozen=True)
class TimeRange:
    """``start``/``end`` as given (parsed); omitted ones are filled by :meth:`bounds`."""

    start: datetime | None
    end: datetime | None

    def bounds(self, db: Database) -> tuple[datetime, datetime]:
        """``(start, end]``, defaults filled in.

        Both omitted: the dashboard's one-day preset (the day up to the end of the half hour
        holding the newest price in the store; :func:`nemdash.query.hotset.preset_range`), so
        that the answer is one the cache warmer has already computed. ``end`` omitted: that
        same end; ``start`` omitted: :data:`DEFAULT_SPAN` before ``end``. An empty store: the
        day up to now.
        """
        end = self.end
        if end is None:
            preset = preset_range(db, "1d")
            if preset is not None and self.start is None:
                return preset
            end = preset[1] if preset is not None else nemtime.interval_ending(nemtime.now(), 30)
        start = self.start if self.start is not None else end - DEFAULT_SPAN
        if end <= start:
            raise InvalidParameter(
                f"the range is empty: end {nemtime.isoformat(end)} (the newest data, as end "
                f"was not given) is not after start {nemtime.isoformat(start)}; give an end",
                parameter="start",
                value=nemtime.isoformat(start),
                allowed=("a start before the newest data, or an end",),
                code="invalid_range",
            )
        return start, end


def time_range(
    start: Annotated[
        str | None,
        Query(
            description="Start of the range, exclusive (NEM time unless an offset is given). "
            "A date means its midnight. Default: one day before `end`.",
            examples=["2025-12-26", "2025-12-26T12:00", "2025-12-26T12:00:00+10:00"],
            max_length=40,
        ),
    ] = None,
    end: Annotated[
        str | None,
        Query(
            description="End of the range, inclusive (period-ending). A date means the next "
            "midnight, so the day is included. Default: the newest interval in the store.",
            examples=["2025-12-27", "2025-12-27T00:05"],
            max_length=40,
        ),
    ] = None,
) -> TimeRange:
    """The ``start``/``end`` parameters, parsed and checked for order."""
    low = parse_time(start, "start") if start is not None else None
    high = parse_time(end, "end", end_of_day=True) if end is not None else None
    if low is not None and high is not None and high <= low:
        raise InvalidParameter(
            f"the range is empty: end {end!r} is not after start {start!r} "
            "(ranges are (start, end], period-ending; a bare end date includes its day)",
            parameter="end",
            value=end,
            allowed=("a time after start",),
            code="invalid_range",
        )
    return TimeRange(low, high)


def check_points(start: datetime, end: datetime, resolution: Resolution | None) -> None:
    """Refuse a forced resolution that would give more points than the hard cap."""
    if resolution is None:
        return
    points = count_points(start, end, resolution)
    if points <= MAX_FORCED_POINTS:
        return
    fitting = tuple(r.value for r in Resolution if count_points(start, end, r) <= MAX_FORCED_POINTS)
    raise InvalidParameter(
        f"resolution {resolution.value} over this range gives {points:,} points per series, "
        f"more than the limit of {MAX_FORCED_POINTS:,} (366 days of 5-minute data); use one of "
        f"{', '.join(fitting)}, shorten the range, or omit resolution to let the point budget "
        "choose",
        parameter="resolution",
        value=resolution.value,
        allowed=fitting,
        code="range_too_long",
        limit=MAX_FORCED_POINTS,
    )


def values(items: Sequence[StrEnum] | None) -> list[str] | None:
    """Plain strings of enumerated parameters (None stays None)."""
    return None if items is None else [item.value for item in items]


# -- declared once --------------------------------------------------------------------------------

RangeDep = Annotated[TimeRange, Depends(time_range)]
FormatQuery = Annotated[
    Format,
    Query(alias="format", description="`json` (default), `csv` (units in the header) or `arrow`."),
]
RegionsQuery = Annotated[
    list[RegionId] | None,
    Query(description="Regions (repeat the parameter for several). Default: all five."),
]
AreaQuery = Annotated[Area, Query(description="`NEM` (the whole market) or one region.")]
FuelsQuery = Annotated[
    list[FuelId] | None,
    Query(description="Fuels (repeat for several). Default: every fuel."),
]
ResolutionQuery = Annotated[
    Resolution | None,
    Query(
        description="Force a resolution (refused when it would give more than "
        f"{MAX_FORCED_POINTS:,} points). Default: the finest within `max_points`."
    ),
]
MaxPointsQuery = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_FORCED_POINTS,
        description="Point budget per series: the resolution is the finest that fits.",
    ),
]
DEFAULT_POINTS: Final = DEFAULT_MAX_POINTS


__all__ = [
    "ALLOWED_VALUES",
    "DEFAULT_POINTS",
    "SYNTHETIC_KEY",
    "Area",
    "AreaQuery",
    "FormatQuery",
    "FuelId",
    "FuelsQuery",
    "InterconnectorId",
    "MaxPointsQuery",
    "RangeDep",
    "RegionId",
    "RegionsQuery",
    "ResolutionQuery",
    "Runtime",
    "RuntimeDep",
    "TimeRange",
    "Tokens",
    "check_points",
    "get_runtime",
    "parse_time",
    "require_token",
    "time_range",
    "values",
]
