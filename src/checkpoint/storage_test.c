/*
 * storage_test.c - checkpoint files: round trip, every kind of damage detected with a
 * message naming the file, and failed writes (ENOSPC, EIO at write, fsync and rename)
 * that leave the previous file untouched and no temporary behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/storage.h"
#include "ed_test.h"

static char dir[256];

static const char *tmpdir(void)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/eddy_storage_test.XXXXXX");
        if (!mkdtemp(dir)) abort();
    }
    return dir;
}

__attribute__((destructor)) static void cleanup(void)
{
    ed_err e = {0};
    if (dir[0]) ed_remove_tree(dir, &e);
}

static void path_of(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir(), name);
}

static size_t count_entries(const char *d)
{
    size_t n = 0;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ls -A %s | wc -l", d);
    FILE *p = popen(cmd, "r");
    if (p && fscanf(p, "%zu", &n) != 1) n = 0;
    if (p) pclose(p);
    return n;
}

ED_TEST(round_trip)
{
    char p[512];
    path_of(p, sizeof p, "rt");
    ed_err e = {0};
    const char msg[] = "hello, checkpoint";
    ED_REQUIRE(ed_ckpt_write(ed_fs_default(), p, ED_CKPT_OPERATOR_STATE, msg, sizeof msg, &e) == 0);
    void *got;
    size_t n;
    ED_REQUIRE(ed_ckpt_read(p, ED_CKPT_OPERATOR_STATE, &got, &n, &e) == 0);
    ED_CHECK_INT(n, sizeof msg);
    ED_CHECK(memcmp(got, msg, n) == 0);
    free(got);
    struct stat st;
    ED_REQUIRE(stat(p, &st) == 0);
    ED_CHECK_INT(st.st_size, ED_CKPT_HEADER + sizeof msg);
    /* empty payloads are fine */
    ED_REQUIRE(ed_ckpt_write(ed_fs_default(), p, ED_CKPT_METADATA, "", 0, &e) == 0);
    ED_REQUIRE(ed_ckpt_read(p, ED_CKPT_METADATA, &got, &n, &e) == 0);
    ED_CHECK_INT(n, 0);
    free(got);
}

/* Rewrites byte `off` of the file at p. */
static void poke(const char *p, off_t off, uint8_t v)
{
    int fd = open(p, O_WRONLY);
    if (fd < 0 || pwrite(fd, &v, 1, off) != 1) abort();
    close(fd);
}

ED_TEST(damage_is_detected_and_named)
{
    char p[512], want[700];
    path_of(p, sizeof p, "dmg");
    ed_err e = {0};
    uint8_t data[100];
    for (int i = 0; i < 100; i++) data[i] = (uint8_t)i;
    void *got = NULL;
    size_t n;

    ED_REQUIRE(ed_ckpt_write(ed_fs_default(), p, ED_CKPT_KEYED_STATE, data, 100, &e) == 0);
    poke(p, ED_CKPT_HEADER + 50, 0xff);
    ED_CHECK(ed_ckpt_read(p, ED_CKPT_KEYED_STATE, &got, &n, &e) == -1 && !got);
    snprintf(want, sizeof want, "checkpoint file %s: payload checksum mismatch", p);
    ED_CHECK_STR(e.msg, want);

    ed_err_clear(&e);
    ED_REQUIRE(ed_ckpt_write(ed_fs_default(), p, ED_CKPT_KEYED_STATE, data, 100, &e) == 0);
    ED_REQUIRE(truncate(p, ED_CKPT_HEADER + 60) == 0);
    ED_CHECK(ed_ckpt_read(p, ED_CKPT_KEYED_STATE, &got, &n, &e) == -1);
    snprintf(want, sizeof want,
             "checkpoint file %s: truncated or padded: 92 bytes, header says 132", p);
    ED_CHECK_STR(e.msg, want);

    ed_err_clear(&e);
    ED_REQUIRE(truncate(p, 10) == 0);
    ED_CHECK(ed_ckpt_read(p, ED_CKPT_KEYED_STATE, &got, &n, &e) == -1);
    snprintf(want, sizeof want, "checkpoint file %s: truncated (10 bytes, header needs 32)", p);
    ED_CHECK_STR(e.msg, want);

    ed_err_clear(&e);
    ED_REQUIRE(ed_ckpt_write(ed_fs_default(), p, ED_CKPT_KEYED_STATE, data, 100, &e) == 0);
    poke(p, 0, 'X');
    ED_CHECK(ed_ckpt_read(p, ED_CKPT_KEYED_STATE, &got, &n, &e) == -1);
    snprintf(want, sizeof want, "checkpoint file %s: not a checkpoint file (bad magic)", p);
    ED_CHECK_STR(e.msg, want);

    ed_err_clear(&e);
    ED_REQUIRE(ed_ckpt_write(ed_fs_default(), p, ED_CKPT_KEYED_STATE, data, 100, &e) == 0);
    poke(p, 16, 0x7f); /* the length: caught by the header checksum before anything else */
    ED_CHECK(ed_ckpt_read(p, ED_CKPT_KEYED_STATE, &got, &n, &e) == -1);
    snprintf(want, sizeof want, "checkpoint file %s: header checksum mismatch", p);
    ED_CHECK_STR(e.msg, want);

    ed_err_clear(&e);
    ED_REQUIRE(ed_ckpt_write(ed_fs_default(), p, ED_CKPT_KEYED_STATE, data, 100, &e) == 0);
    ED_CHECK(ed_ckpt_read(p, ED_CKPT_METADATA, &got, &n, &e) == -1);
    snprintf(want, sizeof want, "checkpoint file %s: holds kind 3, expected 1", p);
    ED_CHECK_STR(e.msg, want);

    ed_err_clear(&e);
    char missing[512];
    path_of(missing, sizeof missing, "nope");
    ED_CHECK(ed_ckpt_read(missing, ED_CKPT_METADATA, &got, &n, &e) == -1);
    snprintf(want, sizeof want, "checkpoint file %s: No such file or directory", missing);
    ED_CHECK_STR(e.msg, want);
}

