/*
 * snapshot.h - snapshots of a keyed state backend with its timers, and of an operator
 * store, as byte payloads in one backend-neutral format (snapshot.c describes it).
 *
 * Keyed snapshots are grouped by key group with an index at the front, so a restore takes
 * the key groups a subtask owns out of any number of snapshots taken at another
 * parallelism (Flink's rescaling); operator snapshots are redistributed as Flink's
 * operator state: split lists round-robin, union lists to everyone, broadcast maps copied.
 *
 * The payload is what a checkpoint file carries (checkpoint/storage.h frames and checksums
 * it): ED_CKPT_KEYED_STATE for a keyed snapshot, ED_CKPT_OPERATOR_STATE for an operator
 * store's. All calls run on the task thread that owns the backend; none keeps a pointer
 * into the payload after it returns.
 */
#ifndef ED_STATE_SNAPSHOT_H
#define ED_STATE_SNAPSHOT_H

#include "state.h"
#include "timers.h"

#define ED_SNAPSHOT_MAGIC "EDDYSNAP"
#define ED_SNAPSHOT_VERSION 1u

/*
 * Appends a snapshot of every state of b (declared or restored but not yet declared) and,
 * when timers is not NULL, of every timer of both domains to out. Expired values are left
 * out of states whose TTL sets cleanup_full_snapshot; other states keep them with their
 * last-access times. The backend is not changed (TTL reads are not counted as accesses).
 * 0, or -1 with err set (an entry or timer with a key group outside [0, max parallelism),
 * out of memory); out may then hold a partial snapshot past its old length.
 */
int ed_state_snapshot(ed_state_backend *b, ed_timer_service *timers, ed_strbuf *out, ed_err *err);

/* For a RocksDB backend whose entries a checkpoint keeps in RocksDB's own files
 * (incremental checkpoints): the same snapshot with the descriptors and the timers, and
 * no entries. Restoring it re-creates the states, which take their column families. */
int ed_state_snapshot_meta(ed_state_backend *b, ed_timer_service *timers, ed_strbuf *out,
                           ed_err *err);

/*
 * Restores the entries and timers of key groups [first_kg, last_kg] of the snapshot at
 * snap (len bytes, copied from; the caller keeps it) into b and timers. States are
 * re-created from the snapshot's descriptors: a state that b does not have yet becomes a
 * placeholder without functions, and the operator's later ed_state_get of the same name
 * (same kind and schemas, TTL on or off as saved) turns it into a full state with its
 * entries. Call it once per old subtask's snapshot to rescale: key groups are disjoint,
 * so entries never meet; an entry that is already in b is an error.
 * The snapshot is checked completely before b is touched: a malformed one returns -1 with
 * err "state snapshot: <what> at offset N: ..." and b unchanged. Later failures (out of
 * memory, a state of b that contradicts the snapshot, an entry already present) may leave
 * part of the snapshot in b: the caller then discards the backend. timers may be NULL
 * only for a snapshot without timers.
 */
int ed_state_restore(ed_state_backend *b, ed_timer_service *timers, const void *snap, size_t len,
                     int first_kg, int last_kg, ed_err *err);

/* Appends a snapshot of an operator store (its lists and broadcast maps, with their
 * redistribution modes) to out. 0, or -1 with err set. */
int ed_operator_store_snapshot(ed_operator_store *o, ed_strbuf *out, ed_err *err);

/* One old subtask's snapshot, as read from its file (the caller owns the bytes). */
typedef struct ed_snapshot_ref {
    const void *data;
    size_t len;
} ed_snapshot_ref;

/*
 * Restores operator state for new subtask `subtask` of `parallelism` from the snapshots of
 * all nold old subtasks (old[k] from old subtask k), as Flink redistributes it:
 *   SPLIT lists   the old lists concatenated in old-subtask order; element j goes to new
 *                 subtask j % parallelism
 *   UNION lists   every element of every old subtask, in old-subtask order
 *   broadcast     old subtask 0's copy (every old subtask holds the same)
 * States are re-created as by ed_state_restore; the operator's later ed_operator_list /
 * ed_broadcast_map with the same name, schema and mode take them over. Every snapshot is
 * checked before o is touched; -1 with err set as for ed_state_restore.
 */
int ed_operator_store_restore(ed_operator_store *o, const ed_snapshot_ref *old, int nold,
                              int subtask, int parallelism, ed_err *err);

#endif
