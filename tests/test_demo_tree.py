"""The synthetic NEM tree: AEMO's file formats, NEMWEB's layout, and physics that add up.

One small tree is built per session (60 units, 2021-09-30 to 2021-10-02 12:00: an MMSDM month,
two archived market days, eight hours of CURRENT files with an intervention in them, and the
start of five-minute settlement on 2021-10-01 in the middle); a longer one (slow) adds a rooftop
PV archive week and is read by the project's own parser. Every file is read back with a strict MMS
reader written here (C/I/D structure, footer = line count, field counts, CRLF, quoting), and the
numbers are checked against each other: regional balance, rooftop sub-regions, limits, caps.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from nemdash.demo import fleet as demo_fleet
from nemdash.demo.market import INTERCONNECTORS, market_price_cap
from nemdash.demo.tree import LiveClock, TreeSummary, build_tree, plan_tree, publish_interval
from nemdash.nemweb import filenames

START = datetime(2021, 9, 30)
END = datetime(2021, 10, 2, 12, 0)
UNITS = 60
SEED = 77  # this seed has an intervention on 2021-10-02 between 07:00 and 10:20
FIVE_MS = datetime(2021, 10, 1, 4, 5)

_DATE = re.compile(r'^"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}"$')
_NEMP_HEADER = re.compile(
    r"^C,NEMP\.WORLD,[A-Z_]+,AEMO,PUBLIC,\d{4}/\d{2}/\d{2},\d{2}:\d{2}:\d{2},\d{16},[A-Z]+,\d{16}$"
)
_SETP_HEADER = re.compile(
    r"^C,SETP\.WORLD,DVD_[A-Z_]+,AEMO,PUBLIC,\d{4}/\d{2}/\d{2},\d{2}:\d{2}:\d{2},\d{15},"
    r"MONTHLY_ARCHIVE,\d{15}$"
)


# ------------------------------------------------------------------------------------------------
# A strict reader of AEMO's MMS CSV


class MMSFormatError(AssertionError):
    """The file breaks AEMO's MMS format."""


@dataclass
class MMSFile:
    """One parsed MMS CSV: its header row and, per (report, subtype, version), columns and rows."""

    name: str
    header: str
    tables: dict[tuple[str, str, int], tuple[list[str], list[list[str]]]] = field(
        default_factory=dict
    )


_QUOTED_DATE = re.compile(r'"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}"')
_BARE_DATE = re.compile(r"(^|,)\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(,|$)", re.MULTILINE)


def read_mms(data: bytes, name: str) -> MMSFile:
    """Parse ``data`` strictly; any deviation from AEMO's format raises MMSFormatError."""
    text = data.decode("ascii")
    if not text.endswith("\r\n"):
        raise MMSFormatError(f"{name}: does not end with CRLF")
    raw_lines = text[:-2].split("\r\n")
    if any("\n" in line or "\r" in line for line in raw_lines):
        raise MMSFormatError(f"{name}: a line end other than CRLF")
    # Dates are quoted, nothing else is (but the footer's "END OF REPORT").
    body = "\n".join(raw_lines[1:-1])
    if '"' in _QUOTED_DATE.sub("", body):
        raise MMSFormatError(f"{name}: a quoted value that is not a date")
    if _BARE_DATE.search(body):
        raise MMSFormatError(f"{name}: an unquoted date")
    parsed = MMSFile(name, raw_lines[0])
    if not raw_lines[0].startswith("C,"):
        raise MMSFormatError(f"{name}: the first line is not a C row")
    footer = raw_lines[-1]
    match = re.fullmatch(r'C,"END OF REPORT",(\d+)', footer)
    if match is None:
        raise MMSFormatError(f"{name}: no END OF REPORT footer: {footer[:60]!r}")
    if int(match[1]) != len(raw_lines):
        raise MMSFormatError(f"{name}: footer says {match[1]} lines, the file has {len(raw_lines)}")
    current: tuple[str, str, int] | None = None
    width = 0
    prefix = ""
    rows: list[list[str]] = []
    for number, line in enumerate(raw_lines[1:-1], start=2):
        if line.startswith("I,"):
            fields = line.split(",")
            current = (fields[1], fields[2], int(fields[3]))
            if current in parsed.tables:
                raise MMSFormatError(f"{name}:{number}: a second I row for {current}")
            rows = []
            parsed.tables[current] = (fields[4:], rows)
            width = len(fields)
            prefix = f"D,{fields[1]},{fields[2]},{fields[3]},"
        elif line.startswith(prefix) and current is not None:
            fields = line.replace('"', "").split(",")
            if len(fields) != width:
                raise MMSFormatError(
                    f"{name}:{number}: {len(fields)} fields, the I row has {width}"
                )
            rows.append(fields[4:])
        else:
            raise MMSFormatError(f"{name}:{number}: not a D row of the current table: {line[:60]}")
    return parsed


