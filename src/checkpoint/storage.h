/*
 * storage.h - durable checkpoint files.
 *
 * Every file a checkpoint writes is framed and written the same way, so that a reader
 * can tell a whole file from a damaged one and a crash never leaves a half-written file
 * under its final name:
 *
 *   offset 0   8 bytes   magic "EDDYCKPT"
 *   offset 8   uint32    format version (ED_CKPT_VERSION)
 *   offset 12  uint32    kind (what the payload is: metadata, operator state, ...)
 *   offset 16  uint64    payload length
 *   offset 24  uint32    crc32c of the payload
 *   offset 28  uint32    crc32c of bytes 0..27 (the header itself)
 *   offset 32            payload
 *
 * Writing: a temporary file in the same directory, write, fsync, rename over the final
 * name, fsync of the directory. Reading: the header is checked, and the length against
 * the file's size, before anything is allocated; then the payload's checksum.
 *
 * File system calls go through an ed_fs table so that tests can inject ENOSPC and EIO
 * at any write, fsync or rename.
 */
#ifndef ED_CKPT_STORAGE_H
#define ED_CKPT_STORAGE_H

#include <sys/types.h>

#include "../base/base.h"

#define ED_CKPT_MAGIC "EDDYCKPT"
#define ED_CKPT_VERSION 1u
#define ED_CKPT_HEADER 32u
/* The largest payload a reader accepts (a corrupted length must not allocate wildly). */
#define ED_CKPT_MAX_PAYLOAD (1ULL << 40)

typedef enum ed_ckpt_kind {
    ED_CKPT_METADATA = 1,
    ED_CKPT_OPERATOR_STATE = 2,
    ED_CKPT_KEYED_STATE = 3,
    ED_CKPT_SINK_TXN = 4,
    ED_CKPT_SHARED_FILE = 5, /* a file of incremental state (runtime/incremental.h) */
    ED_CKPT_CHANNEL_STATE = 6, /* a task's in-flight data (runtime/unaligned.c) */
} ed_ckpt_kind;

/* The system calls storage uses; ed_fs_default() is the real one. */
typedef struct ed_fs {
    int (*open)(struct ed_fs *fs, const char *path, int flags, mode_t mode);
    ssize_t (*write)(struct ed_fs *fs, int fd, const void *buf, size_t n);
    int (*fsync)(struct ed_fs *fs, int fd);
    int (*rename)(struct ed_fs *fs, const char *from, const char *to);
    int (*close)(struct ed_fs *fs, int fd);
} ed_fs;

ed_fs *ed_fs_default(void);

/* Writes payload as a checkpoint file at path, durably. 0, or -1 with err naming the
 * path and the failed call (and no file left under path or as a temporary). */
int ed_ckpt_write(ed_fs *fs, const char *path, ed_ckpt_kind kind, const void *payload,
                  size_t len, ed_err *err);

/* Reads and checks a checkpoint file of the expected kind. On success *payload is a new
 * allocation (the caller frees it) of *len bytes. -1 with err naming the path and what is
 * wrong: missing, truncated, bad magic, unknown version, wrong kind, checksum mismatch. */
int ed_ckpt_read(const char *path, ed_ckpt_kind kind, void **payload, size_t *len,
                 ed_err *err);

/* mkdir -p; 0 or -1 with err. */
/* The whole local file at path, in a new allocation (*data, *len). 0, or -1 with err. */
int ed_read_file(const char *path, void **data, size_t *len, ed_err *err);
int ed_mkdirs(const char *path, ed_err *err);
/* Removes a directory tree; 0 or -1 with err (a missing path is not an error). */
int ed_remove_tree(const char *path, ed_err *err);
/* fsyncs a directory (after creating or renaming entries in it). */
int ed_fsync_dir(ed_fs *fs, const char *dir, ed_err *err);

#endif
