# Sources of `janitor worker` / `janitor call` (the daemon).
janitor_daemon_sources = worker/cmd_worker.c
