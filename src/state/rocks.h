/*
 * rocks.h - the RocksDB keyed state backend (state.backend.type: rocksdb), through the
 * RocksDB C API.
 *
 * One RocksDB instance per keyed operator subtask, in a working directory of its own under
 * state.backend.rocksdb.localdir, removed when the backend is freed. Every state is a
 * column family; its entries are keyed by
 *
 *   u16 key group (big-endian) | u32 key length | key bytes | u32 namespace length |
 *   namespace bytes [| map key bytes]          (lengths big-endian)
 *
 * so that the entries of one key group lie together, in key-group order (snapshots by
 * key group, restores at another parallelism), and the entries of one map lie together
 * under their (key, namespace) prefix. Values are the bodies of the snapshot format
 * (snapshot.c), so snapshots and restores copy them:
 *
 *   VALUE, REDUCING, AGGREGATING  i64 last access, u32 row length, u32 0, row
 *   LIST                          elements back to back: i64 event timestamp, i64 last
 *                                 access, u32 row length, u32 0, row; an add is a RocksDB
 *                                 merge that appends one element, without a read
 *   MAP                           one RocksDB entry per map entry: i64 last access, u32 key
 *                                 row length, u32 value row length (0: NULL), key row,
 *                                 value row
 *
 * (rows padded to 8 bytes). Reads and writes of value and list states go through the
 * heap backend's code on a working set of entries (keyed_state.c loads the entry of the
 * current key and namespace, runs the same operation as the heap backend, TTL included,
 * and writes it back), so both backends have one semantics; map states are read and
 * written entry by entry here. TTL is also enforced by a compaction filter that drops
 * expired values (and expired list elements) when RocksDB compacts, using the time the
 * task last read from its clock. Timers stay in memory (Flink's HEAP timer service).
 * The write-ahead log is off: a failure restores from the latest checkpoint.
 *
 * Memory: state.backend.rocksdb.memory.fixed-per-slot bytes per instance, split between
 * the write buffers (state.backend.rocksdb.memory.write-buffer-ratio) and a block cache
 * that also holds index and filter blocks; the rest of the state is on disk.
 */
#ifndef ED_STATE_ROCKS_H
#define ED_STATE_ROCKS_H

#include "state.h"

typedef struct ed_rocks ed_rocks;
typedef struct ed_rk_cf ed_rk_cf;

typedef struct ed_rocks_options {
    const char *local_dir; /* parent of the working directory; NULL: $TMPDIR or /tmp; with
                            * `existing`, the instance's directory itself */
    bool existing;         /* open the instance in local_dir with its families (restores) */
    const char *name;      /* part of the working directory's name (operator, subtask) */
    size_t memory;         /* bytes for write buffers and block cache */
    double write_buffer_ratio;
} ed_rocks_options;

/* Makes b keep its keyed state in RocksDB; b must have no states yet. 0, or -1 with err. */
int ed_state_backend_use_rocksdb(ed_state_backend *b, const ed_rocks_options *o, ed_err *err);
bool ed_state_backend_is_rocksdb(const ed_state_backend *b);
/* The working directory of b's instance, or NULL for the heap backend. */
const char *ed_state_backend_rocksdb_dir(const ed_state_backend *b);
/* Compacts every column family of b's instance (its TTL filter runs): for tests. */
int ed_state_backend_compact(ed_state_backend *b, ed_err *err);
/* Number of RocksDB entries (map entries one by one) of s, expired or not: for tests. */
size_t ed_state_rocksdb_entries(eddy_state *s);

/* ---- incremental checkpoints (runtime/incremental.c) ----------------------------------
 * A native checkpoint is RocksDB's own: the memtables flushed, the live SST files hard
 * linked and the small files (MANIFEST, CURRENT, OPTIONS) copied into a new local
 * directory, which ed_rk_native_free removes. SST files never change, so a file uploaded
 * once is shared by every later checkpoint that still has it: the instance remembers the
 * shared name of each local SST file (new ones are named after the instance's random id
 * and the local name). */
