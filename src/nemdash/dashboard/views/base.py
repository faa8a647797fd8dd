# mypy: disallow-untyped-calls=False
# (Panel's widgets, panes and layouts take their params as untyped **kwargs.)
"""What every view shares: reading the DataStore, loading state, errors, downloads, tables.

A :class:`View` draws one part of a tab from the :class:`~nemdash.dashboard.datastore.DataStore`
and never changes data itself. It declares the store params it depends on (``watches``); when one
changes, or the store version moves on, it fetches again, but only while its tab (and sub-tab)
is shown: a hidden view just notes that it is out of date and catches up on its next visit. While
it waits it shows Panel's ``loading`` spinner; a result that arrives after a newer request was
made is dropped, so quick changes never leave an old answer on screen.

``fetch`` runs wherever the store's runner puts it (a worker thread in a server session) and only
calls the store; ``apply`` runs on the session's thread and changes the view's models.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, ClassVar, Generic, Literal, TypeVar

import panel as pn
import pyarrow as pa
from bokeh.models import ColumnDataSource
from bokeh.models.widgets.tables import DataTable, NumberFormatter, StringFormatter, TableColumn
from panel.viewable import Viewer

from nemdash.dashboard.datastore import DataStore, Filters, Outcome, Span, csv_bytes, table_range
from nemdash.errors import QueryError

log = logging.getLogger(__name__)

D = TypeVar("D")
AlertKind = Literal["info", "warning", "danger"]

#: What a view says when the store holds no data yet.
NO_DATA = (
    "The store holds no data yet. Collect some (`nemdash collect`, `nemdash backfill`) or run "
    "the synthetic demo (`nemdash demo`)."
)


class View(Viewer, Generic[D]):
    """One part of a tab: fetches from the store when its inputs change, shows the result."""

    #: The tab (DataStore.tab) this view is on.
    tab: ClassVar[str]
    #: The Generation sub-tab (DataStore.gen_view) it is on, if any.
    subview: ClassVar[str | None] = None
    #: Store params whose change makes the view fetch again (the version always does).
    watches: ClassVar[tuple[str, ...]] = ()

    def __init__(self, store: DataStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.notice = pn.pane.Alert(
            "", alert_type="warning", visible=False, sizing_mode="stretch_width", margin=(5, 10)
        )
        self.tables: dict[str, pa.Table] = {}
        self._download_map: dict[str, list[pn.widgets.FileDownload]] = {}
        self.span: Span | None = None
        """The range of the result shown."""
        self.shown = store.filters()
        """The filters of the result shown (read them in ``apply``)."""
        self._token = 0
        self._dirty = True
        self.applied = 0
        """How many results were applied (tests wait on it)."""
        body = self.build()
        self.layout = pn.Column(self.notice, body, sizing_mode="stretch_width")
        self._watchers = [
            store.param.watch(self._inputs_changed, [*self.watches, "version"]),
            store.param.watch(self._shown_or_hidden, ["tab", "gen_view"]),
        ]
        if self.visible:
            self.refresh()

    # -- to override ------------------------------------------------------------------------------

    def build(self) -> pn.viewable.Viewable:
        """The view's layout, built once (charts and tables start empty)."""
        raise NotImplementedError

    def fetch(self, filters: Filters, span: Span) -> D:
        """Ask the store for what the view draws (runs off the session's thread)."""
        raise NotImplementedError

    def apply(self, data: D) -> None:
        """Draw ``data`` (runs on the session's thread)."""
        raise NotImplementedError

    def span_of(self, filters: Filters) -> Span | None:
        """The range the view shows (default: the store's range filter)."""
        return self.store.span(filters)

    def waiting_for(self, filters: Filters) -> str | None:
        """What the user must choose before there is anything to fetch (None: nothing)."""
        return None

    # -- machinery --------------------------------------------------------------------------------

    @property
    def visible(self) -> bool:
        """Whether the view is on screen (its tab, and sub-tab, are the active ones)."""
        if self.store.tab != self.tab:
            return False
        return self.subview is None or self.store.gen_view == self.subview

    def _inputs_changed(self, *_events: Any) -> None:
        if self.visible:
            self.refresh()
        else:
            self._dirty = True

    def _shown_or_hidden(self, *_events: Any) -> None:
        if self.visible and self._dirty:
            self.refresh()

    def refresh(self) -> None:
        """Fetch again with the current filters (the answer replaces whatever is shown)."""
        self._dirty = False
        self._token += 1
        filters = self.store.filters()
        waiting = self.waiting_for(filters)
        if waiting is not None:
            self.layout.loading = False
            self.say(waiting, "info")
            return
        self.layout.loading = True
        self.store.runner.submit(partial(self._fetch, filters), partial(self._done, self._token))

    def _fetch(self, filters: Filters) -> tuple[D, Span, Filters] | None:
        span = self.span_of(filters)
        if span is None:
            return None
        return self.fetch(filters, span), span, filters

    def _done(self, token: int, outcome: Outcome[tuple[D, Span, Filters] | None]) -> None:
        if token != self._token:
            return  # a newer request is under way: its answer will be shown
        self.layout.loading = False
        if outcome.error is not None:
            self.show_error(outcome.error)
            return
        if outcome.value is None:
            self.say(NO_DATA, "info")
            return
        data, span, filters = outcome.value
        self.notice.visible = False
        self.span = span
        self.shown = filters
        try:
            self.apply(data)
        except Exception as exc:
            self.show_error(exc)
            return
        self.applied += 1

    def show_error(self, error: Exception) -> None:
        """Say what went wrong: a refused query in its own words, anything else logged."""
        if isinstance(error, QueryError):
            self.say(str(error), "warning")
        else:
            log.error("dashboard view %s failed", type(self).__name__, exc_info=error)
            self.say(
                f"This view could not be drawn ({type(error).__name__}: {error}). "
                "The server log has the details.",
                "danger",
            )

    def say(self, text: str, kind: AlertKind) -> None:
        """Show a notice above the view."""
        self.notice.object = text
        self.notice.alert_type = kind
        self.notice.visible = True

    def close(self) -> None:
        """Stop following the store (the session has ended)."""
        for watcher in self._watchers:
            self.store.param.unwatch(watcher)
        self._watchers = []

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout

    # -- helpers for subclasses -------------------------------------------------------------------

    def keep(self, name: str, table: pa.Table) -> pa.Table:
        """Remember the table behind a chart or table, for its CSV download."""
        self.tables[name] = table
        return table

    def download(self, name: str, label: str = "CSV") -> pn.widgets.FileDownload:
        """A button downloading the data behind ``name`` as CSV (the API's CSV format)."""
        button = pn.widgets.FileDownload(
            callback=partial(self._csv, name),
            filename=f"nemdash-{name}.csv",
            label=label,
            color="light",
            embed=False,
            width=110,
            height=32,
            margin=(5, 5),
            css_classes=[f"nd-download-{name}"],
        )
        self._download_map.setdefault(name, []).append(button)
        return button

    def _csv(self, name: str) -> Any:
        table = self.tables.get(name)
        if table is None:
            return None
        return csv_bytes(table, synthetic=self.store.synthetic)

    def name_downloads(self) -> None:
        """Put each download's range in its file name (after the tables were kept)."""
        for name, buttons in self._download_map.items():
            table = self.tables.get(name)
            stamp = table_range(table) if table is not None else ""
            cleaned = stamp.replace(":", "").replace("..", "_")
            filename = f"nemdash-{name}{'-' + cleaned if cleaned else ''}.csv"
            for button in buttons:
                button.filename = filename


