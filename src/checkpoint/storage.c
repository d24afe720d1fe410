/*
 * storage.c - durable, checksummed checkpoint files (see storage.h for the format).
 *
 * A checkpoint is complete only when every file it names is durable, so every write
 * ends with fsync of the file and of its directory; the rename in between makes the file
 * appear whole or not at all. A failure anywhere removes the temporary file and reports
 * the call, the path and the errno, and leaves whatever was under the final name before.
 */
#include "storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fs_open(ed_fs *fs, const char *path, int flags, mode_t mode)
{
    (void)fs;
    return open(path, flags | O_CLOEXEC, mode);
}
static ssize_t fs_write(ed_fs *fs, int fd, const void *buf, size_t n)
{
    (void)fs;
    return write(fd, buf, n);
}
static int fs_fsync(ed_fs *fs, int fd)
{
    (void)fs;
    return fsync(fd);
}
static int fs_rename(ed_fs *fs, const char *from, const char *to)
{
    (void)fs;
    return rename(from, to);
}
static int fs_close(ed_fs *fs, int fd)
{
    (void)fs;
    return close(fd);
}

ed_fs *ed_fs_default(void)
{
    static ed_fs fs = {fs_open, fs_write, fs_fsync, fs_rename, fs_close};
    return &fs;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

static int write_all(ed_fs *fs, int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t w = fs->write(fs, fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The directory part of path ("." when none). */
static void dir_of(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, cap, ".");
    } else if (slash == path) {
        snprintf(dir, cap, "/");
    } else {
        snprintf(dir, cap, "%.*s", (int)(slash - path), path);
    }
}

int ed_fsync_dir(ed_fs *fs, const char *dir, ed_err *err)
{
    int fd = fs->open(fs, dir, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0) return ed_err_set(err, "checkpoint: cannot open directory %s: %s", dir, strerror(errno));
    int rc = fs->fsync(fs, fd);
    int e = errno;
    fs->close(fs, fd);
    if (rc) return ed_err_set(err, "checkpoint: fsync of directory %s: %s", dir, strerror(e));
    return 0;
}

int ed_ckpt_write(ed_fs *fs, const char *path, ed_ckpt_kind kind, const void *payload,
                  size_t len, ed_err *err)
{
    uint8_t h[ED_CKPT_HEADER];
    memcpy(h, ED_CKPT_MAGIC, 8);
    put32(h + 8, ED_CKPT_VERSION);
    put32(h + 12, (uint32_t)kind);
    put64(h + 16, len);
    put32(h + 24, ed_crc32c(0, payload, len));
    put32(h + 28, ed_crc32c(0, h, 28));

    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= sizeof tmp)
        return ed_err_set(err, "checkpoint: path too long: %s", path);
    int fd = fs->open(fs, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return ed_err_set(err, "checkpoint: cannot create %s: %s", tmp, strerror(errno));
    const char *what = "write";
    int rc = write_all(fs, fd, h, sizeof h);
    if (!rc && len) rc = write_all(fs, fd, payload, len);
    if (!rc) {
        what = "fsync";
        rc = fs->fsync(fs, fd);
    }
    int e = errno;
    if (fs->close(fs, fd) && !rc) {
        what = "close";
        rc = -1;
        e = errno;
    }
    if (!rc) {
        what = "rename";
        rc = fs->rename(fs, tmp, path);
        e = errno;
    }
    if (rc) {
        unlink(tmp);
        return ed_err_set(err, "checkpoint: %s of %s failed: %s", what, path, strerror(e));
    }
    char dir[4096];
    dir_of(path, dir, sizeof dir);
    return ed_fsync_dir(fs, dir, err);
}

/* The whole file at path, in a new allocation. */
int ed_read_file(const char *path, void **data, size_t *len, ed_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ed_err_set(err, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || st.st_size < 0) {
        close(fd);
        return ed_err_set(err, "cannot stat '%s': %s", path, strerror(errno));
    }
    size_t n = (size_t)st.st_size, got = 0;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        close(fd);
        return ed_err_set(err, "'%s': out of memory for %zu bytes", path, n);
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            free(buf);
            close(fd);
            return ed_err_set(err, "cannot read '%s': %s", path, r ? strerror(errno) : "short file");
        }
        got += (size_t)r;
    }
    close(fd);
    *data = buf;
    *len = n;
    return 0;
}

