"""ttcs's benchmark harness: evaluation tables (``ttcs-table``), the voting speed benchmark
(``ttcs-bench-voting``) and the answer-checking benchmark (``ttcs-bench-answers``).
Importing the package does nothing; each tool is its own module."""
