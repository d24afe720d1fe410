/*
 * process_rocks_test.c - process_test.c's tests with keyed state in RocksDB
 * (state.backend.type: rocksdb): both backends give the same results.
 */
#include <eddy/eddy.h>

static eddy_env *rocks_env(void)
{
    eddy_env *env = eddy_env_new();
    if (env) eddy_env_set(env, "state.backend.type", "rocksdb");
    return env;
}
#define eddy_env_new rocks_env
#include "process_test.c"
