"""DuckDB over the lake: connections, stable views and typed query functions."""
