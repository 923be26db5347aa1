/* SPDX-License-Identifier: MIT */
/*
 * backend_redis.c - Celery's Redis result backend: celery-task-meta-<id> written with
 * SETEX + PUBLISH in one MULTI (never over a stored SUCCESS), read with GET, waited for with
 * SUBSCRIBE + GET as AsyncResult.get() does. Facts: celery-wire.md 4.3. Also backend.c's
 * scheme choice, since Redis is the only backend so far.
 */
#include "config.h"

#include "backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "clock.h"
#include "proto.h"
#include "redis_int.h"
#include "xalloc.h"

struct backend {
	redisContext *c;      /* owned */
	struct redis_url url; /* owned; kept to open the subscriber connection of wait */
	int64_t expires;      /* seconds, 0 = no expiry */
};

char *
backend_key(const char *task_id)
{
	return xasprintf("celery-task-meta-%s", task_id);
}

const struct backend_ops *
backend_ops_for_url(const char *url, struct err *err)
{
	if (url == NULL || *url == '\0')
		return (void)err_set(err, ERR_CONFIG, "result backend URL: not set"), NULL;
	if (strncmp(url, "redis://", 8) == 0)
		return &backend_redis_ops;
	if (strncmp(url, "rpc://", 6) == 0 || strncmp(url, "django-db", 9) == 0)
		return (void)err_set(err, ERR_UNSUPPORTED,
		                     "result backend URL: this scheme is not built yet"),
		       NULL;
	return (void)err_set(err, ERR_CONFIG,
	                     "result backend URL: unknown scheme (expected redis://)"),
	       NULL;
}

static struct backend *
rbe_open(const char *url, int64_t result_expires, struct err *err)
{
	struct backend *be = xcalloc(1, sizeof(*be));

	if (redis_url_parse(url, &be->url, err) < 0) {
		free(be);
		return NULL;
	}
	be->c = redis_open(&be->url, 5, 30, err);
	if (be->c == NULL) {
		redis_url_cleanup(&be->url);
		free(be);
		return NULL;
	}
	be->expires = result_expires;
	return be;
}

static void
rbe_close(struct backend *be)
{
	if (be == NULL)
		return;
	redisFree(be->c);
	redis_url_cleanup(&be->url);
	free(be);
}

static cJSON *
decode_meta(const char *s, size_t len, struct err *err)
{
	return proto_result_decode(s, len, NULL, err);
}

static cJSON *
rbe_get(struct backend *be, const char *task_id, struct err *err)
{
	char *key = backend_key(task_id);
	const char *av[2] = { "GET", key };
	redisReply *r = redis_cmd(be->c, err, 2, av);
	cJSON *meta = NULL;

	free(key);
	if (r == NULL)
		return NULL;
	if (r->type == REDIS_REPLY_STRING)
		meta = decode_meta(r->str, r->len, err);
	else
		err_clear(err);
	freeReplyObject(r);
	return meta;
}

static int
is_status(const cJSON *meta, const char *st)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(meta, "status");

	return cJSON_IsString(s) && strcmp(s->valuestring, st) == 0;
}

static int
rbe_store(struct backend *be, const char *task_id, const cJSON *meta, bool *skipped,
          struct err *err)
{
	char *key = NULL, *json = NULL, exp[24];
	struct redis_pipe p;
	redisReply *r;
	cJSON *cur;
	struct err gerr;
	const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
	int rc = -1;

	if (skipped != NULL)
		*skipped = false;
	err_clear(&gerr);
	cur = rbe_get(be, task_id, &gerr);
	if (cur == NULL && gerr.cls == ERR_TRANSIENT) {
		*err = gerr;
		return -1;
	}
	if (cur != NULL && is_status(cur, "SUCCESS")) {
		cJSON_Delete(cur);
		if (skipped != NULL)
			*skipped = true;
		return 0;
	}
	cJSON_Delete(cur);
	key = backend_key(task_id);
	json = cJSON_PrintUnformatted(meta);
	snprintf(exp, sizeof(exp), "%lld", (long long)be->expires);
	redis_pipe_init(&p, be->c);
	redis_pipe_add(&p, 1, multi, NULL);
	if (be->expires > 0) {
		const char *setex[4] = { "SETEX", key, exp, json };

		redis_pipe_add(&p, 4, setex, NULL);
	} else {
		const char *set[3] = { "SET", key, json };

		redis_pipe_add(&p, 3, set, NULL);
	}
	{
		const char *pub[3] = { "PUBLISH", key, json };

		redis_pipe_add(&p, 3, pub, NULL);
	}
	redis_pipe_add(&p, 1, exec, NULL);
	r = redis_pipe_exec(&p, err);
	if (r == NULL)
		goto out;
	freeReplyObject(r);
	rc = 0;
out:
	free(key);
	free(json);
	return rc;
}

/*
 * Two pipelined passes (longer than 60 lines to keep both passes and their cleanup in one
 * place): 1. GET every key and mark those holding SUCCESS; 2. one MULTI SETEX PUBLISH EXEC
 * per remaining result. Same guard as rbe_store, two round trips for n results.
 */
static int
rbe_store_many(struct backend *be, const char *const *ids, const cJSON *const *metas, size_t n,
               struct err *err)
{
	char **keys = xcalloc(n + 1, sizeof(char *)), **json = xcalloc(n + 1, sizeof(char *));
	char *skip = xcalloc(n + 1, 1), exp[24];
	const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
	struct redis_pipe p;
	size_t i;
	int rc = -1, nw = 0;

