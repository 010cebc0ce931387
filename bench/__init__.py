"""Benchmarks: each runs as `python -m bench.<name>`, starts its own stack on loopback, prints
JSON lines and ends with one summary line (see docs and issue 2, section 4)."""
