# bench/: benchmarks (not part of make check).
EXTRA_DIST += bench/celery_throughput.sh
EXTRA_DIST += bench/delete_throughput.sh bench/delete_throughput.py bench/delete_django.py
