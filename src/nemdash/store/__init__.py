"""The Parquet lake: upsert by primary key, atomic publish, compaction, the manifest, rollups."""
