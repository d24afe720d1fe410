/*
 * ops_time.c - timestamp and watermark assignment (filled in as it is written).
 */
#include "operators.h"

const ed_factory *const ed_time_factories[] = {NULL};
