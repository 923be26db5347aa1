/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - the libFuzzer entry point every target defines. Built with -fsanitize=fuzzer under
 * --enable-fuzzing; otherwise linked with fuzz_replay.c, which feeds it the seed corpus.
 */
#ifndef JANITOR_FUZZ_H
#define JANITOR_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
