"""The REST API on a small store built from the real AEMO fixtures, served by a real uvicorn.

Covers the routes' answers on known values, the one error shape (pinned), the formats (CSV
header and +10:00, Arrow round trip), ETag/304 and Cache-Control, gzip, bearer tokens, CORS, and
the status route (ok, and 503 when the store cannot be read).
"""

from __future__ import annotations

import gzip
import io
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from api_support import copy_store, running, server_settings, shared_store, wait_for
from nemdash.api.deps import Area, FuelId, InterconnectorId, RegionId
from nemdash.api.routes.analysis import PivotKey
from nemdash.nemtime import NEM_TZ
from nemdash.query.analysis import PIVOT_KEYS
from nemdash.query.interconnectors import INTERCONNECTORS
from nemdash.query.metadata import ALL_FUELS
from nemdash.query.resolution import MAX_FORCED_POINTS
from nemdash.store.lake import Lake
from nemdash.tables import REGIONS

DAY = {"start": "2019-05-16", "end": "2019-05-16"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, shared_fixtures: Path) -> Path:
    return shared_store(tmp_path_factory.getbasetemp(), shared_fixtures)


@pytest.fixture(scope="module")
def client(store: Path) -> Iterator[httpx.Client]:
    with running(server_settings(store)) as (_server, http):
        yield http


# -- answers on known values ----------------------------------------------------------------------


