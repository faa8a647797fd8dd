"""The NEMWEB client against a real local mirror (with faults), and its retry logic."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from nemdash.errors import NemwebNotFound, NemwebUnavailable, NotAZipError
from nemdash.nemweb import filenames
from nemdash.nemweb.client import NemwebClient
from nemweb_server import FaultyNemweb, build_tree

SCADA = "Reports/CURRENT/Dispatch_SCADA/PUBLIC_DISPATCHSCADA_202512270005_0000000495867506.zip"
MMSDM_DIR = filenames.mmsdm_dir(date(2026, 4, 1))


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory, nemweb_root: Path) -> Path:
    return build_tree(tmp_path_factory.mktemp("nemweb"), nemweb_root)


@pytest.fixture
def site(tree: Path) -> Iterator[FaultyNemweb]:
    with FaultyNemweb(tree) as server:
        yield server


def make_client(url: str, **kwargs: float) -> NemwebClient:
    options: dict[str, float] = {"timeout": 2.0, "retries": 2, "backoff": 0.0, **kwargs}
    return NemwebClient(
        url,
        user_agent="nemdash-test",
        timeout=options["timeout"],
        retries=int(options["retries"]),
        backoff=options["backoff"],
        concurrency=2,
    )


def test_get_zip_returns_the_bytes_on_disk(site: FaultyNemweb, tree: Path) -> None:
    with make_client(site.url) as client:
        assert client.get_zip(SCADA) == (tree / SCADA).read_bytes()


def test_list_dir_of_the_mirror_gives_every_file(site: FaultyNemweb) -> None:
    with make_client(site.url) as client:
        listing = client.list_dir("Reports/CURRENT/DispatchIS_Reports")
    assert [f.name for f in listing.files] == [
        "PUBLIC_DISPATCHIS_201904301035_0000000307325047.zip",
        "PUBLIC_DISPATCHIS_202512270005_0000000495867501.zip",
    ]
    assert listing.parent == "Reports/CURRENT/"


def test_mmsdm_file_with_literal_percent23_is_listed_and_downloaded(
    site: FaultyNemweb, tree: Path
) -> None:
    with make_client(site.url) as client:
        listing = client.list_dir(MMSDM_DIR)
        parsed = [filenames.parse(f.name) for f in listing.files]
        assert {p.table for p in parsed if p} == {"dispatch_price", "unit_scada"}
        target = next(p for p in parsed if p and p.table == "unit_scada")
        assert client.get_zip(target.path) == (tree / target.path).read_bytes()
        # Asking with %23 (a '#') is not the same file, as on NEMWEB.
        with pytest.raises(NemwebNotFound):
            client.get_zip(target.path.replace("%23", "#"))


def test_folders_match_case_insensitively_like_iis(site: FaultyNemweb) -> None:
    with make_client(site.url) as client:
        listing = client.list_dir("Reports/Current/Dispatch_SCADA/")
    assert len(listing.files) == 2


def test_404_is_not_found(site: FaultyNemweb) -> None:
    site.not_found(SCADA)
    with make_client(site.url) as client, pytest.raises(NemwebNotFound, match="404"):
        client.get_zip(SCADA)
    assert site.requests[SCADA] == 1  # a 404 is a state, not retried


def test_500_twice_then_ok_is_retried(site: FaultyNemweb, tree: Path) -> None:
    site.fail(SCADA, times=2)
    with make_client(site.url, retries=2) as client:
        assert client.get_zip(SCADA) == (tree / SCADA).read_bytes()
    assert site.requests[SCADA] == 3


def test_500_beyond_the_retries_is_unavailable(site: FaultyNemweb) -> None:
    site.fail(SCADA, times=5, status=503)
    with make_client(site.url, retries=1) as client, pytest.raises(NemwebUnavailable, match="503"):
        client.get_zip(SCADA)
    assert site.requests[SCADA] == 2


def test_slow_answer_times_out_as_unavailable(site: FaultyNemweb) -> None:
    site.delay(SCADA, 1.0)
    client = make_client(site.url, timeout=0.2, retries=1)
    with client, pytest.raises(NemwebUnavailable, match="timed out"):
        client.get_zip(SCADA)
    assert site.requests[SCADA] == 2


def test_403_html_page_is_not_a_zip(site: FaultyNemweb) -> None:
    site.forbidden(SCADA)
    with make_client(site.url) as client, pytest.raises(NotAZipError, match="403"):
        client.get_zip(SCADA)
    assert site.requests[SCADA] == 1


def test_200_html_page_is_not_a_zip(site: FaultyNemweb) -> None:
    site.html_instead_of_zip(SCADA)
    with make_client(site.url) as client, pytest.raises(NotAZipError, match="text/html"):
        client.get_zip(SCADA)


def test_connection_refused_is_unavailable(tree: Path) -> None:
    with FaultyNemweb(tree) as server:
        url = server.url
    with make_client(url, retries=1) as client, pytest.raises(NemwebUnavailable):
        client.get_zip(SCADA)


def test_fetch_many_returns_data_and_errors_in_order(site: FaultyNemweb, tree: Path) -> None:
    names = [
        SCADA,
        "Reports/CURRENT/Dispatch_SCADA/PUBLIC_DISPATCHSCADA_202109021255_0000000348376188.zip",
        "Reports/CURRENT/Dispatch_SCADA/PUBLIC_DISPATCHSCADA_209901010005_1.zip",
    ]
    with make_client(site.url) as client:
        results = list(client.fetch_many(names))
    assert [r.path for r in results] == names
    assert results[0].data == (tree / SCADA).read_bytes()
    assert results[1].data is not None
    assert isinstance(results[2].error, NemwebNotFound)


def test_user_agent_is_sent() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["user-agent"])
        return httpx.Response(200, content=b"PK\x03\x04rest")

    client = NemwebClient(
        "https://nemweb.test", user_agent="ua/1", transport=httpx.MockTransport(handler)
    )
    with client:
        client.get_zip("a.zip")
    assert seen == ["ua/1"]


def test_backoff_doubles_and_honours_retry_after() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(502),
            httpx.Response(504),
            httpx.Response(200, content=b"PK\x03\x04data"),
        ]
    )
    pauses: list[float] = []
    client = NemwebClient(
        "https://nemweb.test",
        retries=3,
        backoff=0.5,
        transport=httpx.MockTransport(lambda request: next(answers)),
        sleep=pauses.append,
    )
    with client:
        assert client.get_zip("x.zip") == b"PK\x03\x04data"
    assert pauses == [7.0, 1.0, 2.0]


def test_connection_errors_are_retried_then_unavailable() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("refused", request=request)

    pauses: list[float] = []
    client = NemwebClient(
        "https://nemweb.test",
        retries=2,
        backoff=1.0,
        transport=httpx.MockTransport(handler),
        sleep=pauses.append,
    )
    with client, pytest.raises(NemwebUnavailable, match="after 3 attempts"):
        client.get("x.zip")
    assert calls == 3
    assert pauses == [1.0, 2.0]


def test_body_without_zip_magic_is_not_a_zip_even_with_zip_content_type() -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            200, content=b"C,NEMP.WORLD", headers={"content-type": "application/zip"}
        )
    )
    client = NemwebClient("https://nemweb.test", transport=transport)
    with client, pytest.raises(NotAZipError, match="expected a zip"):
        client.get_zip("x.zip")


def test_request_path_is_percent_encoded() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(200, content=b"PK\x03\x04")

    with NemwebClient("https://nemweb.test/", transport=httpx.MockTransport(handler)) as client:
        client.get_zip("D/PUBLIC_ARCHIVE%23T%23FILE01%23202604010000.zip")
    assert seen == ["/D/PUBLIC_ARCHIVE%2523T%2523FILE01%2523202604010000.zip"]
