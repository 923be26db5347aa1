# bench/: benchmarks (not part of make check).
