/*
 * incremental.h - incremental checkpoints of the RocksDB backend
 * (execution.checkpointing.incremental: true).
 *
 * A keyed operator subtask on RocksDB checkpoints the files of a native RocksDB checkpoint
 * (state/rocks.h) instead of its entries: each SST file it has not uploaded before goes
 * to <checkpoint dir>/<job>/shared/<instance id>-<local name>, framed and checksummed as
 * every checkpoint file (checkpoint/storage.h), and is referenced by later checkpoints
 * while the instance still has it; the small files (MANIFEST, CURRENT, OPTIONS) go into
 * the subtask's own file, with the states' descriptors and the timers. The checkpoint's
 * _metadata lists every shared file it uses ("shared <name>"), so the coordinator deletes a
 * shared file when no retained checkpoint uses it any more. Savepoints are always full,
 * in the backend-neutral format.
 *
 * The section's body (little-endian, items 8-aligned):
 *   8 "EDDYRKIN" | u32 version 1 | u32 max parallelism | u32 first key group | u32 last
 *   | u32 number of files | u32 0
 *   files: u32 kind (0 shared, 1 inline) | u32 name length | u64 size | name (padded)
 *          shared: u32 shared-name length | u32 0 | shared name (padded)
 *          inline: the bytes (padded)
 *   u64 length | ed_state_snapshot_meta's snapshot (descriptors and timers)
 *
 * A restore of a subtask with the same key groups puts the files back in place of its
 * instance and opens it (nothing is copied entry by entry); any other restore (another
 * parallelism, or the heap backend) opens each old instance on the side and moves the
 * entries of its key groups over.
 */
#ifndef ED_RUNTIME_INCREMENTAL_H
#define ED_RUNTIME_INCREMENTAL_H

#include "../checkpoint/storage.h"
#include "operators.h"

/* Appends op's keyed state of checkpoint id, incrementally, to body, and a "shared <name>"
 * line per file it uses to lines; the files new since the last checkpoint are handed to the
 * upload thread (upload.h), which copies them to shared_dir. 0, or -1 with err. */
int ed_incr_snapshot(ed_operator *op, int64_t id, const char *shared_dir, ed_strbuf *body,
                     ed_strbuf *lines, ed_err *err);
/* Restores key groups [first, last] of op's keyed state from one old subtask's section. */
int ed_incr_restore(ed_operator *op, const void *body, size_t len, const char *shared_dir,
                    int first, int last, ed_err *err);
/* The same into any backend (heap or RocksDB) and timer service. */
int ed_incr_restore_into(ed_state_backend *b, ed_timer_service *timers, int max_parallelism,
                         const void *body, size_t len, const char *shared_dir, int first,
                         int last, ed_err *err);

#endif