/* A file system that fails the Nth call of one kind with an errno. */
typedef struct faulty {
    ed_fs fs;
    const char *what;
    int countdown, err;
} faulty;

static bool hit(faulty *f, const char *what)
{
    if (strcmp(f->what, what) || f->countdown < 0) return false;
    if (f->countdown-- == 0) {
        errno = f->err;
        return true;
    }
    return false;
}
static int f_open(ed_fs *fs, const char *p, int flags, mode_t m)
{
    return ed_fs_default()->open(ed_fs_default(), p, flags, m);
}
static ssize_t f_write(ed_fs *fs, int fd, const void *b, size_t n)
{
    if (hit((faulty *)fs, "write")) return -1;
    /* short writes are retried: hand out at most 7 bytes at a time */
    return ed_fs_default()->write(ed_fs_default(), fd, b, n > 7 ? 7 : n);
}
static int f_fsync(ed_fs *fs, int fd)
{
    if (hit((faulty *)fs, "fsync")) return -1;
    return ed_fs_default()->fsync(ed_fs_default(), fd);
}
static int f_rename(ed_fs *fs, const char *a, const char *b)
{
    if (hit((faulty *)fs, "rename")) return -1;
    return ed_fs_default()->rename(ed_fs_default(), a, b);
}
static int f_close(ed_fs *fs, int fd) { return ed_fs_default()->close(ed_fs_default(), fd); }

ED_TEST(failed_writes_keep_the_previous_file)
{
    char sub[512], p[600];
    path_of(sub, sizeof sub, "faults");
    ed_err e = {0};
    ED_REQUIRE(ed_mkdirs(sub, &e) == 0);
    snprintf(p, sizeof p, "%s/_metadata", sub);
    ED_REQUIRE(ed_ckpt_write(ed_fs_default(), p, ED_CKPT_METADATA, "v1", 2, &e) == 0);
    struct {
        const char *what;
        int err;
        const char *msg;
    } cases[] = {
        {"write", ENOSPC, "write of %s failed: No space left on device"},
        {"write", EIO, "write of %s failed: Input/output error"},
        {"fsync", EIO, "fsync of %s failed: Input/output error"},
        {"rename", EIO, "rename of %s failed: Input/output error"},
    };
    for (size_t c = 0; c < ED_ARRAY_LEN(cases); c++) {
        faulty f = {{f_open, f_write, f_fsync, f_rename, f_close}, cases[c].what, 3, cases[c].err};
        if (strcmp(cases[c].what, "write")) f.countdown = 0;
        ed_err_clear(&e);
        ED_CHECK(ed_ckpt_write(&f.fs, p, ED_CKPT_METADATA, "version two", 11, &e) == -1);
        char want[700], fmt[200];
        snprintf(fmt, sizeof fmt, "checkpoint: %s", cases[c].msg);
        snprintf(want, sizeof want, fmt, p);
        ED_CHECK_STR(e.msg, want);
        void *got;
        size_t n;
        ED_REQUIRE(ed_ckpt_read(p, ED_CKPT_METADATA, &got, &n, &e) == 0);
        ED_CHECK(n == 2 && memcmp(got, "v1", 2) == 0);
        free(got);
        ED_CHECK_INT(count_entries(sub), 1); /* no temporary left behind */
    }
    /* the short-write file system on its own writes whole files */
    faulty ok = {{f_open, f_write, f_fsync, f_rename, f_close}, "none", -1, 0};
    ED_REQUIRE(ed_ckpt_write(&ok.fs, p, ED_CKPT_METADATA, "version two", 11, &e) == 0);
    void *got;
    size_t n;
    ED_REQUIRE(ed_ckpt_read(p, ED_CKPT_METADATA, &got, &n, &e) == 0);
    ED_CHECK(n == 11 && memcmp(got, "version two", 11) == 0);
    free(got);
}

ED_TEST(directories)
{
    char deep[512], f[600];
    path_of(deep, sizeof deep, "a/b/c/chk-1");
    ed_err e = {0};
    ED_REQUIRE(ed_mkdirs(deep, &e) == 0);
    ED_REQUIRE(ed_mkdirs(deep, &e) == 0); /* again: fine */
    snprintf(f, sizeof f, "%s/op", deep);
    ED_REQUIRE(ed_ckpt_write(ed_fs_default(), f, ED_CKPT_OPERATOR_STATE, "x", 1, &e) == 0);
    char top[512];
    path_of(top, sizeof top, "a");
    ED_REQUIRE(ed_remove_tree(top, &e) == 0);
    struct stat st;
    ED_CHECK(stat(top, &st) == -1 && errno == ENOENT);
    ED_CHECK(ed_remove_tree(top, &e) == 0); /* missing: fine */
}
