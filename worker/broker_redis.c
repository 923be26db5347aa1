/* SPDX-License-Identifier: MIT */
/*
 * broker_redis.c - the kombu-compatible Redis transport: queue lists with priority sub-lists,
 * bindings in _kombu.binding.<exchange>, and kombu's ack emulation (unacked hash,
 * unacked_index zset, visibility restore under unacked_mutex), so janitor and Python workers
 * can share one Redis. Facts: celery-wire.md section 2. Is not: fanout (events, pidbox).
 */
#include "config.h"

#include "broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "log.h"
#include "redis_int.h"
#include "strbuf.h"
#include "xalloc.h"

#define UNACKED       "unacked"
#define UNACKED_INDEX "unacked_index"
#define UNACKED_MUTEX "unacked_mutex"
#define BINDING_PFX   "_kombu.binding."
/* kombu's unacked_mutex_expire: 300 s. */
#define MUTEX_PX      "300000"

static const int priority_steps[] = { 0, 3, 6, 9 };

struct broker {
	redisContext *c;           /* owned */
	struct broker_options opt; /* copy */
	char **order;              /* round-robin queue order; owned strings */
	size_t norder;
	int no_lmpop; /* the server has no BLMPOP (Redis < 7): BRPOP only */
};

/* ---- pure key layout ---- */

int
redis_priority_step(int priority)
{
	int i, step = 0;

	if (priority < 0)
		priority = 0;
	if (priority > 9)
		priority = 9;
	for (i = 0; i < (int)ARRAY_LEN(priority_steps); i++) {
		if (priority_steps[i] <= priority)
			step = priority_steps[i];
	}
	return step;
}

char *
redis_queue_key(const char *queue, int priority)
{
	int step = redis_priority_step(priority);

	if (step == 0)
		return xstrdup(queue);
	return xasprintf("%s" REDIS_SEP "%d", queue, step);
}

char **
redis_brpop_keys(const char *const *queues, size_t n)
{
	char **keys = xcalloc(ARRAY_LEN(priority_steps) * n + 1, sizeof(char *));
	size_t s, q, k = 0;

	for (s = 0; s < ARRAY_LEN(priority_steps); s++) {
		for (q = 0; q < n; q++)
			keys[k++] = redis_queue_key(queues[q], priority_steps[s]);
	}
	return keys;
}

char *
redis_key_queue(const char *key, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (key[i] == REDIS_SEP[0] && key[i + 1] == REDIS_SEP[1])
			return xstrndup(key, i);
	}
	return xstrndup(key, len);
}

void
redis_rotate(char **order, size_t n, const char *served)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(order[i], served) == 0) {
			char *q = order[i];

			memmove(order + i, order + i + 1, (n - i - 1) * sizeof(char *));
			order[n - 1] = q;
			return;
		}
	}
}

/* ---- connection ---- */

static struct broker *
rb_open(const char *url, const struct broker_options *opt, struct err *err)
{
	struct redis_url u;
	struct broker *b;
	redisContext *c;

	if (redis_url_parse(url, &u, err) < 0)
		return NULL;
	c = redis_open(&u, opt->connect_timeout, opt->socket_timeout, err);
	redis_url_cleanup(&u);
	if (c == NULL)
		return NULL;
	b = xcalloc(1, sizeof(*b));
	b->c = c;
	b->opt = *opt;
	return b;
}

static void
free_order(struct broker *b)
{
	size_t i;

	for (i = 0; i < b->norder; i++)
		free(b->order[i]);
	free(b->order);
	b->order = NULL;
	b->norder = 0;
}

static void
rb_close(struct broker *b)
{
	if (b == NULL)
		return;
	redisFree(b->c);
	free_order(b);
	free(b);
}

