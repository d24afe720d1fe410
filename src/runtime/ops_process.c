/*
 * ops_process.c - the process operators (filled in as they are written).
 */
#include "operators.h"

const ed_factory *const ed_process_factories[] = {NULL};
