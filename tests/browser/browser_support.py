"""What the browser tests share with their fixtures (a module of its own: ``conftest`` is not
importable by name, there being one in ``tests/`` too)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page

from nemdash.config import Settings
from nemdash.demo.build import DemoStore


@dataclass
class Server:
    """A server process serving a private copy of the demo store."""

    url: str
    demo: DemoStore
    process: subprocess.Popen[bytes]
    log: Path
    settings: Settings = field(repr=False)


#: Milliseconds to wait for a view (cold queries on two shared cores).
WAIT = 60_000

ROWS = """([name, field]) => {
    const doc = window.Bokeh && window.Bokeh.documents[0];
    const source = doc && doc.get_model_by_name(name);
    if (!source) return -1;
    const column = source.data[field];
    return column ? column.length : -1;
}"""


def rows(page: Page, source: str, field: str) -> int:
    """Points (rows) in a named data source of the page, -1 if it is not there yet."""
    return int(page.evaluate(ROWS, [source, field]))


def wait_rows(page: Page, source: str, field: str, *, not_: int | None = None) -> int:
    """Wait until the source holds rows (and, with ``not_``, a number other than that)."""
    other = -1 if not_ is None else not_
    page.wait_for_function(
        f"""() => {{
            const n = ({ROWS})({json.dumps([source, field])});
            return n > 0 && n !== {other};
        }}""",
        timeout=WAIT,
    )
    return rows(page, source, field)


def rows_in(source: str, field: str) -> str:
    """A JavaScript predicate: the named source of the page holds rows."""
    return f"() => ({ROWS})({json.dumps([source, field])}) > 0"
