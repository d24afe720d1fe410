/*
 * blackhole.c - Flink's blackhole sink: counts rows and drops them.
 *
 * For benchmarks and for jobs whose effect is elsewhere: the cost of a sink is one
 * counter increment, so what a benchmark measures is the job in front of it. The count
 * is in the operator's numRecordsIn (op->records_in) like any operator's, and is logged
 * at DEBUG when the subtask closes.
 */
#include <stdlib.h>

#include "../base/log.h"
#include "connectors_int.h"

typedef struct bh_state {
    uint64_t rows;
} bh_state;

static int bh_open(ed_operator *op, ed_err *err)
{
    op->state = calloc(1, sizeof(bh_state));
    return op->state ? 0 : ed_err_set(err, "blackhole: out of memory");
}

static int bh_process(ed_operator *op, int input, const eddy_row *row, int64_t ts)
{
    ((bh_state *)op->state)->rows++;
    return 0;
}

static void bh_close(ed_operator *op)
{
    bh_state *s = op->state;
    if (!s) return;
    ED_LOG_DEBUG("connector", "blackhole: subtask %d discarded %llu rows", op->ctx.subtask + 1,
                 (unsigned long long)s->rows);
    free(s);
    op->state = NULL;
}

static const ed_op_vt bh_vt = {
    .open = bh_open,
    .process = bh_process,
    .close = bh_close,
};

static const char *const bh_options[] = {NULL}; /* takes no options */

const ed_factory ed_connector_blackhole = {
    .name = "blackhole",
    .kind = ED_FACTORY_SINK,
    .vt = &bh_vt,
    .check = NULL,
    .max_parallelism = 0,
    .options = bh_options,
};