	snprintf(exp, sizeof(exp), "%lld", (long long)be->expires);
	for (i = 0; i < n; i++) {
		const char *get[2];

		keys[i] = backend_key(ids[i]);
		get[0] = "GET";
		get[1] = keys[i];
		if (redisAppendCommandArgv(be->c, 2, get, NULL) != REDIS_OK) {
			err_set(err, ERR_TRANSIENT, "redis GET: %s", be->c->errstr);
			goto out;
		}
	}
	/* 1. the guard: never overwrite a stored SUCCESS */
	for (i = 0; i < n; i++) {
		void *rv = NULL;
		redisReply *r;

		if (redisGetReply(be->c, &rv) != REDIS_OK) {
			err_set(err, ERR_TRANSIENT, "redis GET: %s",
			        be->c->errstr[0] != '\0' ? be->c->errstr : "connection lost");
			goto out;
		}
		r = rv;
		if (r->type == REDIS_REPLY_STRING) {
			struct err derr;
			cJSON *cur = decode_meta(r->str, r->len, &derr);

			skip[i] = cur != NULL && is_status(cur, "SUCCESS");
			cJSON_Delete(cur);
		}
		freeReplyObject(r);
	}
	/* 2. one MULTI SETEX PUBLISH EXEC per result, all pipelined */
	redis_pipe_init(&p, be->c);
	for (i = 0; i < n; i++) {
		const char *pub[3];

		if (skip[i])
			continue;
		json[i] = cJSON_PrintUnformatted(metas[i]);
		pub[0] = "PUBLISH";
		pub[1] = keys[i];
		pub[2] = json[i];
		redis_pipe_add(&p, 1, multi, NULL);
		if (be->expires > 0) {
			const char *setex[4] = { "SETEX", keys[i], exp, json[i] };

			redis_pipe_add(&p, 4, setex, NULL);
		} else {
			const char *set[3] = { "SET", keys[i], json[i] };

			redis_pipe_add(&p, 3, set, NULL);
		}
		redis_pipe_add(&p, 3, pub, NULL);
		redis_pipe_add(&p, 1, exec, NULL);
		nw++;
	}
	if (nw > 0) {
		redisReply *r = redis_pipe_exec(&p, err);

		if (r == NULL)
			goto out;
		freeReplyObject(r);
	}
	rc = 0;
out:
	for (i = 0; i < n; i++) {
		free(keys[i]);
		free(json[i]);
	}
	free(keys);
	free(json);
	free(skip);
	return rc;
}

static int
is_ready(const cJSON *meta)
{
	return is_status(meta, "SUCCESS") || is_status(meta, "FAILURE") ||
	       is_status(meta, "REVOKED");
}

static struct timeval
tv_secs(double s)
{
	struct timeval tv;

	if (s < 0.001)
		s = 0.001;
	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - floor(s)) * 1e6);
	return tv;
}

/*
 * 1. open a subscriber connection and SUBSCRIBE to the key's channel (before reading, so a
 *    result stored in between is not missed);
 * 2. GET the key: READY → done;
 * 3. read published messages until a READY one arrives or the deadline passes.
 */
static cJSON *
rbe_wait(struct backend *be, const char *task_id, double timeout, struct err *err)
{
	char *key = backend_key(task_id);
	const char *sub[2] = { "SUBSCRIBE", key };
	redisContext *s = NULL;
	redisReply *r;
	cJSON *meta = NULL;
	double deadline = timeout < 0 ? -1 : clock_real() + timeout;

	s = redis_open(&be->url, 5, 30, err);
	if (s == NULL)
		goto out;
	r = redis_cmd(s, err, 2, sub);
	if (r == NULL)
		goto out;
	freeReplyObject(r);
	meta = rbe_get(be, task_id, err);
	if (meta != NULL && is_ready(meta))
		goto out;
	cJSON_Delete(meta);
	meta = NULL;
	if (err->cls == ERR_TRANSIENT || err->cls == ERR_INVALID)
		goto out;
	for (;;) {
		void *rv = NULL;
		double left = deadline < 0 ? 3600 : deadline - clock_real();

		if (deadline >= 0 && left <= 0) {
			err_set(err, ERR_TRANSIENT, "result of %s: timed out", task_id);
			goto out;
		}
		if (redisSetTimeout(s, tv_secs(left)) != REDIS_OK ||
		    redisGetReply(s, &rv) != REDIS_OK) {
			if (s->err == REDIS_ERR_IO &&
			    (s->errstr[0] == '\0' || strstr(s->errstr, "temporarily") != NULL ||
			     strstr(s->errstr, "timed out") != NULL)) {
				err_set(err, ERR_TRANSIENT, "result of %s: timed out", task_id);
			} else {
				err_set(err, ERR_TRANSIENT, "result of %s: %s", task_id, s->errstr);
			}
			goto out;
		}
		r = rv;
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
		    r->element[2]->type == REDIS_REPLY_STRING) {
			struct err derr;

			err_clear(&derr);
			meta = decode_meta(r->element[2]->str, r->element[2]->len, &derr);
			if (meta != NULL && !is_ready(meta)) {
				cJSON_Delete(meta);
				meta = NULL;
			}
		}
		freeReplyObject(r);
		if (meta != NULL)
			goto out;
	}
out:
	redisFree(s);
	free(key);
	return meta;
}

const struct backend_ops backend_redis_ops = {
	.name = "redis",
	.open = rbe_open,
	.close = rbe_close,
	.store = rbe_store,
	.store_many = rbe_store_many,
	.get = rbe_get,
	.wait = rbe_wait,
};
