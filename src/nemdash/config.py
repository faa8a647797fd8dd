"""Settings: one pydantic-settings class, read from ``NEMDASH_*`` environment variables.

Reach it through :func:`get_settings` (never at import time). Every field is documented where it is
declared; ``docs/configuration.md`` lists them all and a test keeps that page in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """The per-user data directory (``~/.local/share/nemdash`` on Linux)."""
    return Path(platformdirs.user_data_dir("nemdash", appauthor=False))


class Settings(BaseSettings):
    """All of nemdash's settings. Environment: ``NEMDASH_<FIELD>`` (upper case)."""

    model_config = SettingsConfigDict(env_prefix="NEMDASH_", extra="ignore")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the lake, its manifest, raw files and caches live.",
    )
    nemweb_url: str = Field(
        default="https://nemweb.com.au",
        description="Base URL of NEMWEB (a local mirror or test server can stand in).",
    )
    user_agent: str = Field(
        default="nemdash/0.1 (+open-source NEM dashboard)",
        description="User-Agent sent to NEMWEB and AEMO.",
    )
    http_timeout: float = Field(
        default=30.0, gt=0, description="Seconds before one HTTP request is abandoned."
    )
    http_concurrency: int = Field(
        default=4, ge=1, le=32, description="Downloads in flight at once (be polite to NEMWEB)."
    )
    http_retries: int = Field(
        default=4, ge=0, le=20, description="Retries of a transient HTTP failure, with backoff."
    )
    http_backoff: float = Field(
        default=1.0, ge=0, description="First backoff pause in seconds; it doubles each retry."
    )
    keep_raw: bool = Field(
        default=True,
        description="Keep every downloaded zip under <data_dir>/raw so a parser fix can re-ingest.",
    )
    poll_delay: float = Field(
        default=35.0,
        ge=0,
        description="Seconds after each 5-minute boundary before the collector polls NEMWEB "
        "(AEMO publishes about 20-40 s after the interval ends).",
    )
    poll_every: float = Field(
        default=0.0,
        ge=0,
        description="Seconds between collector polls regardless of the 5-minute boundaries; 0 "
        "(the default) follows AEMO's boundaries. For a mirror on an accelerated clock (the live "
        "synthetic NEM, the soak benchmark), not for NEMWEB itself.",
    )
    repoll_interval: float = Field(
        default=10.0,
        gt=0,
        description="Seconds between polls while the newest interval of a 5-minute feed is late "
        "(after the poll at `poll_delay`, for up to `repoll_window` seconds after the boundary).",
    )
    repoll_window: float = Field(
        default=150.0,
        ge=0,
        description="Seconds after a 5-minute boundary during which a late interval is polled "
        "for every `repoll_interval` seconds; after that, the next regular poll.",
    )
    registry_url: str = Field(
        default=(
            "https://www.aemo.com.au/-/media/files/electricity/nem/participant_information/"
            "nem-registration-and-exemption-list.xlsx"
        ),
        description="Where `nemdash registry update` downloads AEMO's registration list.",
    )
    stations_json_url: str | None = Field(
        default=None,
        description="Optional URL or path of Open Electricity's stations.json to merge in.",
    )
    duckdb_memory_limit: str = Field(
        default="2GB", description="DuckDB memory_limit for each process."
    )
    duckdb_threads: int = Field(default=2, ge=1, description="DuckDB threads for each process.")
    query_timeout: float = Field(
        default=30.0, gt=0, description="Seconds before a query is interrupted."
    )
    query_row_cap: int = Field(
        default=1_000_000, ge=1, description="Most rows one query may return; more is truncated."
    )

    # -- Query result cache (query/cache.py, docs/caching.md) --------------------------------------
    cache_memory_bytes: int = Field(
        default=128 * 2**20,
        ge=0,
        description="Bytes of query results each process keeps in memory (LRU); 0 turns the "
        "memory cache off.",
    )
    cache_ttl: float = Field(
        default=900.0,
        gt=0,
        description="Seconds a result stays in the memory cache after it was computed or read "
        "from disk.",
    )
    cache_disk_bytes: int = Field(
        default=2**30,
        ge=0,
        description="Bytes of Arrow results kept under <data_dir>/cache/query, shared by every "
        "process and evicted least recently used first; 0 turns the disk cache off.",
    )
    cache_version_poll: float = Field(
        default=1.0,
        ge=0,
        description="Most seconds a process's cache goes without checking the store version, "
        "i.e. how late another process's publish may be noticed; 0 checks on every call.",
    )

    # -- Server and REST API (server.py, refresh.py, api/, docs/operating.md) ----------------------
    server_collect: bool = Field(
        default=True,
        description="Run the live collector inside `nemdash serve` (with several workers exactly "
        "one collects, chosen by <data_dir>/collector.lock); false when a separate `nemdash "
        "collect` process keeps the store up to date.",
    )
    api_tokens: SecretStr | None = Field(
        default=None,
        description="Comma-separated bearer tokens; when set (or api_tokens_file is), every "
        "/api/v1 route but /api/v1/status asks for `Authorization: Bearer <token>`.",
    )
    api_tokens_file: Path | None = Field(
        default=None,
        description="A file of bearer tokens, one per line (`#` starts a comment); re-read when "
        "it changes, so tokens can be rotated without a restart.",
    )
    cors_origins: str = Field(
        default="",
        description="Comma-separated origins allowed to call the API from a browser "
        "(`*`: any); empty sends no CORS headers.",
    )
    api_cache_max_age: int = Field(
        default=60,
        ge=0,
        description="Seconds clients and proxies may reuse an API response (Cache-Control "
        "max-age); then they revalidate with its ETag and get a 304 if the store has not changed.",
    )
    api_response_cache_bytes: int = Field(
        default=64 * 2**20,
        ge=0,
        description="Bytes of rendered API responses (JSON, CSV, Arrow; gzipped too) each "
        "process keeps, keyed on the store version; 0 turns this cache off.",
    )
    stale_after: float = Field(
        default=900.0,
        gt=0,
        description="Seconds after a feed's newest file before /api/v1/status calls the data "
        "stale (status degraded, data still served).",
    )
    shutdown_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds the server waits at SIGTERM/SIGINT for the background collector to "
        "finish or abandon its write (the lake is crash-safe either way).",
    )

    # -- Synthetic demo store (demo/build.py, demo/live.py, docs/demo.md) --------------------------
    demo_data_dir: Path | None = Field(
        default=None,
        description="Where `nemdash demo` and the offline first run keep the synthetic demo store "
        "(its own lake and the generated NEMWEB tree); never the real data_dir. Unset: a "
        "`nemdash-demo` folder beside the per-user data folder.",
    )
    demo_seed: int = Field(
        default=1,
        ge=0,
        description="Seed of the synthetic NEM: the same seed and size give the same stations, "
        "weather and prices.",
    )
    demo_probe_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Seconds the offline first run waits for a NEMWEB listing before it serves "
        "the demo store instead.",
    )
    demo_days: int = Field(
        default=30, ge=1, description="Days of data in the demo store the offline first run builds."
    )
    demo_units: int = Field(
        default=450, ge=10, description="Units in the demo store the offline first run builds."
    )
    demo_recheck: float = Field(
        default=60.0,
        gt=0,
        description="While the offline first run serves the demo store, seconds between checks "
        "of NEMWEB; once a collection succeeds the server switches to the real store.",
    )

    @property
    def paths(self) -> DataPaths:
        return DataPaths(self.data_dir)


@dataclass(frozen=True)
class DataPaths:
    """The layout of a data directory."""

    root: Path

    @property
    def lake(self) -> Path:
        """Parquet files: ``lake/<table>/month=YYYY-MM/<file>.parquet``."""
        return self.root / "lake"

    @property
    def state_db(self) -> Path:
        """SQLite manifest: store versions, live files, ingested sources, quarantine, watermarks."""
        return self.root / "state.sqlite"

    @property
    def writer_lock(self) -> Path:
        """File lock held by the one process that writes (collects or ingests)."""
        return self.root / "writer.lock"

    @property
    def collector_lock(self) -> Path:
        """File lock held for as long as a server process runs the live collector."""
        return self.root / "collector.lock"

    @property
    def raw(self) -> Path:
        """Downloaded zips as AEMO served them, by feed."""
        return self.root / "raw"

    @property
    def quarantine(self) -> Path:
        """Files that could not be ingested, each beside a ``.reason`` text file."""
        return self.root / "quarantine"

    @property
    def registry(self) -> Path:
        """The DUID registry (Parquet) and the source files it was built from."""
        return self.root / "registry"

    @property
    def cache(self) -> Path:
        """Persistent query cache."""
        return self.root / "cache"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings()
