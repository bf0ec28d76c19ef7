"""ttcs's benchmark harness: evaluation tables (``ttcs-table``) and performance benchmarks
(``ttcs-bench-voting``). Importing the package does nothing; each tool is its own module."""
