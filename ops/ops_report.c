/* SPDX-License-Identifier: MIT */
/*
 * ops_report.c - placeholder for the maintenance report until the maintenance work lands.
 */
#include "config.h"

#include "ops.h"

cJSON *
ops_report(struct db *db UNUSED, const struct ops_options *opt UNUSED, struct err *err)
{
	err_set(err, ERR_UNSUPPORTED, "report: not implemented yet");
	return NULL;
}
