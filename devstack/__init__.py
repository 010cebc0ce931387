"""Running the whole thing locally: processes for the demo, the tests and the benchmarks."""
