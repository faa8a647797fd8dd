"""A synthetic NEM written in AEMO's own file formats (offline demo and benchmark scale)."""
