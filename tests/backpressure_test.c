/*
 * backpressure_test.c - a slow consumer holds back its producer: the records between
 * them never exceed what the producer's bounded buffer pool can hold, whatever the
 * input size. Without backpressure the producer would run ahead by the whole input.
 */
#include <stdatomic.h>
#include <unistd.h>

#include "ed_test.h"
#include "job_util.h"

static atomic_llong produced, consumed, max_gap;

int count_produced(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    atomic_fetch_add(&produced, 1);
    eddy_rb_set_i64(out, 0, eddy_row_i64(in, 0));
    return 0;
}

int slow_consume(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    long long c = atomic_fetch_add(&consumed, 1) + 1;
    long long gap = atomic_load(&produced) - c;
    long long m = atomic_load(&max_gap);
    while (gap > m && !atomic_compare_exchange_weak(&max_gap, &m, gap)) {
    }
    if (c <= 3000) usleep(100); /* slow at first: the producer fills every buffer */
    eddy_rb_set_i64(out, 0, eddy_row_i64(in, 0));
    return 0;
}

ED_TEST(slow_sink_bounds_in_flight_records)
{
    atomic_store(&produced, 0);
    atomic_store(&consumed, 0);
    atomic_store(&max_gap, 0);
    const long long N = 50000;
    eddy_env *env = eddy_env_new();
    /* 4 buffers of 4 KiB: 2 for the one channel, 2 floating */
    ED_REQUIRE(eddy_env_set(env, "taskmanager.memory.segment-size", "4kb") == 0);
    ED_REQUIRE(eddy_env_set(env, "taskmanager.network.memory.buffers-per-channel", "2") == 0);
    ED_REQUIRE(eddy_env_set(env, "taskmanager.network.memory.floating-buffers-per-gate", "2") == 0);
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence",
                                   "fields.id.start", "1", "fields.id.end", "50000",
                                   "rows-per-second", "0", NULL);
    eddy_stream *p = eddy_map(src, EDDY_FN(count_produced), "id BIGINT");
    eddy_stream *c = eddy_map(eddy_rebalance(p), EDDY_FN(slow_consume), "id BIGINT");
    eddy_discard(c);
    ED_REQUIRE(eddy_execute(env, "backpressure") == 0);
    ED_CHECK_INT(atomic_load(&consumed), N);
    /* one record is 16 bytes of element header + 24 bytes of row: 102 fit in 4 KiB, and
     * the producer holds one more in its hands */
    long long bound = 4 * (4096 / 40) + 1;
    long long gap = atomic_load(&max_gap);
    if (gap > bound) ED_FAIL_AT("producer ran %lld records ahead, bound %lld", gap, bound);
    ED_CHECK(gap > 100); /* and it did run ahead as far as its buffers allowed */
    eddy_env_free(env);
}
