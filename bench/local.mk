# bench/: benchmarks (not part of make check).
EXTRA_DIST += bench/celery_throughput.sh