def heading(text: str, *extras: pn.viewable.Viewable) -> pn.Row:
    """A view's title with its buttons (downloads) beside it."""
    return pn.Row(
        pn.pane.Markdown(f"##### {text}", margin=(0, 10)),
        pn.Spacer(sizing_mode="stretch_width"),
        *extras,
        sizing_mode="stretch_width",
    )


# -- tables ---------------------------------------------------------------------------------------

#: Height in pixels of a table row and of its header (Bokeh's DataTable defaults).
ROW_HEIGHT = 25
HEADER_HEIGHT = 30


@dataclass(frozen=True)
class Col:
    """A table column: the result's field, its title (with unit), and its number format."""

    field: str
    title: str
    fmt: str | None = None
    """Bokeh numbro format (``0,0.00``); None for text and times."""
    labels: Mapping[str, str] | None = None
    """Codes shown as labels (fuel names)."""


def column_data(table: pa.Table, columns: Sequence[Col]) -> dict[str, Any]:
    """The columns of an Arrow result as a table's data: labels for codes, times as text."""
    data: dict[str, Any] = {}
    for c in columns:
        values = table.column(c.field).to_pylist() if c.field in table.column_names else []
        if c.labels is not None:
            values = [c.labels.get(v, v) if isinstance(v, str) else v for v in values]
        elif values and isinstance(next((v for v in values if v is not None), None), datetime):
            values = [None if v is None else f"{v:%Y-%m-%d %H:%M}" for v in values]
        elif c.fmt is not None:
            values = [float("nan") if v is None else v for v in values]
        data[c.field] = values
    return data


