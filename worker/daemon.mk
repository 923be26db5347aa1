# Sources of `janitor worker` (the daemon) and the Redis transport/backend `janitor call` reuses.
janitor_daemon_sources = \
	worker/cmd_worker.c \
	worker/cfg.h worker/cfg.c \
	worker/exec.h worker/exec_int.h worker/exec.c worker/exec_task.c \
	worker/broker.h worker/broker.c worker/broker_redis.c \
	worker/backend.h worker/backend_redis.c \
	worker/redis_int.h worker/redis_conn.c

dist_check_SCRIPTS += tests/integration/worker_redis_basic.sh
