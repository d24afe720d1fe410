/*
 * upload.h - the asynchronous part of a checkpoint: writing a task's snapshot files.
 *
 * A task's part of a checkpoint is a short synchronous snapshot on its own thread (the
 * barrier goes on, the operators serialize their state into buffers) and an upload that
 * is not: the buffers are handed to the job's upload thread, which writes each file
 * durably (ed_ckpt_write: temp file, fsync, rename, fsync of the directory) and then
 * acknowledges the checkpoint for the task - or declines it when a write fails. The task
 * processes records meanwhile. Uploads run in the order they were handed over.
 *
 *   task thread:    barrier -> snapshot into buffers -> ed_upload_add ... ed_upload_submit
 *   upload thread:                                     write, fsync, rename ... ack
 *
 * Incremental RocksDB checkpoints hand over copies of new SST files (from the native
 * checkpoint's directory, removed afterwards) under their shared names. A checkpoint may
 * refer to a shared file an earlier one is still uploading; uploads run in order, and a
 * batch is acknowledged only when every shared file its lines refer to ("shared <name>")
 * exists, so a checkpoint never completes on a shared file whose upload failed.
 */
#ifndef ED_UPLOAD_H
#define ED_UPLOAD_H

#include "task.h"

/* Starts the job's upload thread (a job with checkpoints). 0, or -1 with err set. */
int ed_upload_start(ed_job *job, ed_err *err);
/* Waits until everything handed over is written and acknowledged (or declined): after
 * the tasks have ended, before the checkpoint coordinator stops. */
void ed_upload_drain(ed_job *job);
/* Drains and ends the upload thread; frees what it had. */
void ed_upload_stop(ed_job *job);

/* Task thread: file `path` of checkpoint id, of this kind, with payload (taken: *payload is
 * left empty), belongs to the task's part of the checkpoint. */
void ed_upload_add(ed_task *t, int64_t id, const char *path, ed_ckpt_kind kind,
                   ed_strbuf *payload);
/* Task thread: file `path` of checkpoint id is a copy of local file `from`, read when it
 * is written; shared_name (or NULL) names it among the job's shared files (incremental
 * RocksDB state): if it cannot be written, ed_upload_take_failed says so. */
void ed_upload_add_copy(ed_task *t, int64_t id, const char *from, const char *path,
                        ed_ckpt_kind kind, const char *shared_name);
/* Task thread: local directory dir is removed once checkpoint id's files are written (or
 * given up). */
void ed_upload_remove_after(ed_task *t, int64_t id, const char *dir);
/* Any thread: true when the shared file of this name could not be written (its checkpoint
 * failed, or was given up before): the caller uploads it again. Forgets it. */
bool ed_upload_take_failed(ed_job *job, const char *shared_name);
/* Task thread: the task's part of checkpoint id is complete: its files are written and
 * then the checkpoint acknowledged with lines (copied), in the background. The task counts
 * as having acknowledged id from now on. */
void ed_upload_submit(ed_task *t, int64_t id, const char *lines);
/* Task thread: forgets the files of checkpoint id and of every older one not submitted
 * (declined, or overtaken by a newer checkpoint). */
void ed_upload_discard(ed_task *t, int64_t id);
/* Frees what a task had not submitted (the task is being freed). */
void ed_upload_free_task(ed_task *t);

#endif
