/* SPDX-License-Identifier: MIT */
/*
 * proto_time.c - ISO-8601 as Celery parses it (celery/utils/iso8601.py) and Python's
 * isoformat() as Celery writes it, over UTC microseconds. No clock is read here.
 */
#include "config.h"

#include "proto.h"

#include <stdio.h>
#include <string.h>

#define USEC_PER_SEC 1000000LL

/*
 * Days since 1970-01-01 of a proleptic Gregorian date. The usual era computation: shift the
 * year so it starts in March (the leap day is then the last day of the year), count whole
 * 400-year eras of 146097 days, then the day of the era.
 */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int
days_in_month(int y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dim[m - 1];
}

/* Read exactly n digits at *p into *out; advances *p. */
static bool
digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

int
proto_time_parse(const char *s, struct proto_time *out, struct err *err)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, usec = 0, off = 0;
	bool naive = true;

	/* 1. The date: Celery's regex makes month and day optional but then fails building the
	 *    datetime, so all three are required. Month and day may have one or two digits. */
	if (!digits(&p, 4, &y) || *p++ != '-')
		goto bad;
	if (!digits(&p, 2, &mo) && !digits(&p, 1, &mo))
		goto bad;
	if (*p++ != '-')
		goto bad;
	if (!digits(&p, 2, &d) && !digits(&p, 1, &d))
		goto bad;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		goto bad;
	/* 2. Optional time after any single separator character. */
	if (*p != '\0') {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			goto bad;
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &sec))
				goto bad;
			if (*p == '.') {
				int n = 0, scale = 100000;

				p++;
				/* Digits past the sixth are below a microsecond: dropped. */
				while (*p >= '0' && *p <= '9') {
					if (n < 6)
						usec += (*p - '0') * scale;
					scale /= 10;
					n++;
					p++;
				}
				if (n == 0)
					goto bad;
			}
		}
		if (h > 23 || mi > 59 || sec > 59)
			goto bad;
		/* 3. Optional zone: Z or +-HH:MM. */
		if (*p == 'Z') {
			naive = false;
			p++;
		} else if (*p == '+' || *p == '-') {
			int oh, om;
			int sign = *p == '-' ? -1 : 1;

			p++;
			if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om))
				goto bad;
			if (oh > 23 || om > 59)
				goto bad;
			off = sign * (oh * 60 + om);
			naive = false;
		}
	}
	if (*p != '\0')
		goto bad;
	out->usec = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
	             (int64_t)off * 60) *
	                    USEC_PER_SEC +
	            usec;
	out->offset_min = off;
	out->naive = naive;
	return 0;
bad:
	return err_set(err, ERR_INVALID, "not an ISO-8601 datetime");
}

char *
proto_time_format(const struct proto_time *t, char *buf, size_t size)
{
	int64_t local = t->usec + (int64_t)(t->naive ? 0 : t->offset_min) * 60 * USEC_PER_SEC;
	int64_t secs = local / USEC_PER_SEC, frac = local % USEC_PER_SEC;
	int64_t days, rem;
	int y, m, d, n;

	if (frac < 0) {
		frac += USEC_PER_SEC;
		secs--;
	}
	days = secs / 86400;
	rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d, (int)(rem / 3600),
	             (int)(rem / 60 % 60), (int)(rem % 60));
	if (n > 0 && (size_t)n < size && frac != 0)
		n += snprintf(buf + n, size - (size_t)n, ".%06d", (int)frac);
	if (n > 0 && (size_t)n < size && !t->naive) {
		int off = t->offset_min < 0 ? -t->offset_min : t->offset_min;

		snprintf(buf + n, size - (size_t)n, "%c%02d:%02d", t->offset_min < 0 ? '-' : '+',
		         off / 60, off % 60);
	}
	return buf;
}

struct proto_time
proto_time_utc(int64_t usec)
{
	struct proto_time t = { .usec = usec, .offset_min = 0, .naive = false };

	return t;
}
