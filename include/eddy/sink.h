/*
 * eddy/sink.h - two-phase-commit sinks: end-to-end exactly-once into any system that has
 * transactions, as Flink's TwoPhaseCommitSinkFunction.
 *
 * Each sink subtask writes the records between two checkpoint barriers into one
 * transaction, named by a handle of bytes (a file name, a transaction id):
 *
 *   begin       a transaction starts: set its handle (eddy_txn_set_handle) and, if it
 *               needs one, its working data (eddy_txn_set_data: an open file, a buffer)
 *   write       a record goes into the open transaction
 *   pre_commit  the checkpoint barrier has come: make the transaction durable and ready
 *               to commit (flush and fsync, PREPARE TRANSACTION), release its data;
 *               nothing is written into it any more. A new transaction begins.
 *   commit      the checkpoint is complete: make the transaction visible
 *   abort       give the transaction up
 *
 * The handles of the pre-committed transactions and of the open one are part of every
 * checkpoint. After a failure the job restores, calls commit for each transaction the
 * checkpoint had pre-committed (it may have been committed before the failure: commit
 * must be idempotent) and abort for the one that was open at the checkpoint (records
 * after the checkpoint are replayed into a new transaction). Those calls, and commits
 * made after the subtask has closed, get the handle only: eddy_txn_data is NULL there and
 * eddy_ctx_user may be NULL, so commit and abort must work from the handle alone.
 *
 * The first transaction begins with the first record (after a restore has finished),
 * the next at every checkpoint barrier. When a bounded input ends, the open transaction
 * is pre-committed and committed, with those still waiting for their checkpoint, once
 * the whole job has finished successfully (or by the first checkpoint that completes
 * after the subtask finished: execution.checkpointing.checkpoints-after-tasks-finish).
 * Without checkpointing, one transaction takes the whole bounded input. A failing
 * begin, write, pre_commit or commit fails the job (which restarts as configured); a
 * failing abort is logged.
 *
 * Functions run on the sink subtask's thread, never two at once, except commits made
 * when the job ends, which run on the thread that ends it.
 */
#ifndef EDDY_SINK_H
#define EDDY_SINK_H

#include "datastream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eddy_txn eddy_txn;

/* begin, pre_commit, commit and abort; 0 on success, negative fails (eddy_fail says why). */
typedef int (*eddy_txn_fn)(eddy_ctx *ctx, eddy_txn *txn);
/* write: one record into the open transaction. */
typedef int (*eddy_txn_write_fn)(eddy_ctx *ctx, eddy_txn *txn, const eddy_row *row);

/* The handle: at most EDDY_TXN_MAX_HANDLE bytes, copied. Returns 0, or -1 when too long. */
#define EDDY_TXN_MAX_HANDLE 65536
int eddy_txn_set_handle(eddy_txn *txn, const void *bytes, size_t len);
/* The handle and its length (NULL and 0 before one is set). */
const void *eddy_txn_handle(const eddy_txn *txn, size_t *len);
/* Working data of an open transaction; NULL once pre-committed and after a restore. */
void eddy_txn_set_data(eddy_txn *txn, void *data);
void *eddy_txn_data(const eddy_txn *txn);
/* A number for the transaction, unique among the transactions of this sink subtask index
 * across restarts and rescales (handles such as "<subtask>-<number>" never repeat). */
uint64_t eddy_txn_number(const eddy_txn *txn);
/* The checkpoint the transaction was pre-committed at (in commit, and in abort after a
 * restore: the checkpoint it was open at); 0 when there is none (the end of the input). */
int64_t eddy_txn_checkpoint(const eddy_txn *txn);

/* The functions of a two-phase-commit sink; abort may be EDDY_FN_NONE. */
typedef struct eddy_txn_sink {
    eddy_fn begin, write, pre_commit, commit, abort;
} eddy_txn_sink;

/*
 * Adds a two-phase-commit sink. The handle returned is the sink's: eddy_name, eddy_uid,
 * eddy_set_parallelism, eddy_param and eddy_rich apply to it; nothing can read from it.
 */
eddy_stream *eddy_two_phase_commit_sink(eddy_stream *in, eddy_txn_sink fns);

#ifdef __cplusplus
}
#endif
#endif