int ed_ckpt_read(const char *path, ed_ckpt_kind kind, void **payload, size_t *len, ed_err *err)
{
    *payload = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ed_err_set(err, "checkpoint file %s: %s", path, strerror(errno));
    struct stat st;
    uint8_t h[ED_CKPT_HEADER];
    ssize_t got = -1;
    if (fstat(fd, &st) == 0) got = pread(fd, h, sizeof h, 0);
    if (got != (ssize_t)sizeof h) {
        close(fd);
        return ed_err_set(err, "checkpoint file %s: truncated (%lld bytes, header needs %u)",
                          path, (long long)st.st_size, ED_CKPT_HEADER);
    }
    if (memcmp(h, ED_CKPT_MAGIC, 8) != 0) {
        close(fd);
        return ed_err_set(err, "checkpoint file %s: not a checkpoint file (bad magic)", path);
    }
    if (get32(h + 28) != ed_crc32c(0, h, 28)) {
        close(fd);
        return ed_err_set(err, "checkpoint file %s: header checksum mismatch", path);
    }
    uint32_t version = get32(h + 8), k = get32(h + 12);
    uint64_t n = get64(h + 16);
    if (version != ED_CKPT_VERSION) {
        close(fd);
        return ed_err_set(err, "checkpoint file %s: format version %u, this eddy reads %u", path,
                          version, ED_CKPT_VERSION);
    }
    if (k != (uint32_t)kind) {
        close(fd);
        return ed_err_set(err, "checkpoint file %s: holds kind %u, expected %u", path, k,
                          (unsigned)kind);
    }
    if (n > ED_CKPT_MAX_PAYLOAD || (uint64_t)st.st_size != ED_CKPT_HEADER + n) {
        close(fd);
        return ed_err_set(err, "checkpoint file %s: truncated or padded: %lld bytes, header says %llu",
                          path, (long long)st.st_size, (unsigned long long)(ED_CKPT_HEADER + n));
    }
    uint8_t *buf = malloc(n ? (size_t)n : 1);
    if (!buf) {
        close(fd);
        return ed_err_set(err, "checkpoint file %s: out of memory for %llu bytes", path,
                          (unsigned long long)n);
    }
    size_t off = 0;
    while (off < n) {
        ssize_t r = pread(fd, buf + off, (size_t)n - off, (off_t)(ED_CKPT_HEADER + off));
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            int e = r < 0 ? errno : EIO;
            free(buf);
            close(fd);
            return ed_err_set(err, "checkpoint file %s: read failed: %s", path, strerror(e));
        }
        off += (size_t)r;
    }
    close(fd);
    if (ed_crc32c(0, buf, (size_t)n) != get32(h + 24)) {
        free(buf);
        return ed_err_set(err, "checkpoint file %s: payload checksum mismatch", path);
    }
    *payload = buf;
    *len = (size_t)n;
    return 0;
}

int ed_mkdirs(const char *path, ed_err *err)
{
    char buf[4096];
    if ((size_t)snprintf(buf, sizeof buf, "%s", path) >= sizeof buf)
        return ed_err_set(err, "path too long: %s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) && errno != EEXIST)
            return ed_err_set(err, "cannot create directory %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) && errno != EEXIST)
        return ed_err_set(err, "cannot create directory %s: %s", buf, strerror(errno));
    return 0;
}

int ed_remove_tree(const char *path, ed_err *err)
{
    struct stat st;
    if (lstat(path, &st)) {
        if (errno == ENOENT) return 0;
        return ed_err_set(err, "cannot remove %s: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return ed_err_set(err, "cannot open directory %s: %s", path, strerror(errno));
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            char child[4096];
            if ((size_t)snprintf(child, sizeof child, "%s/%s", path, de->d_name) >= sizeof child) {
                closedir(d);
                return ed_err_set(err, "path too long under %s", path);
            }
            if (ed_remove_tree(child, err)) {
                closedir(d);
                return -1;
            }
        }
        closedir(d);
        if (rmdir(path)) return ed_err_set(err, "cannot remove %s: %s", path, strerror(errno));
        return 0;
    }
    if (unlink(path)) return ed_err_set(err, "cannot remove %s: %s", path, strerror(errno));
    return 0;
}
