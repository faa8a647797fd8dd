"""Keeping the lake current: the live refresh loop and backfill planning."""