static int
simple(struct broker *b, struct err *err, int argc, const char **argv, const size_t *lens)
{
	redisReply *r = redis_cmdv(b->c, err, argc, argv, lens);

	if (r == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

static int
rb_ping(struct broker *b, struct err *err)
{
	const char *av[] = { "PING" };

	return simple(b, err, 1, av, NULL);
}

/* SADD _kombu.binding.<exchange> "<routing_key> SEP <pattern=''> SEP <queue>". */
static int
rb_declare_queue(struct broker *b, const char *queue, const char *exchange, const char *routing_key,
                 struct err *err)
{
	char *key, *member;
	const char *av[3];
	int rc;

	if (exchange == NULL || *exchange == '\0')
		exchange = queue;
	if (routing_key == NULL)
		routing_key = queue;
	key = xasprintf(BINDING_PFX "%s", exchange);
	member = xasprintf("%s" REDIS_SEP REDIS_SEP "%s", routing_key, queue);
	av[0] = "SADD";
	av[1] = key;
	av[2] = member;
	rc = simple(b, err, 3, av, NULL);
	free(key);
	free(member);
	return rc;
}

/*
 * The queues a message published to (exchange, routing_key) lands in: the default exchange
 * routes by queue name; a direct exchange by the bindings whose routing key matches. Returns
 * the count (0 = dropped, as kombu does) and a heap array of heap strings in *out, or -1.
 */
static int
lookup_queues(struct broker *b, const char *exchange, const char *routing_key, char ***out,
              struct err *err)
{
	redisReply *r;
	char *key;
	const char *av[2];
	size_t i, rkl = strlen(routing_key);
	int n = 0;

	*out = NULL;
	if (*exchange == '\0') {
		*out = xcalloc(1, sizeof(char *));
		(*out)[0] = xstrdup(routing_key);
		return 1;
	}
	key = xasprintf(BINDING_PFX "%s", exchange);
	av[0] = "SMEMBERS";
	av[1] = key;
	r = redis_cmd(b->c, err, 2, av);
	free(key);
	if (r == NULL)
		return -1;
	*out = xcalloc(r->elements + 1, sizeof(char *));
	for (i = 0; i < r->elements; i++) {
		const redisReply *m = r->element[i];
		const char *s2;

		if (m->type != REDIS_REPLY_STRING || m->len < rkl + 4)
			continue;
		if (memcmp(m->str, routing_key, rkl) != 0 ||
		    memcmp(m->str + rkl, REDIS_SEP, 2) != 0)
			continue;
		s2 = strstr(m->str + rkl + 2, REDIS_SEP);
		if (s2 == NULL)
			continue;
		(*out)[n++] = xstrdup(s2 + 2);
	}
	freeReplyObject(r);
	return n;
}

static void
free_strv(char **v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int
rb_publish(struct broker *b, const struct proto_msg *m, const char *exchange,
           const char *routing_key, struct err *err)
{
	char tag[37];
	char *env = NULL, **queues = NULL;
	size_t len = 0;
	int nq, i, prio = 0, rc = -1;
	const cJSON *p;

	if (exchange == NULL)
		exchange = "";
	broker_uuid4(tag);
	env = proto_envelope_encode(m, exchange, routing_key, tag, &len, err);
	if (env == NULL)
		return -1;
	p = cJSON_GetObjectItemCaseSensitive(m->properties, "priority");
	if (cJSON_IsNumber(p))
		prio = (int)p->valuedouble;
	nq = lookup_queues(b, exchange, routing_key, &queues, err);
	if (nq < 0)
		goto out;
	for (i = 0; i < nq; i++) {
		char *key = redis_queue_key(queues[i], prio);
		const char *av[3] = { "LPUSH", key, env };
		size_t lens[3] = { 5, strlen(key), len };

		rc = simple(b, err, 3, av, lens);
		free(key);
		if (rc < 0)
			goto out;
	}
	if (nq == 0)
		log_warn("Message to exchange=%s routing_key=%s matched no queue: dropped",
		         exchange, routing_key);
	rc = 0;
out:
	free_strv(queues, nq > 0 ? nq : 0);
	free(env);
	return rc;
}

/* Reset the round-robin order when the queue set changed. */
static void
sync_order(struct broker *b, const char *const *queues, size_t n)
{
	size_t i, j;
	int same = b->norder == n;

	for (i = 0; same && i < n; i++) {
		int found = 0;

		for (j = 0; j < n; j++)
			found |= strcmp(queues[i], b->order[j]) == 0;
		same = found;
	}
	if (same)
		return;
	free_order(b);
	b->order = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		b->order[i] = xstrdup(queues[i]);
	b->norder = n;
}

/* JSON string literal of s (for the unacked value). */
static void
add_json_string(struct strbuf *sb, const char *s)
{
	cJSON *j = cJSON_CreateString(s);
	char *t = cJSON_PrintUnformatted(j);

	sb_adds(sb, t);
	free(t);
	cJSON_Delete(j);
}

static char *
dup_prop(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) ? xstrdup(v->valuestring) : NULL;
}

/* The unacked value kombu stores: JSON [envelope, exchange, routing_key]. */
static void
unacked_value(struct strbuf *v, const struct broker_delivery *d)
{
	sb_addc(v, '[');
	sb_add(v, d->raw, d->raw_len);
	sb_adds(v, ", ");
	add_json_string(v, d->exchange);
	sb_adds(v, ", ");
	add_json_string(v, d->routing_key);
	sb_addc(v, ']');
}

/*
 * Record deliveries in unacked/unacked_index as kombu does: one MULTI with, per delivery,
 * ZADD unacked_index <now> <tag> and HSET unacked <tag> [envelope, exchange, routing_key].
 */
static int
record_unacked(struct broker *b, const struct broker_delivery *d, size_t n, struct err *err)
{
	struct strbuf *v = xcalloc(n, sizeof(*v));
	struct redis_pipe p;
	redisReply *r;
	char score[40];
	const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
	size_t i;

	snprintf(score, sizeof(score), "%.7f", clock_real());
	redis_pipe_init(&p, b->c);
	redis_pipe_add(&p, 1, multi, NULL);
	for (i = 0; i < n; i++) {
		const char *zadd[4] = { "ZADD", UNACKED_INDEX, score, d[i].delivery_tag };
		const char *hset[4] = { "HSET", UNACKED, d[i].delivery_tag, NULL };
		size_t hlen[4];

		sb_init(&v[i]);
		unacked_value(&v[i], &d[i]);
		hset[3] = v[i].buf;
		hlen[0] = 4;
		hlen[1] = strlen(UNACKED);
		hlen[2] = strlen(d[i].delivery_tag);
		hlen[3] = v[i].len;
		redis_pipe_add(&p, 4, zadd, NULL);
		redis_pipe_add(&p, 4, hset, hlen);
	}
	redis_pipe_add(&p, 1, exec, NULL);
	r = redis_pipe_exec(&p, err);
	for (i = 0; i < n; i++)
		sb_cleanup(&v[i]);
	free(v);
	if (r == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

/* Fill d from a popped element; 0, or -1 when the envelope cannot be decoded (logged). */
static int
delivery_from(struct broker_delivery *d, const char *key, size_t keylen, const char *val,
              size_t len)
{
	struct err perr;
	const cJSON *di;

	broker_delivery_init(d);
	d->queue = redis_key_queue(key, keylen);
	d->raw = xstrndup(val, len);
	d->raw_len = len;
	err_clear(&perr);
	if (proto_envelope_decode(d->raw, d->raw_len, NULL, &d->msg, &perr) < 0) {
		/* kombu acks (drops) what it cannot decode; it was never recorded as unacked. */
		log_error("Can't decode message body from queue %s: %s (message discarded)",
		          d->queue, perr.msg);
		broker_delivery_cleanup(d);
		return -1;
	}
	d->delivery_tag = dup_prop(d->msg.properties, "delivery_tag");
	if (d->delivery_tag == NULL) {
		char tag[37];

		broker_uuid4(tag);
		d->delivery_tag = xstrdup(tag);
	}
	di = cJSON_GetObjectItemCaseSensitive(d->msg.properties, "delivery_info");
	d->exchange = dup_prop(di, "exchange");
	d->routing_key = dup_prop(di, "routing_key");
	if (d->exchange == NULL)
		d->exchange = xstrdup("");
	if (d->routing_key == NULL)
		d->routing_key = xstrdup(d->queue);
	d->redelivered =
	        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(di, "redelivered")) ||
	        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d->msg.headers, "redelivered"));
	return 0;
}

/*
 * One blocking pop over the keys in kombu's order. max == 1 (or a server without BLMPOP):
 * BRPOP, exactly as kombu. max > 1: BLMPOP ... RIGHT COUNT max, which pops up to max
 * elements of the first non-empty key in the same order - the same messages n BRPOPs would
 * take, in one round trip (Redis >= 7.0). Returns the reply (key, elements) or NULL.
 */
static redisReply *
pop(struct broker *b, char **keys, size_t nk, double timeout, size_t max, struct err *err)
{
	const char **av = xcalloc(nk + 8, sizeof(char *));
	char tmo[24], nks[24], cnt[24];
	redisReply *r;
	size_t i, a = 0;

	snprintf(tmo, sizeof(tmo), "%d", timeout < 1 ? 1 : (int)(timeout + 0.999));
	if (max > 1 && !b->no_lmpop) {
		snprintf(nks, sizeof(nks), "%zu", nk);
		snprintf(cnt, sizeof(cnt), "%zu", max);
		av[a++] = "BLMPOP";
		av[a++] = tmo;
		av[a++] = nks;
		for (i = 0; i < nk; i++)
			av[a++] = keys[i];
		av[a++] = "RIGHT";
		av[a++] = "COUNT";
		av[a++] = cnt;
		r = redis_cmd(b->c, err, (int)a, av);
		if (r != NULL || err->cls != ERR_INVALID ||
		    strstr(err->msg, "unknown command") == NULL) {
			free(av);
			return r;
		}
		b->no_lmpop = 1; /* a server older than 7.0 */
		err_clear(err);
		a = 0;
	}
	av[a++] = "BRPOP";
	for (i = 0; i < nk; i++)
		av[a++] = keys[i];
	av[a++] = tmo;
	r = redis_cmd(b->c, err, (int)a, av);
	free(av);
	return r;
}

static int
rb_consume(struct broker *b, const char *const *queues, size_t n, double timeout,
           struct broker_delivery *out, size_t max, struct err *err)
{
	char **keys;
	redisReply *r, *key, *vals[1], **elems;
	size_t i, nk, nel, got = 0;

	sync_order(b, queues, n);
	keys = redis_brpop_keys((const char *const *)b->order, b->norder);
	nk = ARRAY_LEN(priority_steps) * b->norder;
	r = pop(b, keys, nk, timeout, max, err);
	for (i = 0; i < nk; i++)
		free(keys[i]);
	free(keys);
	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_NIL) {
		freeReplyObject(r);
		return 0;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		return err_set(err, ERR_INVALID, "redis pop: unexpected reply");
	}
	key = r->element[0];
	if (r->element[1]->type == REDIS_REPLY_ARRAY) { /* BLMPOP */
		elems = r->element[1]->element;
		nel = r->element[1]->elements;
	} else {
		vals[0] = r->element[1];
		elems = vals;
		nel = 1;
	}
	for (i = 0; i < nel && got < max; i++) {
		if (elems[i]->type != REDIS_REPLY_STRING)
			continue;
		if (delivery_from(&out[got], key->str, key->len, elems[i]->str, elems[i]->len) == 0)
			got++;
	}
	if (got > 0)
		redis_rotate(b->order, b->norder, out[0].queue);
	if (got > 0 && record_unacked(b, out, got, err) < 0) {
		/* Popped but not recorded: push them back at the head so nothing is lost. */
		for (i = got; i-- > 0;) {
			const char *rp[3] = { "RPUSH", out[i].queue, out[i].raw };
			size_t rl[3] = { 5, strlen(out[i].queue), out[i].raw_len };
			struct err e2;

			freeReplyObject(redis_cmdv(b->c, &e2, 3, rp, rl));
			broker_delivery_cleanup(&out[i]);
		}
		freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	return (int)got;
}

static int
ack_tag(struct broker *b, const char *tag, struct err *err)
{
	struct redis_pipe p;
	redisReply *r;
	const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
	const char *zrem[3] = { "ZREM", UNACKED_INDEX, tag };
	const char *hdel[3] = { "HDEL", UNACKED, tag };

	redis_pipe_init(&p, b->c);
	redis_pipe_add(&p, 1, multi, NULL);
	redis_pipe_add(&p, 3, zrem, NULL);
	redis_pipe_add(&p, 3, hdel, NULL);
	redis_pipe_add(&p, 1, exec, NULL);
	r = redis_pipe_exec(&p, err);
	if (r == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

static int
rb_ack(struct broker *b, const char *delivery_tag, struct err *err)
{
	return ack_tag(b, delivery_tag, err);
}

/* Several acks in one MULTI (ZREM and HDEL take many members). */
static int
rb_ack_many(struct broker *b, const char *const *tags, size_t n, struct err *err)
{
	const char **zrem = xcalloc(n + 2, sizeof(char *)), **hdel = xcalloc(n + 2, sizeof(char *));
	const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
	struct redis_pipe p;
	redisReply *r;
	size_t i;

	if (n == 0) {
		free(zrem);
		free(hdel);
		return 0;
	}
	zrem[0] = "ZREM";
	zrem[1] = UNACKED_INDEX;
	hdel[0] = "HDEL";
	hdel[1] = UNACKED;
	for (i = 0; i < n; i++)
		zrem[i + 2] = hdel[i + 2] = tags[i];
	redis_pipe_init(&p, b->c);
	redis_pipe_add(&p, 1, multi, NULL);
	redis_pipe_add(&p, (int)n + 2, zrem, NULL);
	redis_pipe_add(&p, (int)n + 2, hdel, NULL);
	redis_pipe_add(&p, 1, exec, NULL);
	r = redis_pipe_exec(&p, err);
	free(zrem);
	free(hdel);
	if (r == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

/* Set the redelivered flags of a stored [envelope, exchange, routing_key] value. */
static char *
mark_redelivered(cJSON *env)
{
	cJSON *h = cJSON_GetObjectItemCaseSensitive(env, "headers");
	cJSON *p = cJSON_GetObjectItemCaseSensitive(env, "properties");
	cJSON *di = cJSON_GetObjectItemCaseSensitive(p, "delivery_info");

	if (cJSON_IsObject(h)) {
		cJSON_DeleteItemFromObjectCaseSensitive(h, "redelivered");
		cJSON_AddTrueToObject(h, "redelivered");
	}
	if (cJSON_IsObject(di)) {
		cJSON_DeleteItemFromObjectCaseSensitive(di, "redelivered");
		cJSON_AddTrueToObject(di, "redelivered");
	}
	return cJSON_PrintUnformatted(env);
}

/*
 * kombu's restore_by_tag: WATCH unacked; HGET; MULTI; ZREM; HDEL; [RPUSH|LPUSH queue env];
 * EXEC, retried when the WATCH fails. The priority sub-list is lost, as in kombu.
 */
static int
restore_tag(struct broker *b, const char *tag, bool lpush, struct err *err)
{
	int attempt;

	for (attempt = 0; attempt < 5; attempt++) {
		const char *watch[2] = { "WATCH", UNACKED };
		const char *hget[3] = { "HGET", UNACKED, tag };
		const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
		const char *zrem[3] = { "ZREM", UNACKED_INDEX, tag };
		const char *hdel[3] = { "HDEL", UNACKED, tag };
		redisReply *r, *v;
		cJSON *val = NULL;
		char *env = NULL, **queues = NULL;
		int nq = 0, i;
		struct redis_pipe p;

		if (simple(b, err, 2, watch, NULL) < 0)
			return -1;
		v = redis_cmd(b->c, err, 3, hget);
		if (v == NULL)
			return -1;
		if (v->type == REDIS_REPLY_STRING)
			val = cJSON_ParseWithLength(v->str, v->len);
		freeReplyObject(v);
		if (cJSON_IsArray(val) && cJSON_GetArraySize(val) == 3) {
			cJSON *ex = cJSON_GetArrayItem(val, 1), *rk = cJSON_GetArrayItem(val, 2);

			if (cJSON_IsString(ex) && cJSON_IsString(rk)) {
				nq = lookup_queues(b, ex->valuestring, rk->valuestring, &queues,
				                   err);
				if (nq < 0) {
					cJSON_Delete(val);
					return -1;
				}
				env = mark_redelivered(cJSON_GetArrayItem(val, 0));
			}
		}
		cJSON_Delete(val);
		redis_pipe_init(&p, b->c);
		redis_pipe_add(&p, 1, multi, NULL);
		redis_pipe_add(&p, 3, zrem, NULL);
		redis_pipe_add(&p, 3, hdel, NULL);
		for (i = 0; env != NULL && i < nq; i++) {
			const char *push[3] = { lpush ? "LPUSH" : "RPUSH", queues[i], env };

			redis_pipe_add(&p, 3, push, NULL);
		}
		redis_pipe_add(&p, 1, exec, NULL);
		r = redis_pipe_exec(&p, err);
		free(env);
		free_strv(queues, nq);
		if (r == NULL)
			return -1;
		if (r->type == REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			return 0;
		}
		freeReplyObject(r); /* nil: unacked changed under the WATCH; try again */
	}
	return err_set(err, ERR_TRANSIENT, "restore %s: unacked kept changing", tag);
}

static int
rb_reject(struct broker *b, const char *delivery_tag, bool requeue, struct err *err)
{
	if (!requeue)
		return ack_tag(b, delivery_tag, err);
	return restore_tag(b, delivery_tag, true, err);
}

static int
rb_restore(struct broker *b, const char *delivery_tag, struct err *err)
{
	return restore_tag(b, delivery_tag, false, err);
}

static int
rb_touch(struct broker *b, const char *delivery_tag, struct err *err)
{
	char score[40];
	const char *av[5] = { "ZADD", UNACKED_INDEX, "XX", score, delivery_tag };

	snprintf(score, sizeof(score), "%.7f", clock_real());
	return simple(b, err, 5, av, NULL);
}

/* redis-py Lock.release semantics: delete the key only if it still holds our token. */
static const char release_lua[] =
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
        "else return 0 end";

static int
rb_restore_visible(struct broker *b, size_t *restored, struct err *err)
{
	char token[37], ceiling[40];
	const char *set[6] = { "SET", UNACKED_MUTEX, token, "NX", "PX", MUTEX_PX };
	const char *zr[5] = { "ZREVRANGEBYSCORE", UNACKED_INDEX, ceiling, "0", "WITHSCORES" };
	const char *rel[5] = { "EVAL", release_lua, "1", UNACKED_MUTEX, token };
	redisReply *r, *lst;
	size_t i;
	int rc = 0;

	*restored = 0;
	broker_uuid4(token);
	r = redis_cmd(b->c, err, 6, set);
	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_NIL) {
		freeReplyObject(r); /* someone else is restoring */
		return 0;
	}
	freeReplyObject(r);
	snprintf(ceiling, sizeof(ceiling), "%.7f", clock_real() - b->opt.visibility_timeout);
	lst = redis_cmd(b->c, err, 5, zr);
	if (lst == NULL) {
		rc = -1;
		goto release;
	}
	for (i = 0; i + 1 < lst->elements; i += 2) {
		if (lst->element[i]->type != REDIS_REPLY_STRING)
			continue;
		if (restore_tag(b, lst->element[i]->str, false, err) < 0) {
			rc = -1;
			break;
		}
		(*restored)++;
	}
	freeReplyObject(lst);
release:
	r = redis_cmd(b->c, rc < 0 ? NULL : err, 5, rel);
	if (r == NULL)
		return -1;
	freeReplyObject(r);
	return rc;
}

const struct broker_ops broker_redis_ops = {
	.name = "redis",
	.open = rb_open,
	.close = rb_close,
	.declare_queue = rb_declare_queue,
	.publish = rb_publish,
	.consume = rb_consume,
	.ack = rb_ack,
	.ack_many = rb_ack_many,
	.reject = rb_reject,
	.restore = rb_restore,
	.touch = rb_touch,
	.restore_visible = rb_restore_visible,
	.ping = rb_ping,
};
