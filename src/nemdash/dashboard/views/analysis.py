# mypy: disallow-untyped-calls=False
# (Panel's widgets, panes and layouts take their params as untyped **kwargs.)
"""The Price analysis tab: a pivot of energy, revenue, price, capacity and utilisation.

Rows are grouped by any of region, fuel, station and DUID, in the order chosen, and can be
collapsed and expanded (click a row). Each level is its own call of the query layer's ``pivot``
with the keys down to that level, so every row's figures are exact, ratios included (an
average price is that group's revenue / energy, never an average of averages). Filters keep
only some regions or fuels. Units come from the DUID registry as it is today; rooftop PV has no
DUID and is not in the pivot (see the Generation tab).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import panel as pn
import pyarrow as pa

from nemdash.dashboard.datastore import DataStore, Filters, Span
from nemdash.dashboard.theme import SERIES_LABELS
from nemdash.dashboard.views.base import Col, View, heading, new_table
from nemdash.dashboard.views.controls import RangeControl
from nemdash.query.analysis import PIVOT_KEYS
from nemdash.query.metadata import column

#: The pivot's keys as the dashboard names them.
KEY_LABELS: Final = {"region": "Region", "fuel": "Fuel", "station": "Station", "duid": "DUID"}
#: The measures, their titles (with units) and formats.
MEASURES: Final = (
    ("energy_mwh", "Energy (MWh)", "0,0"),
    ("revenue", "Revenue ($)", "$0,0"),
    ("average_price", "Average price ($/MWh)", "$0,0.00"),
    ("capacity_mw", "Capacity (MW)", "0,0"),
    ("utilisation_pct", "Utilisation (%)", "0.0"),
    ("units", "Units", "0,0"),
)
TOTAL: Final = "All units"
_INDENT: Final = "\u00a0\u00a0\u00a0"


@dataclass(frozen=True)
class Node:
    """A row of the tree: its keys' values from the outermost down, and its figures."""

    path: tuple[str, ...]
    values: dict[str, Any]


def tree(levels: Sequence[pa.Table], keys: Sequence[str]) -> list[Node]:
    """Every row of every level, each parent directly before its children (depth first)."""
    columns = [PIVOT_KEYS[k] for k in keys]
    children: dict[tuple[str, ...], list[Node]] = {}
    for depth, table in enumerate(levels):
        for row in table.to_pylist():
            path = tuple(str(row[c]) for c in columns[:depth])
            children.setdefault(path[:-1] if depth else ("__root__",), []).append(Node(path, row))
    ordered: list[Node] = []

    def walk(node: Node) -> None:
        ordered.append(node)
        for child in children.get(node.path, []):
            walk(child)

    for root in children.get(("__root__",), []):
        walk(root)
    return ordered


def visible_rows(nodes: Sequence[Node], expanded: set[tuple[str, ...]]) -> list[Node]:
    """The rows whose every ancestor is expanded."""
    return [n for n in nodes if all(n.path[:i] in expanded for i in range(len(n.path)))]


def label(node: Node, keys: Sequence[str], expanded: set[tuple[str, ...]]) -> str:
    """A row's label: indented by depth, with an arrow when it has children."""
    depth = len(node.path)
    if depth == 0:
        text = TOTAL
    else:
        value = node.path[-1]
        text = SERIES_LABELS.get(value, value) if keys[depth - 1] == "fuel" else value
    opened = "▾ " if node.path in expanded else "▸ "
    arrow = opened if depth < len(keys) else "\u00a0\u00a0"
    return _INDENT * depth + arrow + text


#: The pivot table's columns: the row label, what it groups, then the measures.
COLUMNS: Final = (
    Col("group", "Group"),
    Col("level", "Level"),
    *(Col(field, title, fmt) for field, title, fmt in MEASURES),
)


