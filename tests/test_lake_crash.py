"""Crash safety of the lake: a real child process is killed in the middle of its writes.

Two ways to kill it:

* **fault points**: the child runs with ``NEMDASH_LAKE_FAULT=<stage>`` and exits with
  ``os._exit`` exactly there (after the first file is renamed into place, with every file on
  disk, inside the open manifest transaction, after the commit);
* **SIGKILL at arbitrary moments**: the child publishes a series of overlapping batches (each
  re-issues intervals of the previous one with new values) with compactions and vacuums in
  between, and the parent kills it after varied delays, over and over, until it finishes.

After every kill the store must be exactly the result of the publishes committed so far (all of
a publish or none of it), every live file must be on disk, no key may be stored twice, and
re-running the work must complete with every row exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nemdash.config import DataPaths
from nemdash.store.keys import strictly_increasing
from nemdash.store.lake import FAULT_ENV, Lake, SourceRecord
from nemdash.tables import UNIT_SCADA

TESTS = Path(__file__).resolve().parent
T0 = datetime(2024, 1, 31, 22, 0)  # the batches cross into February
FIVE = timedelta(minutes=5)
DUIDS = tuple(f"U{j:02d}" for j in range(20))
FAULT_EXIT = 70
STAGES = ("file_written", "files_written", "transaction_open", "committed")

Model = dict[tuple[datetime, str], float]


def batch(i: int) -> list[pa.Table]:
    """Batch ``i``: six intervals from ``3 * i`` (three re-issued from batch i-1, three new),
    after a stale row for one of its keys that the later row must beat."""
    times = [T0 + (3 * i + k) * FIVE for k in range(6)]
    rows = [
        (t, d, i * 1000.0 + k * 10 + j) for k, t in enumerate(times) for j, d in enumerate(DUIDS)
    ]
    stale = [(times[-1], DUIDS[0], -1.0)]
    return [_table(stale), _table(rows)]


def _table(rows: Sequence[tuple[datetime, str, float]]) -> pa.Table:
    times, duids, mw = zip(*rows, strict=True)
    return pa.Table.from_arrays(
        [
            pa.array(times, pa.timestamp("us")),
            pa.array(duids, pa.string()),
            pa.array(mw, pa.float64()),
            pa.nulls(len(rows), pa.timestamp("us")),
        ],
        schema=UNIT_SCADA.arrow_schema,
    )


def source(i: int) -> SourceRecord:
    """The made-up source file of batch ``i``."""
    return SourceRecord(f"batch-{i:03d}.zip", f"sha-{i}", 1000 + i, {"unit_scada": 121}, True)


def expected(batches: int) -> Model:
    """The store after publishing batches 0 .. batches-1 (later rows win)."""
    model: Model = {}
    for i in range(batches):
        for table in batch(i):
            for t, d, v in zip(
                table["settlementdate"].to_pylist(),
                table["duid"].to_pylist(),
                table["scadavalue"].to_pylist(),
                strict=True,
            ):
                model[(t, d)] = v
    return model


def stored(lake: Lake) -> Model:
    """The live rows, after checking that every live file is on disk, sorted, and unique."""
    model: Model = {}
    rows = 0
    for f in lake.live_files("unit_scada"):
        assert f.path.is_file(), f"live file missing on disk: {f.path}"
        table = pq.read_table(f.path)
        assert table.num_rows == f.rows
        assert strictly_increasing(table, UNIT_SCADA.primary_key)
        rows += table.num_rows
        for t, d, v in zip(
            table["settlementdate"].to_pylist(),
            table["duid"].to_pylist(),
            table["scadavalue"].to_pylist(),
            strict=True,
        ):
            model[(t, d)] = v
    assert rows == len(model), f"{rows - len(model)} keys are stored twice"
    return model


def published(lake: Lake) -> int:
    """How many batches the manifest has; they must be a prefix 0 .. n-1 of the series."""
    names = sorted(s.name for s in lake.sources())
    assert names == [source(i).name for i in range(len(names))]
    return len(names)


def _lake(root: Path) -> Lake:
    return Lake(DataPaths(root), compact_max_files=3)


def child_main(args: Sequence[str]) -> None:
    """Entry point of the child process: ``publish ROOT I``, ``compact ROOT``,
    ``replace ROOT I`` or ``loop ROOT N``."""
    command, root = args[0], Path(args[1])
    lake = _lake(root)
    batch(0)  # the first Arrow array loads pandas (slow): do it before saying "ready"
    with lake.writer() as writer:
        print("ready", flush=True)
        if command == "publish":
            i = int(args[2])
            writer.publish({"unit_scada": batch(i)}, [source(i)])
        elif command == "compact":
            writer.compact()
        elif command == "replace":
            writer.replace_table("duid_registry", registry(int(args[2])), [])
        elif command == "loop":
            for i in range(int(args[2])):
                if lake.has_source(source(i).name, source(i).sha256):
                    continue
                writer.publish({"unit_scada": batch(i)}, [source(i)], state={"batch": str(i)})
                if i % 4 == 3:
                    writer.maybe_compact()
                if i % 9 == 8:
                    writer.vacuum(grace_seconds=0)
        else:
            raise SystemExit(f"unknown command {command}")


CHILD = "import sys; sys.path.insert(0, sys.argv[1]); from test_lake_crash import child_main; "
CHILD += "child_main(sys.argv[2:])"


def run_child(*args: str, fault: str | None = None) -> int:
    """Run the child to its end (or its fault point); returns its exit code."""
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    if fault is not None:
        env[FAULT_ENV] = fault
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(TESTS), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, FAULT_EXIT), done.stderr
    return done.returncode


def registry(i: int) -> pa.Table:
    """A whole reference table, different for each ``i``."""
    return pa.table({"duid": [f"U{j:02d}" for j in range(i + 1)], "version": [i] * (i + 1)})


def files_on_disk(lake: Lake) -> list[Path]:
    """Every file under lake/ (live, retired, orphans, temporaries)."""
    return sorted(p for p in lake.paths.lake.rglob("*") if p.is_file())


# -- fault points -------------------------------------------------------------------------------


# Each child needs a couple of seconds to start (pyarrow, pandas via pyarrow, pytest): two stages
# run by default, the other two with the slow tests.
@pytest.mark.parametrize(
    "stage",
    [
        pytest.param("file_written", marks=pytest.mark.slow),
        "files_written",
        pytest.param("transaction_open", marks=pytest.mark.slow),
        "committed",
    ],
)
def test_a_publish_killed_at_any_stage_is_all_or_nothing_and_reruns(
    tmp_path: Path, stage: str
) -> None:
    lake = _lake(tmp_path)
    with lake.writer() as writer:
        for i in range(2):
            writer.publish({"unit_scada": batch(i)}, [source(i)])

    assert run_child("publish", str(tmp_path), "2", fault=stage) == FAULT_EXIT

    committed = stage == "committed"
    assert lake.version() == (3 if committed else 2)
    assert published(lake) == (3 if committed else 2)
    assert stored(lake) == expected(3 if committed else 2)
    if not committed:
        live = {f.path for f in lake.live_files()}
        assert any(p not in live for p in files_on_disk(lake)), "expected orphans on disk"

    with lake.writer() as writer:  # the lock died with the child; the same publish again
        writer.publish({"unit_scada": batch(2)}, [source(2)])
        writer.vacuum(grace_seconds=0)
    assert stored(lake) == expected(3)
    assert published(lake) == 3
    assert files_on_disk(lake) == sorted(f.path for f in lake.live_files())


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_a_compaction_killed_at_any_stage_loses_and_duplicates_nothing(
    tmp_path: Path, stage: str
) -> None:
    lake = _lake(tmp_path)
    with lake.writer() as writer:
        for i in range(12):
            writer.publish({"unit_scada": batch(i)}, [source(i)])
    before = len(lake.live_files())

    assert run_child("compact", str(tmp_path), fault=stage) == FAULT_EXIT

    assert lake.version() == (13 if stage == "committed" else 12)
    assert stored(lake) == expected(12)
    with lake.writer() as writer:
        writer.compact()
        writer.vacuum(grace_seconds=0)
    assert stored(lake) == expected(12)
    assert len(lake.live_files()) == 2 < before  # one file per month
    assert files_on_disk(lake) == sorted(f.path for f in lake.live_files())


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_a_whole_table_replace_killed_at_any_stage_shows_one_whole_table(
    tmp_path: Path, stage: str
) -> None:
    lake = _lake(tmp_path)
    with lake.writer() as writer:
        writer.replace_table("duid_registry", registry(1), [])

    assert run_child("replace", str(tmp_path), "5", fault=stage) == FAULT_EXIT

    (live,) = lake.live_files("duid_registry")
    shown = pq.read_table(live.path)
    assert shown.equals(registry(5) if stage == "committed" else registry(1))


# -- SIGKILL at arbitrary moments ---------------------------------------------------------------


@pytest.mark.slow
def test_a_writer_killed_again_and_again_converges_to_every_row_exactly_once(
    tmp_path: Path,
) -> None:
    batches = 60
    delays = np.random.default_rng(20240131).uniform(0.05, 0.3, size=10)  # fixed: reproducible
    lake = _lake(tmp_path)
    kills = 0
    for delay in delays:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(TESTS), "loop", str(tmp_path), str(batches)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        try:
            child.wait(timeout=float(delay))
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
        _, err = child.communicate(timeout=60)
        assert child.returncode in (0, -signal.SIGKILL), err
        kills += child.returncode == -signal.SIGKILL

        done = published(lake)  # all of each publish or none: a prefix of the series
        assert stored(lake) == expected(done)
        assert lake.get_state("batch") == (str(done - 1) if done else None)
        if done == batches:
            break
    assert kills >= 2, "the child finished before it could be killed: the test proved nothing"

    child_main(["loop", str(tmp_path), str(batches)])  # finish whatever is left, in this process
    assert published(lake) == batches
    assert stored(lake) == expected(batches)
    with lake.writer() as writer:
        writer.vacuum(grace_seconds=0)
    assert files_on_disk(lake) == sorted(f.path for f in lake.live_files())
