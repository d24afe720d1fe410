/*
 * snapshot_rocks_test.c - snapshot_test.c's tests with every other backend on RocksDB
 * (rocks.h), the first one on the heap: snapshots taken on one backend restore into the
 * other, in both directions, rescaled, with TTL and timers, and malformed ones leave
 * a RocksDB backend untouched.
 */
#define ED_SNAPSHOT_TEST_ROCKSDB 1
#include "snapshot_test.c"