def tree_table(
    nodes: Sequence[Node], keys: Sequence[str], expanded: set[tuple[str, ...]]
) -> pa.Table:
    """The visible rows: the label, what the row groups by, then the measures."""
    rows = []
    for node in visible_rows(nodes, expanded):
        depth = len(node.path)
        row: dict[str, Any] = {
            "group": label(node, keys, expanded),
            "level": KEY_LABELS[keys[depth - 1]] if depth else "Total",
        }
        for field, _, _ in MEASURES:
            row[field] = node.values.get(field)
        rows.append(row)
    schema = pa.schema(
        [
            column("group", pa.string()),
            column("level", pa.string()),
            *(column(f, pa.int64() if f == "units" else pa.float64()) for f, _, _ in MEASURES),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


class PivotView(View[list[pa.Table]]):
    """The collapsible pivot table."""

    tab: ClassVar[str] = "analysis"
    watches: ClassVar[tuple[str, ...]] = ("group_by", "range", "pivot_regions", "pivot_fuels")

    def build(self) -> pn.viewable.Viewable:
        self.nodes: list[Node] = []
        self.keys: tuple[str, ...] = ()
        self.expanded: set[tuple[str, ...]] = {()}
        self.rows: list[Node] = []
        # Not sortable: the rows' order is the tree's.
        self.table = new_table(COLUMNS, name="pivot-table", max_rows=22, sortable=False)
        self.table.on_click(self.toggle)
        expand = pn.widgets.Button(label="Expand all", color="light", width=110)
        collapse = pn.widgets.Button(label="Collapse all", color="light", width=110)
        expand.on_click(lambda _e: self.expand_all())
        collapse.on_click(lambda _e: self.collapse_all())
        self.caption = pn.pane.Markdown("", styles={"color": "#666", "font-size": "0.85em"})
        return pn.Column(
            heading("Pivot", expand, collapse, self.download("pivot")),
            self.caption,
            self.table,
            sizing_mode="stretch_width",
        )

    def fetch(self, filters: Filters, span: Span) -> list[pa.Table]:
        return self.store.pivot_levels(filters, span)

    def apply(self, data: list[pa.Table]) -> None:
        self.keep("pivot", data[-1])
        self.name_downloads()
        keys = self.shown.group_by
        if keys != self.keys:
            self.expanded = {()}
        self.keys = keys
        self.nodes = tree(data, keys)
        during = self.span.label if self.span is not None else ""
        self.caption.object = (
            f"{during}. Energy = sum of SCADA MW x 5/60; revenue = energy x regional spot price; "
            "average price = revenue / energy; utilisation = energy / (registered capacity x "
            "hours reporting) x 100. Click a row to open or close it."
        )
        self._show()

    def _show(self) -> None:
        self.rows = visible_rows(self.nodes, self.expanded)
        self.table.update(tree_table(self.nodes, self.keys, self.expanded))

    def toggle(self, row: int) -> None:
        """Open or close the row at ``row`` of the table shown."""
        if not 0 <= row < len(self.rows):
            return
        path = self.rows[row].path
        if len(path) >= len(self.keys):
            return  # a leaf
        if path in self.expanded:
            self.expanded = {p for p in self.expanded if p[: len(path)] != path}
        else:
            self.expanded = self.expanded | {path}
        self._show()

    def expand_all(self) -> None:
        """Open every row."""
        self.expanded = {n.path for n in self.nodes if len(n.path) < len(self.keys)}
        self._show()

    def collapse_all(self) -> None:
        """Close every row (the total alone)."""
        self.expanded = set()
        self._show()


class AnalysisTab(pn.viewable.Viewer):
    """The grouping and filters above the pivot."""

    def __init__(self, store: DataStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.range = RangeControl(store)
        group_by = pn.widgets.MultiChoice.from_param(
            store.param.group_by,
            label="Group by (outermost first; remove and add to reorder)",
            width=360,
            margin=(5, 10),
        )
        regions = pn.widgets.MultiChoice.from_param(
            store.param.pivot_regions, label="Regions (none: all)", width=280, margin=(5, 10)
        )
        fuels = pn.widgets.MultiChoice.from_param(
            store.param.pivot_fuels, label="Fuels (none: all)", width=320, margin=(5, 10)
        )
        self.pivot = PivotView(store)
        self.layout = pn.Column(
            pn.FlexBox(group_by, self.range, align_items="end"),
            pn.FlexBox(regions, fuels),
            self.pivot,
            sizing_mode="stretch_width",
        )

    def close(self) -> None:
        """Stop following the store."""
        self.range.close()
        self.pivot.close()

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout


__all__ = ["KEY_LABELS", "AnalysisTab", "Node", "PivotView", "tree", "tree_table", "visible_rows"]
