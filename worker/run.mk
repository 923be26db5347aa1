# Sources of `janitor run` / `janitor report` (the engine's CLI).
janitor_run_sources = worker/cmd_run.c worker/run_int.h worker/run_out.c
