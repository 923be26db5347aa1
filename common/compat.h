/* SPDX-License-Identifier: MIT */
/*
 * compat.h - attribute macros every module uses (MUSTCHECK, PRINTF_LIKE, UNUSED, NORETURN).
 * No declarations, no state: safe to include from any header of the project.
 */
#ifndef JANITOR_COMPAT_H
#define JANITOR_COMPAT_H

#define MUSTCHECK              __attribute__((warn_unused_result))
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#define UNUSED                 __attribute__((unused))
#define NORETURN               __attribute__((noreturn))

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
