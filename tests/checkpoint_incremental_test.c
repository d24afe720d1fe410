/*
 * checkpoint_incremental_test.c - checkpoint_test.c's tests with keyed state in RocksDB
 * checkpointed incrementally (execution.checkpointing.incremental: true): failover,
 * restores at the same and at other parallelisms, windows and sources give the same
 * results as with full checkpoints.
 */
#include <eddy/eddy.h>

static eddy_env *incremental_env(void)
{
    eddy_env *env = eddy_env_new();
    if (env) {
        eddy_env_set(env, "state.backend.type", "rocksdb");
        eddy_env_set(env, "execution.checkpointing.incremental", "true");
    }
    return env;
}
#define eddy_env_new incremental_env
#include "checkpoint_test.c"
