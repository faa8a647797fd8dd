"""The ``nemdash`` command: the only place that wires settings, logging and the parts together.

Every command takes ``--data-dir`` (env ``NEMDASH_DATA_DIR``; default: the per-user data folder).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from nemdash import nemtime
from nemdash.config import Settings, get_settings
from nemdash.errors import NemdashError

app = typer.Typer(
    help="Collect, store and query the public 5-minute data of Australia's NEM.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
registry_app = typer.Typer(help="The DUID registry: stations, fuels and capacities per unit.")
app.add_typer(registry_app, name="registry")
cache_app = typer.Typer(help="The query result cache (memory and disk).")
app.add_typer(cache_app, name="cache")

console = Console(stderr=True)
out = Console(soft_wrap=True)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="NEMDASH_DATA_DIR",
        help="Data directory (lake, manifest, raw files). Default: the per-user data folder.",
        show_default=False,
    ),
]
TableNames = Annotated[
    list[str] | None,
    typer.Option("--tables", "-t", help="Only these tables (repeat). Default: all."),
]
Verbose = Annotated[
    int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv for debug).")
]


def _settings(data_dir: Path | None, verbose: int = 0) -> Settings:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    base = get_settings()
    if data_dir is not None:
        base = base.model_copy(update={"data_dir": data_dir})
    return base


def _table_names(tables: list[str] | None) -> list[str] | None:
    """The spec names of ``--tables`` (KeyError naming the known tables), None for all."""
    from nemdash.tables import resolve

    return [t.name for t in resolve(tables)] if tables else None


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(code=1)


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command()
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="AEMO files or folders: CSV, zip, zip of zips, MMSDM.")
    ],
    tables: TableNames = None,
    data_dir: DataDir = None,
    verbose: Verbose = 0,
) -> None:
    """Ingest local AEMO files into the store (files already ingested are skipped)."""
    from rich.progress import Progress

    from nemdash.store.ingest import find_sources, ingest_paths
    from nemdash.store.lake import Lake
    from nemdash.store.rollups import update_rollups

    settings = _settings(data_dir, verbose)
    try:
        keep = _table_names(tables)
        files = find_sources(paths)
        if not files:
            raise typer.BadParameter("no .zip or .csv files found in the given paths")
        lake = Lake(settings.paths)
        with lake.writer() as writer, Progress(console=console, transient=True) as progress:
            task = progress.add_task("ingesting", total=len(files))
            report = ingest_paths(
                writer,
                files,
                tables=keep,
                on_batch=lambda _r, done: progress.update(task, completed=done),
            )
            if report.version is not None:
                progress.update(task, description="rollups")
                rollups = update_rollups(writer, lake, report.changed)
                report.version = max([report.version, *rollups.versions])
    except (NemdashError, KeyError, FileNotFoundError) as exc:
        raise _fail(exc) from exc
    for name, reason in report.quarantined:
        console.print(f"[yellow]quarantined[/yellow] {name}: {reason}")
    for detail in report.footer_mismatches:
        console.print(f"[yellow]footer mismatch[/yellow] {detail}")
    rows = ", ".join(f"{t} {n:,}" for t, n in sorted(report.rows.items())) or "no rows"
    out.print(
        f"{report.ingested} ingested, {report.skipped} already in the store, "
        f"{len(report.quarantined)} quarantined; {rows}; store version {report.version or '-'}"
    )
    if report.quarantined:
        raise typer.Exit(code=2)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="One read-only SQL query (SELECT ...).")],
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output format.")
    ] = OutputFormat.table,
    max_rows: Annotated[
        int | None, typer.Option("--max-rows", help="Row cap (default: query_row_cap setting).")
    ] = None,
    data_dir: DataDir = None,
    verbose: Verbose = 0,
) -> None:
    """Run a read-only SQL query over the views (dispatch_price, unit_scada, ...)."""
    from nemdash.query.connection import Database

    settings = _settings(data_dir, verbose)
    try:
        result = Database(settings).query_read_only(query, row_cap=max_rows)
    except NemdashError as exc:
        raise _fail(exc) from exc
    table = result.table
    if fmt is OutputFormat.csv:
        import pyarrow.csv as pacsv

        sink = sys.stdout.buffer
        pacsv.write_csv(table, sink)
    elif fmt is OutputFormat.json:
        out.print_json(json.dumps(table.to_pylist(), default=_json_default), indent=None)
    else:
        grid = Table(show_lines=False)
        for name in table.column_names:
            grid.add_column(name)
        for row in table.to_pylist():
            grid.add_row(*("" if v is None else str(v) for v in row.values()))
        out.print(grid)
    if result.truncated:
        console.print(f"[yellow]truncated[/yellow] to {table.num_rows:,} rows (--max-rows)")


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return nemtime.isoformat(value)
    return str(value)


@app.command("tables")
def tables_cmd(
    gaps: Annotated[int, typer.Option("--gaps", help="List up to this many gaps per table.")] = 3,
    data_dir: DataDir = None,
    verbose: Verbose = 0,
) -> None:
    """Show each table's rows, first and last interval (NEM time), and gaps."""
    from nemdash.query.connection import Database
    from nemdash.query.coverage import coverage, describe_gap
    from nemdash.tables import TABLES

    settings = _settings(data_dir, verbose)
    db = Database(settings)
    try:
        version = db.refresh()
        found = coverage(db, max_gaps=gaps)
    except NemdashError as exc:
        raise _fail(exc) from exc
    grid = Table(title=f"store version {version} at {settings.data_dir}")
    for name in ("table", "rows", "first", "last", "intervals", "missing", "gaps"):
        grid.add_column(
            name, justify="right" if name in ("rows", "intervals", "missing") else "left"
        )
    for cov in found:
        spec = TABLES[cov.table]
        listed = "\n".join(describe_gap(g, spec.interval_at(g.before)) for g in cov.gaps)
        if cov.gap_count > len(cov.gaps):
            listed += f"\n... {cov.gap_count - len(cov.gaps)} more"
        grid.add_row(
            cov.table,
            f"{cov.rows:,}",
            f"{cov.first:%Y-%m-%d %H:%M}" if cov.first else "-",
            f"{cov.last:%Y-%m-%d %H:%M}" if cov.last else "-",
            f"{cov.intervals:,}",
            f"{cov.missing:,}",
            listed or "-",
        )
    out.print(grid)


