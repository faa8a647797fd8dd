"""Settings: one pydantic-settings class, read from ``NEMDASH_*`` environment variables.

Reach it through :func:`get_settings` (never at import time). Every field is documented where it is
declared; ``docs/configuration.md`` lists them all and a test keeps that page in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import Field
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