def test_nsw1_price_at_1800_on_the_real_day_is_aemos(client: httpx.Client) -> None:
    answer = client.get(
        "/api/v1/prices/series",
        params={
            "region": "NSW1",
            "start": "2019-05-16T17:55",
            "end": "2019-05-16T18:00",
            "resolution": "5m",
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["data"] == [
        {
            "bucket_end": "2019-05-16T18:00:00+10:00",
            "regionid": "NSW1",
            "rrp_mean": 275.84137,
            "rrp_min": 275.84137,
            "rrp_max": 275.84137,
            "intervals": 1,
            "completeness": 1.0,
        }
    ]
    assert body["meta"]["units"]["rrp_mean"] == "$/MWh"
    assert body["meta"]["resolution"] == "5m"
    assert body["meta"]["end"] == "2019-05-16T18:00:00+10:00"
    assert body["meta"]["synthetic"] is False


def test_a_whole_day_at_one_hour_gives_24_buckets_per_region_the_last_partial(
    client: httpx.Client,
) -> None:
    # The archive holds the intervals ending 00:00 .. 23:55 of 2019-05-16; the day (period-
    # ending) is 00:05 .. 24:00, so its last hour lacks the interval ending at midnight.
    answer = client.get("/api/v1/prices/series", params={**DAY, "resolution": "1h"})
    rows = answer.json()["data"]
    assert len(rows) == 24 * len(REGIONS)
    assert {r["regionid"] for r in rows} == set(REGIONS)
    last = [r for r in rows if r["bucket_end"] == "2019-05-17T00:00:00+10:00"]
    assert [(r["intervals"], r["completeness"]) for r in last] == [(11, pytest.approx(11 / 12))] * 5
    others = [r for r in rows if r not in last]
    assert all(r["intervals"] == 12 and r["completeness"] == 1.0 for r in others)
    assert rows[0]["bucket_end"] == "2019-05-16T01:00:00+10:00"


def test_the_point_budget_chooses_the_resolution(client: httpx.Client) -> None:
    answer = client.get("/api/v1/prices/series", params={**DAY, "max_points": 30})
    assert answer.json()["meta"]["resolution"] == "1h"  # 288 > 30 >= 24


def test_interconnector_flow_is_an_import_from_the_regions_point_of_view(
    client: httpx.Client,
) -> None:
    window = {"start": "2025-12-27T00:00", "end": "2025-12-27T00:05", "resolution": "5m"}
    into_nsw = client.get(
        "/api/v1/interconnectors/flows",
        params={**window, "region": "NSW1", "interconnector": "VIC1-NSW1"},
    ).json()["data"]
    into_vic = client.get(
        "/api/v1/interconnectors/flows",
        params={**window, "region": "VIC1", "interconnector": "VIC1-NSW1"},
    ).json()["data"]
    assert into_nsw[0]["flow_mw"] == pytest.approx(1087.51257)
    assert into_vic[0]["flow_mw"] == pytest.approx(-1087.51257)


def test_latest_prices_end_at_the_newest_interval_in_the_store(client: httpx.Client) -> None:
    rows = client.get("/api/v1/prices/latest", params={"intervals": 1}).json()["data"]
    # The newest dispatch prices in the fixtures: the April 2026 monthly archive (NSW1, SA1).
    assert {r["interval_end"] for r in rows} == {"2026-05-01T00:00:00+10:00"}
    assert {r["regionid"] for r in rows} == {"NSW1", "SA1"}


def test_metadata_lists_regions_fuels_and_coverage(client: httpx.Client) -> None:
    regions = client.get("/api/v1/metadata/regions").json()
    assert [r["regionid"] for r in regions["data"]] == list(REGIONS)
    fuels = client.get("/api/v1/metadata/fuels").json()
    assert [f["fuel"] for f in fuels["data"]] == list(ALL_FUELS)
    coverage = client.get("/api/v1/metadata/coverage").json()["data"]
    price = next(t for t in coverage if t["table"] == "dispatch_price")
    assert price["rows"] > 0
    assert price["first_interval"] == "2019-04-30T10:35:00+10:00"
    store = client.get("/api/v1/metadata/store").json()
    assert store["synthetic"] is False
    assert store["store_version"] == store["meta"]["store_version"] > 0
    assert "dispatch_price" in store["tables"]


def test_station_summary_and_search_find_bayswater(client: httpx.Client) -> None:
    found = client.get("/api/v1/stations/search", params={"q": "BW01"}).json()["data"]
    assert found[0]["duid"] == "BW01"
    assert found[0]["match"] == "duid"
    summary = client.get(
        "/api/v1/stations/summary",
        params={"duid": "BW01", "start": "2025-12-26", "end": "2025-12-27"},
    )
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert body["duids"] == ["BW01"]
    # One 5-minute SCADA value of 328.16663 MW: energy = MW x 5/60.
    assert body["energy_mwh"] == pytest.approx(328.166630 * 5 / 60)
    assert body["capacity_basis"]


def test_the_pivot_totals_equal_the_ungrouped_total(client: httpx.Client) -> None:
    window = {"start": "2025-12-26", "end": "2025-12-27"}
    total = client.get("/api/v1/analysis/pivot", params=window).json()["data"]
    by_region = client.get(
        "/api/v1/analysis/pivot", params={**window, "group_by": ["region", "fuel"]}
    ).json()["data"]
    assert len(total) == 1
    assert sum(r["energy_mwh"] for r in by_region) == pytest.approx(total[0]["energy_mwh"])
    assert set(by_region[0]) >= {"regionid", "fuel", "energy_mwh"}
    assert "duid" not in by_region[0]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/prices/latest",
        "/api/v1/prices/series",
        "/api/v1/prices/stats",
        "/api/v1/prices/bands",
        "/api/v1/prices/time-of-day",
        "/api/v1/prices/events",
        "/api/v1/generation/mix",
        "/api/v1/generation/stats",
        "/api/v1/generation/utilisation",
        "/api/v1/generation/time-of-day",
        "/api/v1/generation/renewable-share",
        "/api/v1/interconnectors/flows",
        "/api/v1/stations",
        "/api/v1/analysis/pivot",
    ],
)
def test_every_table_route_answers_its_defaults_in_every_format(
    client: httpx.Client, path: str
) -> None:
    for fmt in ("json", "csv", "arrow"):
        answer = client.get(path, params={"format": fmt})
        assert answer.status_code == 200, (path, fmt, answer.text)
    assert "data" in client.get(path).json()


def test_the_parameter_enumerations_match_the_query_layer() -> None:
    assert tuple(RegionId) == REGIONS
    assert tuple(Area) == ("NEM", *REGIONS)
    assert tuple(FuelId) == ALL_FUELS
    assert tuple(InterconnectorId) == tuple(INTERCONNECTORS)
    assert tuple(PivotKey) == tuple(PIVOT_KEYS)


# -- the one error shape --------------------------------------------------------------------------


def test_an_unknown_region_gets_the_pinned_error_shape(client: httpx.Client) -> None:
    answer = client.get("/api/v1/prices/series", params={"region": "XYZ1"})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "error": {
            "status": 422,
            "code": "invalid_region",
            "message": "region: Input should be 'NSW1', 'QLD1', 'SA1', 'TAS1' or 'VIC1' "
            "(got 'XYZ1')",
            "parameter": "region",
            "value": "XYZ1",
            "allowed": ["NEM", "NSW1", "QLD1", "SA1", "TAS1", "VIC1"],
        }
    }


