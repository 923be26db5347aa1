/* SPDX-License-Identifier: MIT */
/*
 * redis_conn.c - redis:// URL parsing, connecting and command helpers shared by the Redis
 * broker and result backend. Knows nothing of kombu or Celery.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "redis_int.h"
#include "xalloc.h"

/* %XX decoding for the user/password parts of a URL. */
static char *
pct_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t i, j = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = { s[i + 1], s[i + 2], 0 };

			out[j++] = (char)strtol(hex, NULL, 16);
			i += 2;
			continue;
		}
		out[j++] = s[i];
	}
	out[j] = '\0';
	return out;
}

static int
parse_num(const char *s, size_t n, int lo, int hi, int *out)
{
	char buf[16];
	char *end;
	long v;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

int
redis_url_parse(const char *url, struct redis_url *out, struct err *err)
{
	const char *p, *at, *slash, *hostend, *colon;

	memset(out, 0, sizeof(*out));
	out->port = 6379;
	if (strncmp(url, "rediss://", 9) == 0)
		return err_set(err, ERR_UNSUPPORTED,
		               "broker URL: rediss:// (TLS) is not supported");
	if (strncmp(url, "redis://", 8) != 0)
		return err_set(err, ERR_CONFIG, "URL: expected redis://");
	p = url + 8;
	slash = strchr(p, '/');
	hostend = slash != NULL ? slash : p + strlen(p);
	at = memchr(p, '@', (size_t)(hostend - p));
	if (at != NULL) {
		const char *c = memchr(p, ':', (size_t)(at - p));

		if (c != NULL) {
			if (c > p)
				out->username = pct_decode(p, (size_t)(c - p));
			out->password = pct_decode(c + 1, (size_t)(at - c - 1));
		} else if (at > p) {
			out->password = pct_decode(p, (size_t)(at - p));
		}
		p = at + 1;
	}
	colon = memchr(p, ':', (size_t)(hostend - p));
	if (colon != NULL) {
		if (parse_num(colon + 1, (size_t)(hostend - colon - 1), 1, 65535, &out->port) < 0) {
			redis_url_cleanup(out);
			return err_set(err, ERR_CONFIG, "redis URL: bad port");
		}
	} else {
		colon = hostend;
	}
	out->host = colon > p ? xstrndup(p, (size_t)(colon - p)) : xstrdup("localhost");
	if (slash != NULL && slash[1] != '\0') {
		size_t n = strcspn(slash + 1, "?");

		if (n > 0 && parse_num(slash + 1, n, 0, INT_MAX, &out->db) < 0) {
			redis_url_cleanup(out);
			return err_set(err, ERR_CONFIG, "redis URL: bad database number");
		}
	}
	return 0;
}

void
redis_url_cleanup(struct redis_url *u)
{
	if (u == NULL)
		return;
	free(u->host);
	free(u->username);
	free(u->password);
	memset(u, 0, sizeof(*u));
}

static struct timeval
tv_of(double secs)
{
	struct timeval tv;

	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
	return tv;
}

/* Classify a failed context or an error reply and free the reply. */
static redisReply *
check_reply(redisContext *c, redisReply *r, const char *what, struct err *err)
{
	if (r == NULL) {
		err_set(err, ERR_TRANSIENT, "redis %s: %s", what,
		        c->err != 0 ? c->errstr : "connection lost");
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		err_set(err, ERR_INVALID, "redis %s: %.*s", what, (int)r->len, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

redisContext *
redis_open(const struct redis_url *u, double connect_timeout, double socket_timeout,
           struct err *err)
{
	redisContext *c;
	redisReply *r;
	char dbs[16];

	c = redisConnectWithTimeout(u->host, u->port,
	                            tv_of(connect_timeout > 0 ? connect_timeout : 5.0));
	if (c == NULL || c->err != 0) {
		err_set(err, ERR_TRANSIENT, "redis connect %s:%d: %s", u->host, u->port,
		        c != NULL ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	if (redisSetTimeout(c, tv_of(socket_timeout > 0 ? socket_timeout : 30.0)) != REDIS_OK ||
	    redisEnableKeepAlive(c) != REDIS_OK) {
		err_set(err, ERR_TRANSIENT, "redis connect %s:%d: %s", u->host, u->port, c->errstr);
		redisFree(c);
		return NULL;
	}
	if (u->password != NULL) {
		const char *av[3] = { "AUTH", u->username != NULL ? u->username : u->password,
			              u->password };

		r = redis_cmd(c, err, u->username != NULL ? 3 : 2, av);
		if (r == NULL)
			goto fail;
		freeReplyObject(r);
	}
	if (u->db != 0) {
		const char *av[2] = { "SELECT", dbs };

		snprintf(dbs, sizeof(dbs), "%d", u->db);
		r = redis_cmd(c, err, 2, av);
		if (r == NULL)
			goto fail;
		freeReplyObject(r);
	}
	return c;
fail:
	redisFree(c);
	return NULL;
}

redisReply *
redis_cmdv(redisContext *c, struct err *err, int argc, const char **argv, const size_t *lens)
{
	redisReply *r = redisCommandArgv(c, argc, argv, lens);

	return check_reply(c, r, argv[0], err);
}

redisReply *
redis_cmd(redisContext *c, struct err *err, int argc, const char **argv)
{
	return redis_cmdv(c, err, argc, argv, NULL);
}

void
redis_pipe_init(struct redis_pipe *p, redisContext *c)
{
	p->c = c;
	p->n = 0;
	p->failed = 0;
}

void
redis_pipe_add(struct redis_pipe *p, int argc, const char **argv, const size_t *lens)
{
	if (redisAppendCommandArgv(p->c, argc, argv, lens) != REDIS_OK)
		p->failed = 1;
	p->n++;
}

redisReply *
redis_pipe_exec(struct redis_pipe *p, struct err *err)
{
	redisReply *last = NULL;
	int i, bad = 0;
	struct err sub;

	if (p->failed)
		return (void)err_set(err, ERR_TRANSIENT, "redis pipeline: %s", p->c->errstr), NULL;
	err_clear(&sub);
	for (i = 0; i < p->n; i++) {
		void *rv = NULL;
		redisReply *r;

		if (redisGetReply(p->c, &rv) != REDIS_OK) {
			freeReplyObject(last);
			return (void)err_set(err, ERR_TRANSIENT, "redis pipeline: %s",
			                     p->c->errstr[0] != '\0' ? p->c->errstr
			                                             : "connection lost"),
			       NULL;
		}
		r = rv;
		if (i < p->n - 1) {
			if (r->type == REDIS_REPLY_ERROR && !bad) {
				err_set(&sub, ERR_INVALID, "redis: %.*s", (int)r->len, r->str);
				bad = 1;
			}
			freeReplyObject(r);
		} else {
			last = r;
		}
	}
	if (bad || (last != NULL && last->type == REDIS_REPLY_ERROR)) {
		if (!bad)
			err_set(&sub, ERR_INVALID, "redis: %.*s", (int)last->len, last->str);
		freeReplyObject(last);
		if (err != NULL)
			*err = sub;
		return NULL;
	}
	return last;
}
