/* SPDX-License-Identifier: MIT */
/*
 * clock.h - the two clocks janitor reads, as seconds in a double: monotonic for durations and
 * deadlines, real time for timestamps that leave the process (results, ETAs, log rows).
 * protocol/ never reads a clock (times are passed in); ops/ and worker/ use these.
 */
#ifndef JANITOR_CLOCK_H
#define JANITOR_CLOCK_H

/* CLOCK_MONOTONIC in seconds: only differences mean anything. */
double clock_mono(void);
/* CLOCK_REALTIME in seconds since the Unix epoch. */
double clock_real(void);

#endif
