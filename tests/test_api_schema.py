"""Schemathesis against the OpenAPI spec: no input ever gives a 500, and every answer matches
its documented status, content type and schema. A bounded, derandomised number of examples per
operation, on the small store built from the real fixtures, served by a real uvicorn.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api_support import REPO, running, server_settings, shared_store
from nemdash.api.app import create_app

#: Examples per operation: enough to hit every parameter's bad values, bounded for the 2 cores.
EXAMPLES = 25


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory, shared_fixtures: Path) -> Iterator[str]:
    store = shared_store(tmp_path_factory.getbasetemp(), shared_fixtures)
    with running(server_settings(store)) as (server, _client):
        yield server.url


def _spec() -> dict[str, Any]:
    """The app's OpenAPI document (building the app touches no file: the store is opened lazily).

    Loaded at import because schemathesis parametrizes at collection; its lazy loader
    (``schemathesis.pytest.from_fixture``) does not work with this pytest version.
    """
    app = create_app(server_settings(Path(tempfile.gettempdir()) / "nemdash-spec-only"))
    return app.openapi()


schema = schemathesis.openapi.from_dict(_spec())


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_input_gives_a_500_and_answers_match_the_spec(
    case: schemathesis.Case, api_url: str
) -> None:
    case.call_and_validate(
        base_url=api_url,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )


def test_the_served_spec_documents_every_route_and_the_error_shape(api_url: str) -> None:
    raw = httpx.get(f"{api_url}/openapi.json").json()
    assert raw == schema.raw_schema
    paths = set(raw["paths"])
    assert {
        "/api/v1/status",
        "/api/v1/prices/series",
        "/api/v1/generation/mix",
        "/api/v1/interconnectors/flows",
        "/api/v1/stations/search",
        "/api/v1/analysis/pivot",
        "/api/v1/metadata/coverage",
    } <= paths
    series = raw["paths"]["/api/v1/prices/series"]["get"]["responses"]
    assert set(series["200"]["content"]) == {
        "application/json",
        "text/csv",
        "application/vnd.apache.arrow.stream",
    }
    assert series["422"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorResponse")


def test_every_route_and_error_code_is_documented() -> None:
    doc = (REPO / "docs" / "api.md").read_text()
    missing = [path for path in schema.raw_schema["paths"] if f"`{path}" not in doc]
    assert not missing, f"routes missing from docs/api.md: {missing}"
    codes = [
        "invalid_region",
        "invalid_fuel",
        "invalid_date",
        "invalid_range",
        "invalid_resolution",
        "invalid_format",
        "invalid_interconnector",
        "range_too_long",
        "missing_parameter",
        "query_refused",
        "unauthorized",
        "store_unavailable",
        "query_timeout",
        "internal_error",
    ]
    assert [c for c in codes if f"`{c}`" not in doc] == []