def _stop_on_signals() -> threading.Event:
    """An event set by SIGINT/SIGTERM, so long commands finish their step and exit cleanly."""
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        console.print(f"[yellow]{signal.Signals(signum).name}[/yellow]: stopping after this step")
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


@app.command()
def collect(
    once: Annotated[bool, typer.Option("--once", help="Run one cycle, then exit.")] = False,
    data_dir: DataDir = None,
    verbose: Verbose = 0,
) -> None:
    """Poll NEMWEB's live feeds every 5 minutes and ingest what is new (Ctrl-C stops cleanly)."""
    from nemdash.collector.loop import CycleReport
    from nemdash.collector.loop import collect as run_collect

    settings = _settings(data_dir, verbose)
    stop = _stop_on_signals()

    def show(report: CycleReport) -> None:
        rows = ", ".join(f"{t} {n:,}" for t, n in sorted(report.rows.items())) or "nothing new"
        down = " [red]NEMWEB unreachable[/red]" if report.nemweb_down else ""
        console.print(
            f"{report.started:%Y-%m-%d %H:%M:%S} cycle: {report.ingested} files; {rows}; "
            f"version {report.version or '-'}{down}"
        )
        for name, reason in report.quarantined:
            console.print(f"  [yellow]quarantined[/yellow] {name}: {reason}")

    from filelock import FileLock, Timeout

    from nemdash.refresh import lock_holder

    settings.paths.root.mkdir(parents=True, exist_ok=True)
    # The same lock a server's collecting worker holds: one collector per data directory.
    lock = FileLock(settings.paths.collector_lock)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = lock_holder(settings)
        raise _fail(
            NemdashError(
                f"another process (PID {holder or 'unknown'}) is already collecting into "
                f"{settings.data_dir}: stop it, or serve with --no-collect"
            )
        ) from None
    try:
        run_collect(settings, once=once, stop=stop, on_cycle=show)
    except NemdashError as exc:
        raise _fail(exc) from exc
    finally:
        lock.release()


