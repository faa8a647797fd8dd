"""Shared fixtures: the real AEMO files in ../shared/fixtures (never copied into the repo)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """Root of ../shared/fixtures; tests that need it skip with a clear reason when absent."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"real AEMO fixtures not found at {SHARED_FIXTURES} (../shared is absent)")
    return SHARED_FIXTURES


@pytest.fixture(scope="session")
def nemweb_root(shared_fixtures: Path) -> Path:
    """The NEMWEB-shaped tree of real files: ``Reports/CURRENT``, ``Reports/ARCHIVE``, MMSDM."""
    return shared_fixtures / "nemweb"