def _single_member(data: bytes, name: str) -> tuple[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.namelist()
        if len(members) != 1:
            raise MMSFormatError(f"{name}: {len(members)} members, AEMO zips hold one CSV")
        return members[0], archive.read(members[0])


@dataclass
class ParsedTree:
    """Every file of a tree, read strictly, plus its tables as DataFrames (all sources)."""

    files: list[tuple[str, Path, str, MMSFile]]
    """(kind, zip path, zip or inner-zip name, parsed CSV)."""
    archives: dict[Path, list[str]]
    frames: dict[tuple[str, str], pd.DataFrame]

    def table(self, report: str, subtype: str) -> pd.DataFrame:
        return self.frames[(report, subtype)]


def _walk(root: Path) -> Iterator[tuple[str, Path, str, bytes]]:
    """(kind, path, name, zip bytes) for every data zip, opening ARCHIVE zips of zips."""
    for path in sorted((root / "Reports" / "CURRENT").rglob("*.zip")):
        yield "current", path, path.name, path.read_bytes()
    for path in sorted((root / "Reports" / "ARCHIVE").rglob("*.zip")):
        with zipfile.ZipFile(path) as archive:
            for inner in archive.namelist():
                yield "archive", path, inner, archive.read(inner)
    for path in sorted((root / "Data_Archive").rglob("*.zip")):
        yield "mmsdm", path, path.name, path.read_bytes()


def parse_tree(root: Path) -> ParsedTree:
    files: list[tuple[str, Path, str, MMSFile]] = []
    archives: dict[Path, list[str]] = {}
    rows: dict[tuple[str, str], tuple[list[str], list[list[str]], list[str]]] = {}
    for kind, path, name, data in _walk(root):
        if kind == "archive":
            archives.setdefault(path, []).append(name)
        member, csv_bytes = _single_member(data, name)
        parsed = read_mms(csv_bytes, f"{path.name}:{member}")
        files.append((kind, path, member, parsed))
        for (report, subtype, _), (columns, body) in parsed.tables.items():
            names = [c.lower() for c in columns]
            known, collected, sources = rows.setdefault((report, subtype), (names, [], []))
            if set(names) != set(known):
                raise MMSFormatError(f"{member}: {report},{subtype} has other columns elsewhere")
            order = [names.index(c) for c in known]
            collected.extend([row[i] for i in order] for row in body)
            sources.extend([kind] * len(body))
    frames = {}
    for key, (names, collected, sources) in rows.items():
        frame = pd.DataFrame(collected, columns=names)
        frame["source"] = sources
        frames[key] = frame
    for frame in frames.values():
        for column in ("settlementdate", "interval_datetime"):
            if column in frame:
                frame[column] = pd.to_datetime(frame[column], format="%Y/%m/%d %H:%M:%S")
    return ParsedTree(files, archives, frames)


def _numeric(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        out[column] = pd.to_numeric(out[column])
    return out


# ------------------------------------------------------------------------------------------------
# Fixtures


PROGRESS: list[tuple[str, int, int]] = []
"""What the session tree's build reported through its progress callback."""


@pytest.fixture(scope="session")
def tree(tmp_path_factory: pytest.TempPathFactory) -> TreeSummary:
    return build_tree(
        tmp_path_factory.mktemp("demo") / "nemweb",
        START,
        END,
        units=UNITS,
        seed=SEED,
        current_days=0.3,
        archive_days=0,
        progress=lambda stage, done, total: PROGRESS.append((stage, done, total)),
    )


@pytest.fixture(scope="session")
def parsed(tree: TreeSummary) -> ParsedTree:
    return parse_tree(tree.root)


@pytest.fixture(scope="session")
def fleet() -> demo_fleet.Fleet:
    return demo_fleet.make_fleet(UNITS, SEED)


def _dispatch(parsed: ParsedTree, subtype: str, *numbers: str) -> pd.DataFrame:
    """A DISPATCH table, INTERVENTION 0, one row per key (CURRENT, ARCHIVE, MMSDM overlap)."""
    frame = _numeric(parsed.table("DISPATCH", subtype), "intervention", *numbers)
    frame = frame[frame["intervention"] == 0]
    key = "regionid" if "regionid" in frame else "interconnectorid"
    return frame.drop_duplicates(["settlementdate", key]).reset_index(drop=True)


# ------------------------------------------------------------------------------------------------
# Format


def test_the_plan_covers_every_part_of_nemweb(tree: TreeSummary) -> None:
    plan = tree.plan
    assert [m.isoformat() for m in plan.months] == ["2021-09-01"]
    assert [d.isoformat() for d in plan.archive_days] == ["2021-09-30", "2021-10-01"]
    assert plan.current_after == plan.last - 96  # 04:05 to 12:00
    assert plan.rooftop_weeks == ()  # no whole week yet: rooftop PV stays in CURRENT
    assert tree.start == START + timedelta(minutes=5)
    assert tree.end == END


def test_every_file_is_strict_mms(parsed: ParsedTree) -> None:
    kinds = {kind for kind, *_ in parsed.files}
    assert kinds == {"current", "archive", "mmsdm"}
    for kind, path, member, mms in parsed.files:
        pattern = _SETP_HEADER if kind == "mmsdm" else _NEMP_HEADER
        assert pattern.match(mms.header), (path, member, mms.header)
        assert mms.tables, member


def test_csv_member_names_follow_aemo(parsed: ParsedTree) -> None:
    for kind, path, member, _ in parsed.files:
        if kind == "mmsdm":
            assert "%23" in path.name
            assert "#" not in path.name
            assert member == path.name.replace("%23", "#").replace(".zip", ".CSV")
        elif "ROOFTOP" in member:
            assert member.endswith(".csv")
        else:
            assert member.endswith(".CSV")
        if kind == "current":
            assert member.rsplit(".", 1)[0] == path.name.rsplit(".", 1)[0]


def _fixture_i_rows(nemweb_root: Path) -> dict[tuple[str, str, str, str], list[list[str]]]:
    """I rows of AEMO's real files: (kind, report, subtype, version) -> column lists seen."""
    found: dict[tuple[str, str, str, str], list[list[str]]] = {}
    for path in nemweb_root.rglob("*.zip"):
        kind = "mmsdm" if "Data_Archive" in str(path) else "live"
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.lower().endswith(".zip"):
                    continue
                for line in archive.read(name).decode().splitlines():
                    if line.startswith("I,"):
                        fields = line.split(",")
                        variants = found.setdefault((kind, *fields[1:4]), [])
                        if fields[4:] not in variants:
                            variants.append(fields[4:])
    return found


def test_i_rows_are_aemo_column_lists(parsed: ParsedTree, nemweb_root: Path) -> None:
    real = _fixture_i_rows(nemweb_root)
    seen = set()
    for kind, _, member, mms in parsed.files:
        source = "mmsdm" if kind == "mmsdm" else "live"
        for (report, subtype, version), (columns, _) in mms.tables.items():
            key = (source, report, subtype, str(version))
            if key not in real:
                key = ("live", report, subtype, str(version))
            assert key in real, f"{member}: no AEMO file has {report},{subtype} v{version}"
            assert columns in real[key], f"{member}: {report},{subtype} columns differ from AEMO's"
            seen.add((report, subtype, version, len(columns)))
    assert ("DISPATCH", "PRICE", 5, 66) in seen
    assert ("DISPATCH", "REGIONSUM", 9, 126) in seen
    assert ("DISPATCH", "INTERCONNECTORRES", 3, 22) in seen
    assert ("DISPATCH", "UNIT_SCADA", 1, 4) in seen
    assert ("TRADING", "PRICE", 3, 30) in seen
    assert ("ROOFTOP", "ACTUAL", 2, 6) in seen


def test_file_names_parse_and_match_their_contents(parsed: ParsedTree) -> None:
    for kind, path, member, mms in parsed.files:
        name = member.rsplit(".", 1)[0] + ".zip" if kind == "archive" else path.name
        record = filenames.parse(name)
        assert record is not None, name
        if kind == "mmsdm":
            assert record.kind is filenames.Kind.MMSDM
            assert record.table is not None
            continue
        assert record.kind is filenames.Kind.CURRENT
        assert record.timestamp is not None
        stamp = record.timestamp.replace(tzinfo=None)
        times = {
            row[0]
            for _, body in mms.tables.values()
            for row in body
            if row and re.fullmatch(r"\d{4}/.*", row[0])
        }
        if record.feed == "ROOFTOP_PV_ACTUAL":
            # Published 30 minutes after the half hour it reports.
            assert times == {f"{stamp - timedelta(minutes=30):%Y/%m/%d %H:%M:%S}"}, name
        else:
            assert times == {f"{stamp:%Y/%m/%d %H:%M:%S}"}, name


def test_daily_archives_run_by_market_day(parsed: ParsedTree) -> None:
    for path, inner in parsed.archives.items():
        record = filenames.parse(path.name)
        assert record is not None
        assert record.kind is filenames.Kind.ARCHIVE
        assert record.day is not None
        stamps = sorted(filenames.parse(n).timestamp.replace(tzinfo=None) for n in inner)
        assert record.feed != "ROOFTOP_PV_ACTUAL"
        opening = datetime.combine(record.day, datetime.min.time()) + timedelta(hours=4)
        assert stamps[-1] == opening + timedelta(days=1)
        if record.feed == "TradingIS_Reports" and stamps[-1] < FIVE_MS:
            assert stamps[0] == opening + timedelta(minutes=30)
            assert len(stamps) == 48  # half-hourly before five-minute settlement
        else:
            assert stamps[0] == opening + timedelta(minutes=5)
            assert len(stamps) == 288


def test_every_interval_is_somewhere_and_scada_has_every_unit(
    parsed: ParsedTree, tree: TreeSummary
) -> None:
    price = _dispatch(parsed, "PRICE")
    expected = pd.date_range(tree.start, tree.end, freq="5min")
    counts = price.groupby("settlementdate").size()
    assert list(counts.index) == list(expected)
    assert set(counts) == {5}
    scada = parsed.table("DISPATCH", "UNIT_SCADA").drop_duplicates(["settlementdate", "duid"])
    per_interval = scada.groupby("settlementdate").size()
    assert list(per_interval.index) == list(expected)
    assert set(per_interval) == {UNITS}
    rooftop = parsed.table("ROOFTOP", "ACTUAL").drop_duplicates(["interval_datetime", "regionid"])
    halves = rooftop.groupby("interval_datetime").size()
    assert list(halves.index) == list(
        pd.date_range(
            tree.start + timedelta(minutes=25), tree.end - timedelta(minutes=30), freq="30min"
        )
    )
    assert set(halves) == {10}


def test_sources_agree_where_they_overlap(parsed: ParsedTree) -> None:
    price = _numeric(parsed.table("DISPATCH", "PRICE"), "rrp", "intervention")
    spread = price.groupby(["settlementdate", "regionid", "intervention"])["rrp"].nunique()
    assert spread.max() == 1
    scada = parsed.table("DISPATCH", "UNIT_SCADA")
    assert scada.groupby(["settlementdate", "duid"])["scadavalue"].nunique().max() == 1


# ------------------------------------------------------------------------------------------------
# Physics


def _registry(tree: TreeSummary) -> pd.DataFrame:
    book = openpyxl.load_workbook(tree.registry_path, read_only=True)
    rows = list(book["PU and Scheduled Loads"].iter_rows(values_only=True))
    book.close()
    return pd.DataFrame(rows[1:], columns=rows[0])


def test_generation_plus_imports_meets_demand_in_every_region(
    parsed: ParsedTree, tree: TreeSummary
) -> None:
    registry = _registry(tree).set_index("DUID")
    scada = _numeric(parsed.table("DISPATCH", "UNIT_SCADA"), "scadavalue").drop_duplicates(
        ["settlementdate", "duid"]
    )
    scada["region"] = scada["duid"].map(registry["Region"])
    load = scada["duid"].map(registry["Dispatch Type"]) == "Load"
    scada["net"] = np.where(load, -scada["scadavalue"], scada["scadavalue"])
    generation = scada.groupby(["settlementdate", "region"])["net"].sum()

    flows = _dispatch(parsed, "INTERCONNECTORRES", "mwflow", "meteredmwflow", "mwlosses")
    ends = {ic.id: (ic.from_region, ic.to_region) for ic in INTERCONNECTORS}
    regions = ("NSW1", "QLD1", "SA1", "TAS1", "VIC1")
    exports = []
    for row in flows.itertuples():
        a, b = ends[row.interconnectorid]
        half = row.mwlosses / 2
        exports.append((row.settlementdate, regions[a], row.mwflow + half))
        exports.append((row.settlementdate, regions[b], -row.mwflow + half))
    export = (
        pd.DataFrame(exports, columns=["settlementdate", "region", "x"])
        .groupby(["settlementdate", "region"])["x"]
        .sum()
    )

    regionsum = _dispatch(
        parsed,
        "REGIONSUM",
        "totaldemand",
        "netinterchange",
        "dispatchablegeneration",
        "dispatchableload",
    ).set_index(["settlementdate", "regionid"])
    demand = regionsum["totaldemand"]
    balance = generation - export.reindex(generation.index) - demand.reindex(generation.index)
    assert balance.abs().max() < 0.5, balance.abs().idxmax()
    # REGIONSUM agrees with itself and with the interconnectors.
    assert (regionsum["netinterchange"] - export.reindex(regionsum.index)).abs().max() < 0.05
    identity = (
        regionsum["dispatchablegeneration"]
        - regionsum["dispatchableload"]
        - regionsum["netinterchange"]
        - regionsum["totaldemand"]
    )
    assert identity.abs().max() < 0.05
    nem = demand.groupby(level=0).sum()
    assert nem.min() > 9_000
    assert nem.max() < 36_000


def test_rooftop_regions_are_their_sub_regions_and_dark_at_night(parsed: ParsedTree) -> None:
    rooftop = _numeric(parsed.table("ROOFTOP", "ACTUAL"), "power").drop_duplicates(
        ["interval_datetime", "regionid"]
    )
    wide = rooftop.pivot(index="interval_datetime", columns="regionid", values="power")
    assert (wide["QLD1"] - (wide["QLDC"] + wide["QLDN"] + wide["QLDS"])).abs().max() < 1e-6
    assert (wide["TAS1"] - (wide["TASN"] + wide["TASS"])).abs().max() < 1e-6
    hours = wide.index.hour + wide.index.minute / 60
    night = (hours > 21) | (hours <= 4.5)
    assert (wide[night] == 0).all().all()
    assert wide.loc[~night, "NSW1"].max() > 1000
    assert (wide >= 0).all().all()


def test_utility_solar_is_zero_at_night(parsed: ParsedTree, tree: TreeSummary) -> None:
    registry = _registry(tree).set_index("DUID")
    scada = _numeric(parsed.table("DISPATCH", "UNIT_SCADA"), "scadavalue")
    solar = scada[scada["duid"].map(registry["Fuel Source - Primary"]) == "Solar"]
    hours = solar["settlementdate"].dt.hour + solar["settlementdate"].dt.minute / 60
    night = (hours > 21) | (hours <= 4.5)
    assert len(solar[night]) > 0
    assert (solar.loc[night, "scadavalue"] == 0).all()
    assert solar.loc[~night, "scadavalue"].max() > 0


def test_prices_within_floor_and_cap_and_flows_within_limits(parsed: ParsedTree) -> None:
    price = _numeric(parsed.table("DISPATCH", "PRICE"), "rrp")
    caps = price["settlementdate"].map(lambda t: market_price_cap(t.date()))
    assert (price["rrp"] >= -1000).all()
    assert (price["rrp"] <= caps).all()
    flows = _numeric(
        parsed.table("DISPATCH", "INTERCONNECTORRES"), "mwflow", "exportlimit", "importlimit"
    )
    assert (flows["mwflow"] <= flows["exportlimit"] + 1e-6).all()
    assert (flows["mwflow"] >= flows["importlimit"] - 1e-6).all()
    assert (flows["importlimit"] <= 0).all()
    assert (flows["exportlimit"] >= 0).all()
    assert set(flows["interconnectorid"]) == {ic.id for ic in INTERCONNECTORS}


def test_battery_energy_stays_within_storage(parsed: ParsedTree, tree: TreeSummary) -> None:
    registry = _registry(tree)
    batteries = registry[registry["Dispatch Type"] == "Bidirectional Unit"]
    capacity = batteries.groupby("Region")["Maximum storage capacity "].sum()
    regionsum = parsed.table("DISPATCH", "REGIONSUM")
    stored = regionsum[regionsum["bdu_energy_storage"] != ""]
    stored = _numeric(stored, "bdu_energy_storage", "bdu_clearedmw_gen", "bdu_clearedmw_load")
    assert len(stored) > 0
    limit = stored["regionid"].map(capacity)
    assert (stored["bdu_energy_storage"] >= 0).all()
    assert (stored["bdu_energy_storage"] <= limit + 1e-6).all()
    assert stored["bdu_clearedmw_gen"].max() > 0
    assert stored["bdu_clearedmw_load"].max() > 0


def test_trading_price_is_half_hourly_then_the_dispatch_price(parsed: ParsedTree) -> None:
    trading = _numeric(parsed.table("TRADING", "PRICE"), "rrp", "periodid").drop_duplicates(
        ["settlementdate", "regionid"]
    )
    dispatch = _dispatch(parsed, "PRICE", "rrp").set_index(["settlementdate", "regionid"])["rrp"]
    before = trading[trading["settlementdate"] < FIVE_MS]
    after = trading[trading["settlementdate"] >= FIVE_MS]
    assert len(before)
    assert len(after)
    assert (before["settlementdate"].dt.minute % 30 == 0).all()
    for row in before.itertuples():
        six = [
            dispatch[(row.settlementdate - timedelta(minutes=5 * k), row.regionid)]
            for k in range(6)
        ]
        assert row.rrp == pytest.approx(np.mean(six), abs=1e-4)
    assert after["settlementdate"].min() == FIVE_MS
    matched = dispatch.reindex(list(zip(after["settlementdate"], after["regionid"], strict=True)))
    assert np.abs(after["rrp"].to_numpy() - matched.to_numpy()).max() <= 0.005 + 1e-9
    # PERIODID: half hours of the market day before, 5-minute steps since midnight after.
    first_after = after[after["settlementdate"] == FIVE_MS]["periodid"].unique()
    assert list(first_after) == [49]
    assert set(before[before["settlementdate"].dt.strftime("%H:%M") == "04:30"]["periodid"]) == {1}


def test_intervention_intervals_add_rows_beside_the_market_ones(parsed: ParsedTree) -> None:
    price = _numeric(parsed.table("DISPATCH", "PRICE"), "intervention", "rrp")
    runs = price.groupby(["settlementdate", "regionid"])["intervention"].agg(set)
    intervened = runs[runs.map(lambda s: 1 in s)]
    assert len(intervened) > 0, "the fixture's seed and dates include an intervention"
    assert all(s == {0, 1} for s in intervened)
    regionsum = _numeric(parsed.table("DISPATCH", "REGIONSUM"), "intervention")
    assert set(regionsum["intervention"]) == {0, 1}


def test_registry_workbook_describes_every_scada_unit(
    parsed: ParsedTree, tree: TreeSummary, shared_fixtures: Path
) -> None:
    real = openpyxl.load_workbook(
        shared_fixtures / "registry" / "NEM-Registration-and-Exemption-List.xlsx", read_only=True
    )
    real_header = next(real["PU and Scheduled Loads"].iter_rows(values_only=True))
    real.close()
    registry = _registry(tree)
    assert tuple(registry.columns) == real_header
    scada_duids = set(parsed.table("DISPATCH", "UNIT_SCADA")["duid"])
    assert set(registry["DUID"]) == scada_duids
    assert set(registry["Region"]) == {"NSW1", "QLD1", "SA1", "TAS1", "VIC1"}


def test_progress_is_reported_for_every_stage(tree: TreeSummary) -> None:
    progress = PROGRESS
    stages = [stage for stage, _, _ in progress]
    assert {"mmsdm", "archive", "current"} <= set(stages)
    for stage in set(stages):
        steps = [(done, total) for s, done, total in progress if s == stage]
        assert all(0 < done <= total for done, total in steps)
        assert steps[-1][0] == steps[-1][1]
        assert [d for d, _ in steps] == sorted(d for d, _ in steps)


# ------------------------------------------------------------------------------------------------
# Determinism and the live clock


def _tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    args = {"units": 40, "current_days": 0.3, "archive_days": 0}
    start, end = datetime(2024, 3, 14), datetime(2024, 3, 15, 6)
    first = build_tree(tmp_path / "a", start, end, seed=7, **args)
    second = build_tree(tmp_path / "b", start, end, seed=7, **args)
    other = build_tree(tmp_path / "c", start, end, seed=8, **args)
    assert first.files == second.files > 100
    assert _tree_hash(first.root) == _tree_hash(second.root)
    assert _tree_hash(first.root) != _tree_hash(other.root)


def test_live_clock_writes_what_the_tree_has_and_carries_on(
    tree: TreeSummary, tmp_path: Path
) -> None:
    last = tree.end
    written = publish_interval(tmp_path, last, units=UNITS, seed=SEED)
    assert len(written) >= 3
    for path in written:
        twin = tree.root / path.relative_to(tmp_path)
        assert twin.read_bytes() == path.read_bytes(), path.name

    clock = LiveClock.from_tree(tree.root)
    assert len(clock.fleet) == UNITS
    live = LiveClock(tmp_path, units=UNITS, seed=SEED)
    following = live.publish(last + timedelta(minutes=5))
    names = sorted(p.name for p in following)
    assert [n.split("_")[1] for n in names] == ["DISPATCHIS", "DISPATCHSCADA", "TRADINGIS"]
    on_half_hour = live.publish(last + timedelta(minutes=30))
    rooftop = [p for p in on_half_hour if "ROOFTOP" in p.name]
    assert len(rooftop) == 1
    member, data = _single_member(rooftop[0].read_bytes(), rooftop[0].name)
    rows = read_mms(data, member).tables[("ROOFTOP", "ACTUAL", 2)][1]
    assert {r[0] for r in rows} == {f"{last:%Y/%m/%d %H:%M:%S}"}
    removed = live.roll_off(last + timedelta(minutes=5))
    assert removed == len(written) + len(following)
    assert all(p.exists() for p in on_half_hour)


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    from nemdash.errors import ConfigError

    with pytest.raises(ConfigError, match="after start"):
        plan_tree(datetime(2024, 1, 2), datetime(2024, 1, 1))
    with pytest.raises(ConfigError, match="not a 5-minute interval end"):
        publish_interval(tmp_path, datetime(2024, 1, 1, 0, 3), units=40)
    with pytest.raises(ConfigError, match="at least"):
        build_tree(tmp_path, datetime(2024, 1, 1), datetime(2024, 1, 2), units=10)


@pytest.fixture(scope="module")
def long_tree(tmp_path_factory: pytest.TempPathFactory) -> TreeSummary:
    """Nine days from 2021-09-29: enough for a whole rooftop PV archive week."""
    return build_tree(
        tmp_path_factory.mktemp("demo-long") / "nemweb",
        datetime(2021, 9, 29),
        datetime(2021, 10, 7, 12),
        units=40,
        seed=SEED,
        current_days=0,
        archive_days=0,
    )


@pytest.mark.slow
def test_rooftop_weeks_are_archived_from_thursday(long_tree: TreeSummary) -> None:
    assert [w.isoformat() for w in long_tree.plan.rooftop_weeks] == ["2021-09-30"]
    path = long_tree.root / "Reports/ARCHIVE/ROOFTOP_PV/ACTUAL"
    [weekly] = sorted(path.glob("*.zip"))
    assert weekly.name == "PUBLIC_ROOFTOP_PV_ACTUAL_MEASUREMENT_20210930.zip"
    with zipfile.ZipFile(weekly) as archive:
        inner = archive.namelist()
        first = read_mms(_single_member(archive.read(inner[0]), inner[0])[1], inner[0])
    stamps = [filenames.parse(n).timestamp.replace(tzinfo=None) for n in inner]
    assert len(inner) == 7 * 48
    assert stamps[0] == datetime(2021, 9, 30)
    assert stamps[-1] == datetime(2021, 10, 6, 23, 30)
    assert first.tables[("ROOFTOP", "ACTUAL", 2)][1][0][0] == "2021/09/29 23:30:00"
    current = sorted((long_tree.root / "Reports/CURRENT/ROOFTOP_PV/ACTUAL").glob("*.zip"))
    assert filenames.parse(current[0].name).timestamp.replace(tzinfo=None) == datetime(2021, 10, 7)


@pytest.mark.slow
def test_the_project_reader_parses_every_file(long_tree: TreeSummary) -> None:
    archive = pytest.importorskip(
        "nemdash.nemweb.archive", reason="nemdash.nemweb.archive is not written yet"
    )
    parsed = parse_tree(long_tree.root)
    tree = long_tree
    rows: dict[str, int] = {}
    scada_total = 0.0
    paths = sorted({path for _, path, _, _ in parsed.files})
    for path in paths:
        for mms in archive.read_source(path):
            assert mms.footer_ok, mms.source
            for name, table in mms.tables().items():
                rows[name] = rows.get(name, 0) + table.num_rows
                if name == "unit_scada":
                    scada_total += sum(v for v in table["scadavalue"].to_pylist() if v is not None)
    mine = {
        "dispatch_price": ("DISPATCH", "PRICE"),
        "dispatch_regionsum": ("DISPATCH", "REGIONSUM"),
        "interconnector_flow": ("DISPATCH", "INTERCONNECTORRES"),
        "unit_scada": ("DISPATCH", "UNIT_SCADA"),
        "trading_price": ("TRADING", "PRICE"),
        "rooftop_pv": ("ROOFTOP", "ACTUAL"),
    }
    assert rows == {name: len(parsed.table(*key)) for name, key in mine.items()}
    assert rows == tree.rows
    expected = pd.to_numeric(parsed.table("DISPATCH", "UNIT_SCADA")["scadavalue"]).sum()
    assert scada_total == pytest.approx(expected, rel=1e-9)
