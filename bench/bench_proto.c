/* SPDX-License-Identifier: MIT */
/*
 * bench_proto.c - protocol/ throughput on one core: decode+encode of a typical v2 JSON task
 * and of the kombu Redis envelope, from a Celery-captured message. Prints one line per case,
 * "<case> <msgs/s>", for bench/bench-proto.sh to set beside Python kombu.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "proto.h"
#include "xalloc.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0) {
		perror(path);
		exit(1);
	}
	rewind(f);
	buf = xmalloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		perror(path);
		exit(1);
	}
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/* Task: decode the message into struct proto_task and encode it back as v2 JSON. */
static int
one_task(const struct proto_msg *m, struct err *err)
{
	struct proto_task *t = proto_task_decode(m, NULL, err);
	struct proto_msg out;

	if (t == NULL || proto_task_encode(t, PROTO_SER_JSON, -1, &out, err) < 0) {
		proto_task_free(t);
		return -1;
	}
	proto_msg_cleanup(&out);
	proto_task_free(t);
	return 0;
}

/* Envelope: parse the list element (JSON + base64) and build it again. */
static int
one_envelope(const char *env, size_t len, struct err *err)
{
	struct proto_msg m;
	char *again;
	size_t n;

	if (proto_envelope_decode(env, len, NULL, &m, err) < 0)
		return -1;
	again = proto_envelope_encode(&m, "", "celery", "a19d46aa-473a-4ebe-b5f3-51ddbb04d68c", &n,
	                              err);
	proto_msg_cleanup(&m);
	if (again == NULL)
		return -1;
	free(again);
	return 0;
}

int
main(int argc, char **argv)
{
	double secs = argc > 2 ? atof(argv[2]) : 2.0;
	struct proto_msg m;
	struct err err;
	size_t len;
	char *env;
	long iters;
	double t0, dt;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_proto ENVELOPE.json [SECONDS]\n");
		return 2;
	}
	xalloc_install_cjson();
	env = read_all(argv[1], &len);
	if (proto_envelope_decode(env, len, NULL, &m, &err) < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], err.msg);
		return 1;
	}
	/* Each case runs in batches of 1000 until `secs` have passed. */
	iters = 0;
	t0 = now();
	do {
		for (int i = 0; i < 1000; i++)
			if (one_task(&m, &err) < 0) {
				fprintf(stderr, "task: %s\n", err.msg);
				return 1;
			}
		iters += 1000;
		dt = now() - t0;
	} while (dt < secs);
	printf("task %.0f\n", (double)iters / dt);
	iters = 0;
	t0 = now();
	do {
		for (int i = 0; i < 1000; i++)
			if (one_envelope(env, len, &err) < 0) {
				fprintf(stderr, "envelope: %s\n", err.msg);
				return 1;
			}
		iters += 1000;
		dt = now() - t0;
	} while (dt < secs);
	printf("envelope %.0f\n", (double)iters / dt);
	proto_msg_cleanup(&m);
	free(env);
	return 0;
}