@pytest.mark.parametrize(
    ("path", "params", "status", "code", "parameter"),
    [
        ("/api/v1/prices/stats", {"start": "yesterday"}, 422, "invalid_date", "start"),
        ("/api/v1/prices/stats", {"end": "2019-02-30"}, 422, "invalid_date", "end"),
        ("/api/v1/prices/stats", {"start": "9999-12-31"}, 422, "invalid_date", "start"),
        (
            "/api/v1/prices/stats",
            {"start": "2019-05-17", "end": "2019-05-16T12:00"},
            422,
            "invalid_range",
            "end",
        ),
        ("/api/v1/prices/series", {"format": "xlsx"}, 422, "invalid_format", "format"),
        ("/api/v1/prices/series", {"resolution": "2m"}, 422, "invalid_resolution", "resolution"),
        ("/api/v1/generation/mix", {"region": "QLDC"}, 422, "invalid_region", "region"),
        ("/api/v1/generation/time-of-day", {"fuel": "coal"}, 422, "invalid_fuel", "fuel"),
        (
            "/api/v1/interconnectors/flows",
            {"region": "TAS1", "interconnector": "V-SA"},
            422,
            "invalid_interconnector",
            "interconnector",
        ),
        ("/api/v1/prices/latest", {"intervals": "0"}, 422, "invalid_parameter", "intervals"),
        ("/api/v1/stations/search", {}, 422, "missing_parameter", "q"),
        ("/api/v1/stations/summary", {}, 422, "missing_parameter", "station"),
        ("/api/v1/analysis/pivot", {"group_by": ["fuel", "fuel"]}, 422, "invalid_parameter", None),
    ],
)
def test_bad_input_says_what_was_wrong_in_the_one_shape(
    client: httpx.Client,
    path: str,
    params: dict[str, str],
    status: int,
    code: str,
    parameter: str | None,
) -> None:
    answer = client.get(path, params=params)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert set(answer.json()) == {"error"}
    assert error["status"] == status
    assert error["code"] == code
    assert error["message"]
    if parameter is not None:
        assert error["parameter"] == parameter