@app.command()
def backfill(
    start: Annotated[
        str, typer.Option("--from", help="First day (YYYY-MM-DD, NEM time), inclusive.")
    ],
    end: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD), inclusive.")],
    tables: TableNames = None,
    data_dir: DataDir = None,
    verbose: Verbose = 0,
) -> None:
    """Fill past days from NEMWEB's daily and monthly archives (re-run to resume)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from nemdash.collector.backfill import BackfillProgress
    from nemdash.collector.backfill import backfill as run_backfill

    settings = _settings(data_dir, verbose)
    try:
        first = date.fromisoformat(start)
        last = date.fromisoformat(end)
        keep = _table_names(tables)
    except (ValueError, KeyError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    if last < first:
        raise typer.BadParameter(f"--to {last} is before --from {first}")
    stop = _stop_on_signals()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("planning", total=None)

        def show(p: BackfillProgress) -> None:
            bar.update(
                task,
                total=p.total_bytes or None,
                completed=p.bytes_done,
                description=f"{p.done}/{p.total} files",
            )
            if p.error and p.item is not None:
                console.print(f"[yellow]failed[/yellow] {p.item.name}: {p.error}")

        try:
            plan, report = run_backfill(settings, first, last, keep, show, stop=stop)
            if report.ingested:
                bar.update(task, description="rollups")
                _update_rollups(settings)
        except NemdashError as exc:
            raise _fail(exc) from exc
    for missing in plan.missing:
        console.print(f"[yellow]not on NEMWEB[/yellow] {missing}")
    rows = ", ".join(f"{t} {n:,}" for t, n in sorted(report.ingest.rows.items())) or "no rows"
    out.print(
        f"{len(report.ingested)} files ingested, {len(plan.done)} already done, "
        f"{len(report.failed)} failed; {rows}"
    )
    if stop.is_set():
        console.print("interrupted: run the same command again to resume")
        raise typer.Exit(code=130)
    if report.failed:
        raise typer.Exit(code=2)


@registry_app.command("update")
def registry_update(
    xlsx: Annotated[
        Path | None,
        typer.Option("--xlsx", help="A local copy of AEMO's registration list (skip download)."),
    ] = None,
    stations_json: Annotated[
        str | None,
        typer.Option(
            "--stations-json", help="Path or URL of Open Electricity's stations.json to merge."
        ),
    ] = None,
    data_dir: DataDir = None,
    verbose: Verbose = 0,
) -> None:
    """Download (or read) AEMO's registration list and rebuild the DUID registry."""
    from nemdash.query.connection import Database
    from nemdash.store.lake import Lake
    from nemdash.store.registry import update_registry
    from nemdash.store.rollups import rebuild_registry_rollups

    settings = _settings(data_dir, verbose)
    lake = Lake(settings.paths)
    try:
        # Units seen in SCADA but in no source must still get a row (inferred from their names).
        seen = Database(settings, lake).query("SELECT DISTINCT duid FROM unit_scada").table
        extra = [str(d) for d in seen.column("duid").to_pylist() if d is not None]
        with lake.writer() as writer:
            summary = update_registry(
                writer, settings, xlsx=xlsx, stations_json=stations_json, extra_duids=extra
            )
            # Regions, fuels and capacities of past buckets follow the registry.
            rebuild_registry_rollups(writer, lake)
    except NemdashError as exc:
        raise _fail(exc) from exc
    by_source = ", ".join(f"{k} {v}" for k, v in sorted(summary.by_source.items()))
    out.print(
        f"{summary.units} units ({by_source}); {summary.inferred} inferred from names, "
        f"{summary.aggregates} AEMO aggregates; store version {summary.version}"
    )


def _update_rollups(settings: Settings) -> None:
    """Bring the rollups up to date with everything published (catching up from their state)."""
    from nemdash.store.lake import Lake
    from nemdash.store.rollups import update_rollups

    lake = Lake(settings.paths)
    with lake.writer() as writer:
        update_rollups(writer, lake, {})


