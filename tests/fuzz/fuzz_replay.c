/* SPDX-License-Identifier: MIT */
/*
 * fuzz_replay.c - a main() for builds without libFuzzer: run every file of the target's seed
 * corpus (tests/fuzz/corpus/FUZZ_NAME, or the directories/files given as arguments) through
 * LLVMFuzzerTestOneInput once, so the corpus is an ordinary test under ASan/UBSan.
 */
#include "config.h"

#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xalloc.h"

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0, r;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	do {
		if (cap - n < 4096) {
			cap = cap * 2 + 8192;
			buf = xrealloc(buf, cap);
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

/* Runs a file, or every regular file of a directory; returns how many ran, -1 on error. */
static int
run_path(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int count = 0;

	if (stat(path, &st) < 0) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path) < 0 ? -1 : 1;
	d = opendir(path);
	if (d == NULL) {
		perror(path);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char *child;

		if (de->d_name[0] == '.')
			continue;
		child = xasprintf("%s/%s", path, de->d_name);
		if (run_file(child) < 0)
			count = -1;
		else if (count >= 0)
			count++;
		free(child);
	}
	closedir(d);
	return count;
}

int
main(int argc, char **argv)
{
	int total = 0;

	if (argc > 1) {
		for (int i = 1; i < argc; i++) {
			int n = run_path(argv[i]);

			if (n < 0)
				return 1;
			total += n;
		}
	} else {
		const char *src = getenv("JANITOR_SRCDIR");
		char *dir =
		        xasprintf("%s/tests/fuzz/corpus/%s", src != NULL ? src : ".", FUZZ_NAME);

		total = run_path(dir);
		free(dir);
		if (total < 0)
			return 1;
	}
	printf("replayed %d input(s) through fuzz_%s\n", total, FUZZ_NAME);
	/* An empty corpus proves nothing: fail rather than pass vacuously. */
	return total > 0 ? 0 : 1;
}
