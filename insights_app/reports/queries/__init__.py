"""SQL aggregates behind the report pages; every function runs a fixed number of queries."""
