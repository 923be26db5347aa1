/* SPDX-License-Identifier: MIT */
/*
 * test_file.h - what the cmocka suites share for reading test data (SQL schemas, files a test
 * program wrote). Test code only.
 */
#ifndef JANITOR_TEST_FILE_H
#define JANITOR_TEST_FILE_H

/* The whole file as a NUL-terminated heap string (caller frees); fails the test if unreadable. */
char *test_read_file(const char *path);

#endif
