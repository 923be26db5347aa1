# Sources of `janitor call` (publish a task like `celery call`), and its tests.
janitor_call_sources = worker/cmd_call.c