typedef struct ed_rk_native {
    char *dir;
    char **files; /* names in dir */
    int nfiles;
} ed_rk_native;
int ed_rk_native_checkpoint(ed_state_backend *b, ed_rk_native *out, ed_err *err);
void ed_rk_native_free(ed_rk_native *n);
const char *ed_rk_instance_id(const ed_state_backend *b);
const char *ed_rk_shared_name(const ed_state_backend *b, const char *local);
void ed_rk_set_shared_name(ed_state_backend *b, const char *local, const char *shared);
/* Restores an instance's files in place: begin closes b's instance (its states let go of
 * their families; nothing may be written to them until end) and returns its emptied
 * directory, where the caller puts the files; end opens it with the families it holds,
 * which states take by name. */
const char *ed_rk_begin_replace(ed_state_backend *b);
int ed_rk_end_replace(ed_state_backend *b, ed_err *err);

/* ---- inside src/state ----------------------------------------------------------------- */
void ed_rk_free(ed_rocks *rk);
size_t ed_rk_bytes(ed_rocks *rk);
/* The time TTL checks use, for the compaction filter. */
void ed_rk_publish_now(ed_rocks *rk, int64_t now);

int ed_rk_cf_open(eddy_state *s, ed_err *err); /* the state's column family, made if new */
void ed_rk_cf_close(eddy_state *s);
void ed_rk_cf_adopt(eddy_state *to, eddy_state *from); /* a restored placeholder's family */

/* The value of (current key, ns) of s: 1 with an 8-aligned copy in *val (valid until the
 * next call on s), 0 when there is none, -1 on an error (recorded on s). */
int ed_rk_get(eddy_state *s, const uint8_t *ns, uint32_t nslen, const uint8_t **val,
              size_t *len);
int ed_rk_put(eddy_state *s, const uint8_t *ns, uint32_t nslen, const void *val, size_t len);
int ed_rk_merge(eddy_state *s, const void *val, size_t len); /* list append, current ns */
int ed_rk_delete(eddy_state *s, const uint8_t *ns, uint32_t nslen);
int ed_rk_delete_all(eddy_state *s);
/* Writes a value at an explicit place, batched until ed_rk_flush (restores). */
int ed_rk_put_at(eddy_state *s, int kg, const uint8_t *key, uint32_t klen, const uint8_t *ns,
                 uint32_t nslen, const uint8_t *mkey, uint32_t mklen, const void *val, size_t len);
int ed_rk_flush(ed_rocks *rk, ed_err *err);

/* Encodes a map entry's RocksDB value into o (replacing it); val NULL: a NULL value. */
void ed_rk_map_encode(ed_strbuf *o, int64_t access, const eddy_row *key, const eddy_row *val);
/* Map state of the current key and namespace (the public eddy_map_* calls). */
const eddy_row *ed_rk_map_get(eddy_state *s, const eddy_row *key);
bool ed_rk_map_contains(eddy_state *s, const eddy_row *key);
int ed_rk_map_put(eddy_state *s, const eddy_row *key, const eddy_row *value);
int ed_rk_map_remove(eddy_state *s, const eddy_row *key);
size_t ed_rk_map_size(eddy_state *s);
void ed_rk_map_iter_start(eddy_state *s, eddy_map_iter *it);
bool ed_rk_map_next(eddy_map_iter *it, const eddy_row **key, const eddy_row **value);
/* True when the map of the current (key, namespace) has an entry (live: one that a
 * NEVER_RETURN_EXPIRED read sees). */
bool ed_rk_map_any(eddy_state *s, bool live);
/* Removes the map of the current (key, namespace). */
int ed_rk_map_clear(eddy_state *s);

/* Walks the entries of s in key order, between key groups [first_kg, end_kg): one item
 * per RocksDB entry, its value copied to 8-aligned memory (valid until the next step). */
typedef struct ed_rk_item {
    int kg;
    const uint8_t *key, *ns, *mkey;
    uint32_t klen, nslen, mklen;
    const uint8_t *val;
    size_t vlen;
} ed_rk_item;
typedef struct ed_rk_cursor ed_rk_cursor;
ed_rk_cursor *ed_rk_cursor_open(eddy_state *s, int first_kg, int end_kg);
/* 1 with *it set, 0 at the end, -1 on an error (a malformed entry; recorded on s). */
int ed_rk_cursor_next(ed_rk_cursor *c, ed_rk_item *it);
void ed_rk_cursor_close(ed_rk_cursor *c);

#endif
