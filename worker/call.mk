# Sources of `janitor call` (publish a task like `celery call`), and its tests: the Celery
# interop suite (real Redis, PostgreSQL, SQLite and Python Celery 5.2 beside janitor).
janitor_call_sources = worker/cmd_call.c

dist_check_SCRIPTS += tests/integration/interop_redis.sh tests/integration/interop_mixed.sh \
	tests/integration/interop_resilience.sh
EXTRA_DIST += tests/integration/celery_app/jtapp.py tests/integration/celery_app/jt.py \
	tests/integration/celery_app/lib.sh tests/integration/celery_app/celery-call-envelope.json
