"""A synthetic NEM written in AEMO's own file formats (offline demo and benchmark scale).

See ``docs/demo.md``. The public entry points:

* :func:`build_tree` writes a NEMWEB-shaped tree (CURRENT, ARCHIVE, MMSDM, registry workbook);
* :class:`LiveClock` / :func:`publish_interval` write the CURRENT files of one more interval;
* :func:`make_fleet` and :func:`simulate` give the fleet and the simulated market as arrays.
"""

from nemdash.demo.fleet import Fleet, make_fleet
from nemdash.demo.market import MarketDays, simulate
from nemdash.demo.tree import (
    LiveClock,
    TreePlan,
    TreeSummary,
    build_tree,
    plan_tree,
    publish_interval,
)

__all__ = [
    "Fleet",
    "LiveClock",
    "MarketDays",
    "TreePlan",
    "TreeSummary",
    "build_tree",
    "make_fleet",
    "plan_tree",
    "publish_interval",
    "simulate",
]
