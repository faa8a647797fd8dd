"""nemdash: collect, store and serve the public 5-minute data of Australia's NEM.

Data flows one way: ``nemweb`` (listings, downloads, MMS CSV parsing) -> ``store`` (Parquet lake,
manifest, rollups) -> ``query`` -> ``api`` / ``dashboard``. See docs/ for users and operators.
"""

__version__ = "0.1.0"