def test_a_forced_resolution_over_too_long_a_range_is_refused_with_the_limit(
    client: httpx.Client,
) -> None:
    answer = client.get(
        "/api/v1/prices/series",
        params={"start": "2019-01-01", "end": "2021-01-01", "resolution": "5m"},
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "range_too_long"
    assert error["limit"] == MAX_FORCED_POINTS
    assert error["allowed"] == ["30m", "1h", "day", "month", "quarter", "year"]
    assert f"{MAX_FORCED_POINTS:,}" in error["message"]


def test_the_root_leads_to_the_docs_until_something_is_mounted_there(
    client: httpx.Client, store: Path
) -> None:
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == "/docs"
    assert client.get("/docs").status_code == 200

    def mount(app: FastAPI) -> None:
        @app.get("/", include_in_schema=False)
        async def dashboard() -> PlainTextResponse:
            return PlainTextResponse("the dashboard")

    with running(server_settings(store), mount=mount) as (_server, http):
        assert http.get("/").text == "the dashboard"
        assert http.get("/api/v1/metadata/regions").status_code == 200


def test_unknown_routes_and_methods_answer_in_the_one_shape(client: httpx.Client) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = client.post("/api/v1/prices/series")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"


# -- formats --------------------------------------------------------------------------------------


def test_csv_carries_units_in_the_header_and_nem_time(client: httpx.Client) -> None:
    answer = client.get("/api/v1/prices/series", params={**DAY, "region": "NSW1", "format": "csv"})
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    lines = answer.text.splitlines()
    header = lines[0].replace('"', "").split(",")
    assert header == [
        "bucket_end",
        "regionid",
        "rrp_mean_aud_per_mwh",
        "rrp_min_aud_per_mwh",
        "rrp_max_aud_per_mwh",
        "intervals",
        "completeness",
    ]
    first = lines[1].replace('"', "").split(",")
    assert first[0].endswith("+10:00")
    assert datetime.fromisoformat(first[0]).utcoffset() == NEM_TZ.utcoffset(None)
    assert not answer.text.startswith("#")


def test_arrow_round_trips_with_nem_time_and_units(client: httpx.Client) -> None:
    answer = client.get(
        "/api/v1/prices/series",
        params={
            "region": "NSW1",
            "start": "2019-05-16T17:55",
            "end": "2019-05-16T18:00",
            "resolution": "5m",
            "format": "arrow",
        },
    )
    assert answer.headers["content-type"] == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(io.BytesIO(answer.content)).read_all()
    assert table.schema.field("bucket_end").type == pa.timestamp("us", tz="+10:00")
    assert table.column("bucket_end")[0].as_py() == datetime(2019, 5, 16, 18, 0, tzinfo=NEM_TZ)
    assert table.column("rrp_mean").to_pylist() == [275.84137]
    assert table.schema.field("rrp_mean").metadata == {b"unit": b"$/MWh"}
    metadata = table.schema.metadata
    assert metadata[b"nemdash.synthetic"] == b"false"
    assert int(metadata[b"nemdash.store_version"]) > 0


def test_a_synthetic_store_is_labelled_in_json_csv_and_headers(store: Path, tmp_path: Path) -> None:
    demo = copy_store(store, tmp_path / "demo")
    with Lake(server_settings(demo).paths).writer() as writer:
        writer.set_state("store.synthetic", "true")
        writer.publish({}, [])  # a new version, as the demo build's last publish would be
    with running(server_settings(demo)) as (_server, http):
        csv = http.get("/api/v1/prices/series", params={**DAY, "format": "csv"})
        assert csv.text.splitlines()[0] == "# synthetic demo data"
        assert csv.headers["x-nemdash-synthetic"] == "true"
        assert http.get("/api/v1/prices/series", params=DAY).json()["meta"]["synthetic"] is True
        assert http.get("/api/v1/metadata/store").json()["synthetic"] is True


# -- HTTP caching and compression -----------------------------------------------------------------


def test_a_repeated_request_with_its_etag_gets_a_304(client: httpx.Client) -> None:
    first = client.get("/api/v1/prices/stats", params=DAY)
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    assert first.headers["cache-control"] == "public, max-age=60"
    again = client.get("/api/v1/prices/stats", params=DAY, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = client.get(
        "/api/v1/prices/stats", params={**DAY, "region": "SA1"}, headers={"If-None-Match": etag}
    )
    assert other.status_code == 200
    assert other.headers["etag"] != etag


def after_a_publish(
    store: Path, http: httpx.Client, path: str, params: dict[str, str], first: httpx.Response
) -> httpx.Response:
    """Publish a new store version; once the server no longer answers 304 to ``first``'s ETag,
    the new answer."""
    with Lake(server_settings(store).paths).writer() as writer:
        writer.publish({}, [])

    def moved() -> bool:
        answer = http.get(path, params=params, headers={"If-None-Match": first.headers["etag"]})
        return answer.status_code == 200

    assert wait_for(moved, timeout=10)
    return http.get(path, params=params)


def test_a_repeated_request_line_is_answered_by_the_fast_path_with_the_same_bytes(
    store: Path, tmp_path: Path
) -> None:
    private = copy_store(store, tmp_path / "store")
    params = {**DAY, "resolution": "5m"}
    with running(server_settings(private)) as (server, http):
        responses = server.app.state.runtime.responses
        first = http.get("/api/v1/prices/series", params=params)
        assert responses.fast_answers == 0
        again = http.get("/api/v1/prices/series", params=params)
        assert responses.fast_answers == 1
        assert again.status_code == 200
        assert again.content == first.content
        for name in ("etag", "cache-control", "vary", "content-type", "x-nemdash-store-version"):
            assert again.headers[name] == first.headers[name]
        assert again.headers["content-encoding"] == first.headers["content-encoding"] == "gzip"
        plain = http.get("/api/v1/prices/series", params=params, headers={"Accept-Encoding": ""})
        assert "content-encoding" not in plain.headers
        assert plain.content == first.content
        revalidated = http.get(
            "/api/v1/prices/series", params=params, headers={"If-None-Match": first.headers["etag"]}
        )
        assert revalidated.status_code == 304
        assert responses.fast_answers == 3
        # A new store version: the fast path steps aside and the application answers anew.
        newer = after_a_publish(private, http, "/api/v1/prices/series", params, first)
        assert newer.headers["etag"] != first.headers["etag"]


def test_a_new_store_version_changes_the_etag(store: Path, tmp_path: Path) -> None:
    private = copy_store(store, tmp_path / "store")
    with running(server_settings(private)) as (_server, http):
        first = http.get("/api/v1/prices/stats", params=DAY)
        newer = after_a_publish(private, http, "/api/v1/prices/stats", DAY, first)
        assert newer.headers["etag"] != first.headers["etag"]
        assert int(newer.headers["x-nemdash-store-version"]) == (
            int(first.headers["x-nemdash-store-version"]) + 1
        )


def test_big_answers_are_gzipped_when_the_client_accepts_it(client: httpx.Client) -> None:
    url = str(client.base_url.join("/api/v1/prices/series"))
    params = {**DAY, "resolution": "5m"}
    with httpx.Client() as raw:
        with raw.stream("GET", url, params=params, headers={"Accept-Encoding": "gzip"}) as packed:
            wire = b"".join(packed.iter_raw())
            headers = packed.headers
        plain = raw.get(url, params=params, headers={"Accept-Encoding": "identity"})
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert "content-encoding" not in plain.headers
    assert len(wire) < len(plain.content) / 3
    assert gzip.decompress(wire) == plain.content


# -- tokens and CORS ------------------------------------------------------------------------------


def test_tokens_guard_the_api_but_not_the_status(store: Path, tmp_path: Path) -> None:
    token_file = tmp_path / "tokens"
    token_file.write_text("# rotated monthly\nfile-token-1\n")
    settings = server_settings(store, api_tokens="env-token", api_tokens_file=token_file)
    with running(settings) as (_server, http):
        refused = http.get("/api/v1/prices/latest")
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
        assert refused.headers["www-authenticate"].startswith("Bearer")
        wrong = http.get("/api/v1/prices/latest", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        for token in ("env-token", "file-token-1"):
            ok = http.get("/api/v1/prices/latest", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200, token
            assert ok.headers["cache-control"].startswith("private")
        assert http.get("/api/v1/status").status_code == 200
        token_file.write_text("file-token-2\n")

        def rotated() -> bool:
            old = http.get(
                "/api/v1/prices/latest", headers={"Authorization": "Bearer file-token-1"}
            )
            return old.status_code == 401

        assert wait_for(rotated, timeout=10)
        new = http.get("/api/v1/prices/latest", headers={"Authorization": "Bearer file-token-2"})
        assert new.status_code == 200


def test_cors_answers_only_the_configured_origins(store: Path) -> None:
    settings = server_settings(store, cors_origins="https://dash.example.org")
    with running(settings) as (_server, http):
        allowed = http.get(
            "/api/v1/metadata/regions", headers={"Origin": "https://dash.example.org"}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://dash.example.org"
        assert "etag" in allowed.headers["access-control-expose-headers"].lower()
        other = http.get("/api/v1/metadata/regions", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        preflight = http.options(
            "/api/v1/prices/series",
            headers={
                "Origin": "https://dash.example.org",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "Authorization",
            },
        )
        assert preflight.status_code == 200
        assert "GET" in preflight.headers["access-control-allow-methods"]


def test_no_cors_headers_without_configured_origins(client: httpx.Client) -> None:
    answer = client.get("/api/v1/metadata/regions", headers={"Origin": "https://a.example"})
    assert "access-control-allow-origin" not in answer.headers


# -- status ---------------------------------------------------------------------------------------


def test_status_reports_the_store_and_no_collector(client: httpx.Client) -> None:
    answer = client.get("/api/v1/status")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["status"] == "ok", body["problems"]
    assert body["collector"] == {
        "enabled": False,
        "role": "off",
        "alive": False,
        "pid": None,
        "last_cycle": None,
        "consecutive_failures": 0,
    }
    assert [f["feed"] for f in body["feeds"]] == [
        "DispatchIS_Reports",
        "Dispatch_SCADA",
        "TradingIS_Reports",
        "ROOFTOP_PV_ACTUAL",
    ]
    assert body["cache"]["responses"]["max_bytes"] > 0
    assert body["store_version"] > 0


def test_an_unreadable_store_gives_503_and_data_routes_say_so(store: Path, tmp_path: Path) -> None:
    broken = copy_store(store, tmp_path / "broken")
    with running(server_settings(broken)) as (_server, http):
        assert http.get("/api/v1/status").status_code == 200
        (broken / "state.sqlite").write_bytes(b"this is not a database" * 100)
        for suffix in ("-wal", "-shm"):
            (broken / f"state.sqlite{suffix}").unlink(missing_ok=True)
        time.sleep(0.3)  # past the cache's version poll
        status = http.get("/api/v1/status")
        assert status.status_code == 503
        assert status.json()["status"] == "unavailable"
        assert status.json()["problems"][0].startswith("the store cannot be read")
        data = http.get("/api/v1/prices/stats", params={**DAY, "region": "QLD1"})
        assert data.status_code == 503
        assert data.json()["error"]["code"] == "store_unavailable"
        assert data.headers["retry-after"] == "5"
