"""The chain as columnar data: ``export`` writes Parquet tables from the node's chain (it
runs inside the node, behind the RPC ``exportchain``), ``analyze`` asks DuckDB questions
of those files. pyarrow and duckdb come with the ``analytics`` extra; nothing else in the
node imports this package."""