@app.command()
def rollup(
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Recompute every rollup from the lake.")
    ] = False,
    data_dir: DataDir = None,
    verbose: Verbose = 0,
) -> None:
    """Bring the rollups up to date (building any table new to this store), or rebuild them."""
    from rich.progress import Progress

    from nemdash.store.lake import Lake
    from nemdash.store.rollups import rebuild_rollups, update_rollups

    settings = _settings(data_dir, verbose)
    lake = Lake(settings.paths)
    try:
        with lake.writer() as writer, Progress(console=console, transient=True) as bar:
            task = bar.add_task("rollups", total=None)

            def show(done: int, total: int, label: str) -> None:
                bar.update(task, completed=done, total=total, description=label)

            if rebuild:
                report = rebuild_rollups(writer, lake, progress=show)
            else:
                report = update_rollups(writer, lake, {}, progress=show)
    except NemdashError as exc:
        raise _fail(exc) from exc
    rows = sum(report.written.values())
    out.print(
        f"{report.partitions} month partitions, {rows:,} rollup rows written in "
        f"{report.elapsed:.1f} s; store version {max(report.versions, default=lake.version())}"
    )


@app.command()
def compact(
    data_dir: DataDir = None,
    verbose: Verbose = 0,
) -> None:
    """Merge the many small 5-minute files of each month into one, and delete stale files."""
    from nemdash.store.lake import Lake

    settings = _settings(data_dir, verbose)
    lake = Lake(settings.paths)
    try:
        with lake.writer() as writer:
            result = writer.compact()
            removed = writer.vacuum()
    except NemdashError as exc:
        raise _fail(exc) from exc
    if result is None:
        out.print(f"nothing to compact; {removed} stale files deleted")
    else:
        out.print(
            f"{result.files_removed} files merged into {result.files_added}; "
            f"{removed} stale files deleted; store version {result.version}"
        )


Host = Annotated[
    str, typer.Option("--host", help="Address to listen on (0.0.0.0 for every interface).")
]
Port = Annotated[int, typer.Option("--port", help="TCP port of the dashboard and the API.")]
Workers = Annotated[
    int, typer.Option("--workers", min=1, help="Server processes sharing the port (one collects).")
]


@app.command()
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Workers = 1,
    collect: Annotated[
        bool | None,
        typer.Option(
            "--collect/--no-collect",
            help="Keep the store current from NEMWEB (default: NEMDASH_SERVER_COLLECT).",
            show_default=False,
        ),
    ] = None,
    offline_demo: Annotated[
        bool,
        typer.Option(
            "--offline-demo/--no-offline-demo",
            help="With an empty store and NEMWEB unreachable, serve the synthetic demo store.",
        ),
    ] = True,
    data_dir: DataDir = None,
    verbose: Verbose = 0,
) -> None:
    """Serve the dashboard (/) and the REST API (/api/v1, docs at /docs) on one port."""
    from nemdash.server import serve as run_server
    from nemdash.server import serve_offline_first

    settings = _settings(data_dir, verbose)
    console.print(f"nemdash on http://{host}:{port}/ (API docs: /docs); Ctrl-C stops")
    try:
        if offline_demo and (settings.server_collect if collect is None else collect):
            serve_offline_first(
                settings, host=host, port=port, workers=workers, progress=_stage_printer()
            )
        else:
            run_server(settings, host=host, port=port, workers=workers, collect=collect)
    except NemdashError as exc:
        raise _fail(exc) from exc


def _stage_printer() -> Callable[[str, int, int], None]:
    """A progress callback that prints each stage once (for multi-stage builds)."""
    seen: set[str] = set()

    def show(stage: str, done: int, total: int) -> None:
        if stage not in seen:
            seen.add(stage)
            console.print(f"  {stage} ...")

    return show


