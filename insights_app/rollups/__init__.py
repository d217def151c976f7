"""Rollups: cells of per-day sums kept exact by every write, rebuilt and checked by ``insights_rollup``."""