class Table(Viewer):
    """A read-only, sortable table (Bokeh's DataTable: light, and no pandas in the way).

    ``update`` shows an Arrow result; ``on_click`` calls back with the row clicked, as shown.
    """

    def __init__(
        self,
        columns: Sequence[Col],
        *,
        name: str,
        max_rows: int = 15,
        sortable: bool = True,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self.columns = tuple(columns)
        self.max_rows = max_rows
        self.source = ColumnDataSource({c.field: [] for c in columns}, name=f"{name}-source")
        self.widget = DataTable(
            source=self.source,
            columns=[
                TableColumn(
                    field=c.field,
                    title=c.title,
                    formatter=NumberFormatter(format=c.fmt, text_align="right")
                    if c.fmt
                    else StringFormatter(),
                )
                for c in columns
            ],
            index_position=None,
            sortable=sortable,
            reorderable=False,
            editable=False,
            sizing_mode="stretch_width",
            height=HEADER_HEIGHT + ROW_HEIGHT,
            name=name,
        )
        self.pane = pn.pane.Bokeh(self.widget, sizing_mode="stretch_width", name=name)
        self._clicked: Callable[[int], None] | None = None
        self.source.selected.on_change("indices", self._selected)

    def update(self, table: pa.Table) -> None:
        """Show ``table`` (its rows in order; the user may sort them)."""
        data = column_data(table, self.columns)
        rows = table.num_rows
        self.widget.height = HEADER_HEIGHT + ROW_HEIGHT * max(1, min(rows, self.max_rows)) + 2
        self.source.data = data

    def values(self, field: str) -> list[Any]:
        """What a column shows, top to bottom (before any sorting by the user)."""
        return list(self.source.data[field])

    def on_click(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(row)`` when a row is clicked."""
        self._clicked = callback

    def _selected(self, _attr: str, _old: Any, new: Any) -> None:
        if not new or self._clicked is None:
            return
        row = int(new[0])
        # Clear the selection, so that clicking the same row again is heard again.
        self.source.selected.indices = []
        self._clicked(row)

    def __panel__(self) -> pn.viewable.Viewable:
        return self.pane


def new_table(
    columns: Sequence[Col], *, name: str, max_rows: int = 15, sortable: bool = True
) -> Table:
    """A :class:`Table` of ``columns``."""
    return Table(columns, name=name, max_rows=max_rows, sortable=sortable)


__all__ = ["NO_DATA", "Col", "Table", "View", "column_data", "heading", "new_table"]
