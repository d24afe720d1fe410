/*
 * ops_window.c - the window operators (filled in as they are written).
 */
#include "operators.h"

const ed_factory *const ed_window_factories[] = {NULL};
