"""Reading NEMWEB: listings, downloads, file names, zips of zips, and AEMO's MMS CSV format.

This package knows nothing of the store: it turns bytes into typed Arrow tables.
"""