@app.command()
def demo(
    days: Annotated[int, typer.Option("--days", min=1, help="Days of synthetic data.")] = 30,
    years: Annotated[
        int | None, typer.Option("--years", min=1, help="Years of data (benchmark scale).")
    ] = None,
    units: Annotated[int, typer.Option("--units", min=10, help="Units in the fleet.")] = 450,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed (default: NEMDASH_DEMO_SEED).")
    ] = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Generate and load again even if built.")
    ] = False,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Build, then exit.")] = False,
    live: Annotated[
        bool, typer.Option("--live", help="Keep publishing new intervals on a fast clock.")
    ] = False,
    speed: Annotated[
        float, typer.Option("--speed", min=0.1, help="With --live: demo seconds per real second.")
    ] = 60.0,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Workers = 1,
    data_dir: DataDir = None,
    verbose: Verbose = 0,
) -> None:
    """Build a synthetic NEM in AEMO's formats into its own store, then serve it (labelled)."""
    from nemdash.demo.build import build_demo_store
    from nemdash.demo.live import LiveDemo

    settings = _settings(data_dir, verbose)
    console.print("building the synthetic demo store (once; reused afterwards)")
    try:
        store = build_demo_store(
            settings,
            days=days,
            years=years,
            units=units,
            seed=seed,
            rebuild=rebuild,
            progress=_stage_printer(),
        )
    except NemdashError as exc:
        raise _fail(exc) from exc
    scada = store.rows.get("unit_scada", 0)
    how = "reused" if store.reused else f"built in {store.timings.get('total', 0):.0f} s"
    out.print(
        f"SYNTHETIC demo store at {store.root}: {store.params.units} units, "
        f"{store.start:%Y-%m-%d %H:%M} .. {store.end:%Y-%m-%d %H:%M} NEM time, "
        f"{scada:,} SCADA rows, store version {store.version} ({how})"
    )
    runner = LiveDemo(store.settings, store, speed=speed) if live else None
    if no_serve:
        if runner is not None:
            console.print(f"publishing new intervals at {speed:g}x; Ctrl-C stops")
            runner.run_until(_stop_on_signals())
        return
    from nemdash.server import serve as run_server

    if runner is not None:
        runner.start()
    try:
        console.print(f"nemdash demo on http://{host}:{port}/ ; Ctrl-C stops")
        # Never collect from NEMWEB into the synthetic store: the live demo is its only writer.
        run_server(store.settings, host=host, port=port, workers=workers, collect=False)
    finally:
        if runner is not None:
            runner.stop()


@cache_app.command("stats")
def cache_stats_cmd(data_dir: DataDir = None, verbose: Verbose = 0) -> None:
    """Show the query cache: entries, bytes and hit ratios (disk, and memory of this process)."""
    from nemdash.query.cache import cache_stats

    stats = cache_stats(_settings(data_dir, verbose))
    grid = Table(title=f"query cache at {stats.directory}")
    for name in ("layer", "entries", "bytes", "max bytes", "hits", "misses", "evictions"):
        grid.add_column(name, justify="left" if name == "layer" else "right")
    for layer in (stats.memory, stats.disk):
        grid.add_row(
            layer.layer,
            f"{layer.entries:,}",
            f"{layer.bytes:,}",
            f"{layer.max_bytes:,}",
            f"{layer.hits:,}",
            f"{layer.misses:,}",
            f"{layer.evictions:,}",
        )
    out.print(grid)
    for usage in stats.functions:
        out.print(f"  {usage.function}: {usage.entries:,} entries, {usage.bytes:,} bytes on disk")


@cache_app.command("clear")
def cache_clear_cmd(data_dir: DataDir = None, verbose: Verbose = 0) -> None:
    """Delete the disk cache; running servers drop their memory caches within a second."""
    from nemdash.query.cache import clear_cache

    removed = clear_cache(_settings(data_dir, verbose))
    out.print(f"{removed} cached results deleted")


@cache_app.command("warm")
def cache_warm_cmd(data_dir: DataDir = None, verbose: Verbose = 0) -> None:
    """Compute the hot set (the dashboard's default views) into the shared disk cache now."""
    import time

    from nemdash.query.cache import warm
    from nemdash.query.connection import Database
    from nemdash.query.hotset import hot_set

    db = Database(_settings(data_dir, verbose))
    started = time.perf_counter()
    run = warm(db, hot_set(db))
    run.join()
    out.print(
        f"{run.completed} of {run.total} hot queries cached ({run.failed} failed) in "
        f"{time.perf_counter() - started:.1f} s"
    )
    if run.failed:
        raise typer.Exit(code=2)


def main() -> None:
    """Entry point of the ``nemdash`` script."""
    app()


if __name__ == "__main__":
    main()
