/*
 * snapshot_rocks2_test.c - snapshot_test.c's tests with every other backend on RocksDB,
 * the first one too (snapshot_rocks_test.c starts on the heap).
 */
#define ED_SNAPSHOT_TEST_ROCKSDB 0
#include "snapshot_test.c"
