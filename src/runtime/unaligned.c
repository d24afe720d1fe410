/*
 * unaligned.c - unaligned checkpoints: the in-flight data of a task, recorded while the
 * checkpoint is taken and put back in front of its channels on restore.
 *
 * An aligned checkpoint waits at every task until the barrier has come on each input, so
 * under backpressure it waits for everything queued ahead of the barriers to be processed.
 * An unaligned one (Flink's FLIP-76, execution.checkpointing.unaligned) does not: at the
 * first barrier a task snapshots its operators and sends the barrier on at once, ahead of
 * the output still queued (writer.c announces it; the consumer looks ahead for it). The
 * records that the barriers overtook are part of the checkpoint instead: for every input
 * channel, what arrives on it after the snapshot and before its barrier. The task's part
 * of the checkpoint is complete when the barrier has come on every channel.
 *
 * Channels in one process are rings shared by producer and consumer, so the data a
 * barrier overtakes is in the consumer's ring: the consumer records it, all of it, as its
 * channel's state (Flink splits the same data into the producer's output and the
 * consumer's input state). It comes from two places:
 *
 *   - data read in band after the snapshot, before the channel's barrier (task.c records
 *     each buffer's part as it reads it: a copy per buffer, only while recording);
 *   - data still in the ring when the barrier is found ahead of the read position: it is
 *     copied at once (ed_ua_record_ahead), and read, unrecorded, later.
 *
 * Barriers of older checkpoints in that data are left out. The data is kept as segments,
 * each a run of whole elements from one buffer:
 *
 *   segment: uint32 length | uint32 0 | elements (as in a buffer), padded to 8
 *
 * and written, once every barrier has come, to chk-<n>/<head operator>-channels-<subtask>
 * (framed as every checkpoint file, kind ED_CKPT_CHANNEL_STATE) and named in _metadata by
 * "channels <head key> <subtask> <parallelism> <file> <bytes>":
 *
 *   uint32 version 1 | uint32 number of channels
 *   per channel: uint32 producer subtask | uint32 producer parallelism | uint32 input |
 *                uint32 nth (of channels alike) | uint32 name length | uint32 0 |
 *                name: producer operator key, NUL, side output tag (padded to 8) |
 *                uint64 length of the segments | segments
 *
 * A restore (ed_job_restore_channels, before any task runs) checks every element and
 * puts each segment, as a buffer of its own, into the ring of the channel it was read
 * from, ahead of anything the producer will send: the task reads it first, through the
 * same code as live data, so watermarks and keys need nothing special. In-flight data is
 * not redistributed: a checkpoint that holds some for a task restores only at the
 * parallelism of that task and of its producers (as Flink up to 1.12); a savepoint, always
 * aligned, rescales.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/log.h"
#include "../checkpoint/coordinator.h"
#include "task.h"
#include "upload.h"

#define UA_VERSION 1u

typedef struct ed_ua_run {
    int64_t id;
    ed_strbuf lines; /* the snapshot's "state" lines */
    ed_strbuf *ch;   /* per gate channel: its in-flight data, as segments */
    int n;
} ed_ua_run;

void ed_ua_begin(ed_task *t, int64_t id, ed_strbuf *lines)
{
    ed_ua_free(t);
    ed_ua_run *u = ed_xcalloc(1, sizeof(*u));
    u->id = id;
    u->lines = *lines;
    ed_sb_init(lines);
    u->n = t->gate.n;
    u->ch = ed_xcalloc((size_t)u->n, sizeof(ed_strbuf));
    for (int i = 0; i < u->n; i++) ed_sb_init(&u->ch[i]);
    t->ua = u;
}

void ed_ua_free(ed_task *t)
{
    ed_ua_run *u = t->ua;
    if (!u) return;
    for (int i = 0; i < u->n; i++) ed_sb_free(&u->ch[i]);
    free(u->ch);
    ed_sb_free(&u->lines);
    free(u);
    t->ua = NULL;
}

static void put_segment(ed_strbuf *sb, const uint8_t *from, const uint8_t *to)
{
    static const uint8_t zeros[8] = {0};
    uint32_t h[2] = {(uint32_t)(to - from), 0};
    ed_sb_append(sb, h, 8);
    ed_sb_append(sb, from, h[0]);
    if (ED_ALIGN8(h[0]) != h[0]) ed_sb_append(sb, zeros, ED_ALIGN8(h[0]) - h[0]);
}

void ed_ua_record(ed_task *t, ed_channel *c, const uint8_t *from, const uint8_t *to)
{
    if (!t->ua || to <= from) return;
    put_segment(&t->ua->ch[c->index], from, to);
}

/* The elements of [p, end) of one buffer, barriers left out. */
static void record_range(ed_strbuf *sb, const uint8_t *p, const uint8_t *end)
{
    const uint8_t *run = p;
    while (p < end) {
        uint32_t len = ed_el_len(p, end);
        if (ed_el_tag(p) == ED_EL_BARRIER) { /* of an older checkpoint: stale */
            if (p > run) put_segment(sb, run, p);
            run = p + len;
        }
        p += len;
    }
    if (end > run) put_segment(sb, run, end);
}

/* Where the consumer reads from in ring slot i (head: past what it has read). */
static uint32_t read_offset(const ed_channel *c, uint32_t i, uint32_t head)
{
    return i == head && c->rd ? c->rpos : 0;
}

int ed_ua_find_barrier(ed_channel *c, ed_ua_pos *pos)
{
    uint32_t head = atomic_load_explicit(&c->head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(&c->tail, memory_order_acquire);
    for (uint32_t i = head; i != tail; i++) {
        const ed_buffer *b = c->ring[i & c->mask];
        const uint8_t *p = b->data + read_offset(c, i, head), *end = b->data + b->len;
        while (p < end) {
            uint32_t len = ed_el_len(p, end);
            if (ed_el_tag(p) == ED_EL_BARRIER) {
                int64_t id;
                memcpy(&id, p + 8, 8);
                if (id > c->bar_id) {
                    pos->idx = i;
                    pos->off = (uint32_t)(p - b->data);
                    pos->id = id;
                    memcpy(&pos->ts, p + 16, 8);
                    return 1;
                }
            }
            p += len;
        }
    }
    return 0;
}

void ed_ua_record_ahead(ed_task *t, ed_channel *c, const ed_ua_pos *pos)
{
    if (!t->ua) return;
    uint32_t head = atomic_load_explicit(&c->head, memory_order_relaxed);
    for (uint32_t i = head;; i++) {
        const ed_buffer *b = c->ring[i & c->mask];
        const uint8_t *p = b->data + read_offset(c, i, head);
        const uint8_t *end = b->data + (i == pos->idx ? pos->off : b->len);
        record_range(&t->ua->ch[c->index], p, end);
        if (i == pos->idx) break;
    }
}

/* A channel's identity in a checkpoint: its producer operator's key and side output tag,
 * NUL between (name, of *len bytes), and which of the task's channels alike it is. */
static void channel_name(const ed_channel *c, char *name, size_t cap, uint32_t *len)
{
    char key[256];
    ed_op_state_key(c->src->producer, key, sizeof key);
    const char *side = c->src->edge->side_tag ? c->src->edge->side_tag : "";
    int n = snprintf(name, cap, "%s%c%s", key, 0, side);
    *len = n < 0 ? 0 : (uint32_t)n < cap ? (uint32_t)n : (uint32_t)cap - 1;
}

static bool same_channel(const ed_channel *a, const ed_channel *b)
{
    return a->src->producer == b->src->producer && a->src->edge == b->src->edge &&
           a->src->task == b->src->task && a->input == b->input;
}

/* How many channels of the gate before c are alike (same producer subtask and edge). */
static uint32_t nth_alike(const ed_gate *g, const ed_channel *c)
{
    uint32_t n = 0;
    for (int i = 0; i < c->index; i++) n += same_channel(g->ch[i], c);
    return n;
}

static void channel_file(const ed_task *t, char *buf, size_t cap)
{
    char key[256];
    ed_op_state_key(&t->ops[0], key, sizeof key);
    snprintf(buf, cap, "%s-channels-%d", key, t->subtask);
}

void ed_ua_complete(ed_task *t)
{
    ed_ua_run *u = t->ua;
    if (!u) return;
    ed_job *job = t->job;
    ed_strbuf payload;
    ed_sb_init(&payload);
    uint32_t head[2] = {UA_VERSION, 0};
    for (int i = 0; i < u->n; i++) head[1] += u->ch[i].len > 0;
    ed_sb_append(&payload, head, 8);
    uint64_t bytes = 0;
    for (int i = 0; i < u->n; i++) {
        if (!u->ch[i].len) continue;
        const ed_channel *c = t->gate.ch[i];
        char name[600];
        uint32_t nlen;
        channel_name(c, name, sizeof name, &nlen);
        uint32_t h[6] = {(uint32_t)c->src->task->subtask,
                         (uint32_t)c->src->task->vertex->parallelism,
                         (uint32_t)c->input,
                         nth_alike(&t->gate, c),
                         nlen,
                         0};
        ed_sb_append(&payload, h, sizeof h);
        static const uint8_t zeros[8] = {0};
        ed_sb_append(&payload, name, nlen);
        if (ED_ALIGN8(nlen) != nlen) ed_sb_append(&payload, zeros, ED_ALIGN8(nlen) - nlen);
        uint64_t len = u->ch[i].len;
        ed_sb_append(&payload, &len, 8);
        ed_sb_append(&payload, u->ch[i].data, u->ch[i].len);
        bytes += len;
    }
    if (bytes) {
        char dir[4096], file[300], path[4500];
        ed_coord_chk_dir(job->coord, u->id, dir, sizeof dir);
        channel_file(t, file, sizeof file);
        snprintf(path, sizeof path, "%s/%s", dir, file);
        char key[256];
        ed_op_state_key(&t->ops[0], key, sizeof key);
        ed_sb_printf(&u->lines, "channels %s %d %d %s %zu\n", key, t->subtask,
                     t->vertex->parallelism, file, payload.len);
        ed_log(ED_DEBUG, "checkpoint", "checkpoint %lld: task '%s' keeps %llu bytes of "
               "in-flight data", (long long)u->id, t->name, (unsigned long long)bytes);
        ed_upload_add(t, u->id, path, ED_CKPT_CHANNEL_STATE, &payload); /* written later */
    }
    ed_sb_free(&payload);
    ed_task_ack(t, u->id, u->lines.data); /* the upload thread writes, then acknowledges */
    ed_ua_free(t);
}

/* ---- restore ---------------------------------------------------------------------------------- */

typedef struct replay {
    ed_channel *c;
    const uint8_t *seg;
    uint32_t len;
} replay;

/* Checks one segment's elements: records, watermarks and watermark statuses only, each
 * whole. 0, or -1 with err. */
static int check_segment(const uint8_t *p, uint32_t n, ed_err *err)
{
    const uint8_t *end = p + n;
    while (p < end) {
        if (end - p < 8) return ed_err_set(err, "an element is cut short");
        uint32_t len = ed_el_len(p, end);
        int tag = ed_el_tag(p);
        if (len < 8 || len % 8 || len > (size_t)(end - p))
            return ed_err_set(err, "an element has a bad length (%u)", len);
        if (ed_el_is_record(tag)) {
            if (len < ED_EL_RECORD_OVERHEAD + EDDY_ROW_HEADER ||
                ed_row_validate(p + ED_EL_RECORD_OVERHEAD, len - ED_EL_RECORD_OVERHEAD, err))
                return ed_err_wrap(err, "a record is damaged");
        } else if ((tag != ED_EL_WATERMARK && tag != ED_EL_STATUS) || len != ED_EL_HEADER + 8) {
            return ed_err_set(err, "an element of kind %d has no place in in-flight data", tag);
        }
        p += len;
    }
    return 0;
}

static const ed_task *task_with_head(const ed_job *job, const char *key, int subtask)
{
    for (int k = 0; k < job->ntasks; k++) {
        const ed_task *t = job->tasks[k];
        char hk[256];
        ed_op_state_key(&t->ops[0], hk, sizeof hk);
        if (strcmp(hk, key) == 0 && (subtask < 0 || t->subtask == subtask)) return t;
    }
    return NULL;
}

/* Reads one task's in-flight data (entry x) and appends what goes where to *rp. */
static int read_task_channels(ed_job *job, const restore_entry *x, replay **rp, int *nrp,
                              void **keep, ed_err *err)
{
    const struct ed_restore *r = job->restore;
    const ed_task *t = task_with_head(job, x->key, x->subtask);
    if (!t || t->vertex->parallelism != x->parallelism) {
        const ed_task *any = task_with_head(job, x->key, -1);
        if (any)
            return ed_err_set(err,
                              "cannot restore %s: it is an unaligned checkpoint with in-flight "
                              "data of task '%s' (subtask %d of %d), which this job runs at "
                              "parallelism %d; in-flight data is not redistributed: restore "
                              "it at parallelism %d, or rescale from a savepoint (savepoints "
                              "are always aligned)",
                              r->dir, any->vertex->name, x->subtask + 1, x->parallelism,
                              any->vertex->parallelism, x->parallelism);
        if (ed_config_get_bool(job->cfg, "execution.savepoint.ignore-unclaimed-state", false))
            return 0;
        return ed_err_set(err, "%s holds in-flight data of a task headed by operator '%s', which "
                               "this job does not have (execution.savepoint.ignore-unclaimed-state "
                               "/ --allowNonRestoredState to start without it)",
                          r->dir, x->key);
    }
    if (t->restored_finished)
        return ed_err_set(err, "%s holds in-flight data of task '%s', which had finished", r->dir,
                          t->name);
    char path[4500];
    snprintf(path, sizeof path, "%s/%s", r->dir, x->file);
    void *data;
    size_t len;
    if (ed_ckpt_read(path, ED_CKPT_CHANNEL_STATE, &data, &len, err)) return -1;
    *keep = data;
    const uint8_t *p = data, *end = p + len;
    uint32_t head[2];
    if (len < 8) return ed_err_set(err, "%s: in-flight data cut short", path);
    memcpy(head, p, 8);
    p += 8;
    if (head[0] != UA_VERSION)
        return ed_err_set(err, "%s: in-flight data of format version %u, not %u", path, head[0],
                          UA_VERSION);
    for (uint32_t k = 0; k < head[1]; k++) {
        uint32_t h[6];
        uint64_t segs;
        if ((size_t)(end - p) < sizeof h)
            return ed_err_set(err, "%s: in-flight data cut short", path);
        memcpy(h, p, sizeof h);
        p += sizeof h;
        if (h[4] == 0 || h[4] >= 600 || (size_t)(end - p) < ED_ALIGN8(h[4]) + 8)
            return ed_err_set(err, "%s: channel %u of the in-flight data is malformed", path,
                              k + 1);
        const char *name = (const char *)p;
        p += ED_ALIGN8(h[4]);
        memcpy(&segs, p, 8);
        p += 8;
        if (segs > (uint64_t)(end - p))
            return ed_err_set(err, "%s: channel %u of the in-flight data is cut short", path,
                              k + 1);
        /* the channel of this job it was read from */
        ed_channel *c = NULL;
        for (int i = 0; i < t->gate.n && !c; i++) {
            ed_channel *cand = t->gate.ch[i];
            char cname[600];
            uint32_t clen;
            channel_name(cand, cname, sizeof cname, &clen);
            if (clen == h[4] && memcmp(cname, name, clen) == 0 &&
                (uint32_t)cand->src->task->subtask == h[0] && (uint32_t)cand->input == h[2] &&
                nth_alike(&t->gate, cand) == h[3]) {
                if ((uint32_t)cand->src->task->vertex->parallelism != h[1])
                    return ed_err_set(err, "cannot restore %s: it is an unaligned checkpoint with "
                                           "in-flight data that task '%s' received from operator "
                                           "'%s' at parallelism %u, which this job runs at %d; "
                                           "in-flight data is not redistributed: rescale from a "
                                           "savepoint (savepoints are always aligned)",
                                      r->dir, t->name, cand->src->producer->node->name, h[1],
                                      cand->src->task->vertex->parallelism);
                c = cand;
            }
        }
        if (!c)
            return ed_err_set(err, "cannot restore %s: task '%s' had in-flight data from operator "
                                   "'%s' (subtask %u of %u) over a channel this job does not have",
                              r->dir, t->name, name, h[0] + 1, h[1]);
        const uint8_t *q = p, *qend = p + segs;
        while (q < qend) {
            uint32_t sh[2];
            if (qend - q < 8)
                return ed_err_set(err, "%s: a segment of in-flight data is cut short", path);
            memcpy(sh, q, 8);
            q += 8;
            if (sh[0] == 0 || ED_ALIGN8(sh[0]) > (size_t)(qend - q))
                return ed_err_set(err, "%s: a segment of in-flight data is cut short", path);
            if (check_segment(q, sh[0], err))
                return ed_err_wrap(err, "%s: in-flight data of task '%s'", path, t->name);
            *rp = ed_xrealloc(*rp, sizeof(**rp) * (size_t)(*nrp + 1));
            (*rp)[(*nrp)++] = (replay){c, q, sh[0]};
            q += ED_ALIGN8(sh[0]);
        }
        p = qend;
    }
    if (p != end)
        return ed_err_set(err, "%s: %zu bytes after the in-flight data", path, (size_t)(end - p));
    return 0;
}

int ed_job_restore_channels(ed_job *job, ed_err *err)
{
    struct ed_restore *r = job->restore;
    if (!r || !r->nch) return 0;
    replay *rp = NULL;
    int nrp = 0, rc = 0;
    void **files = ed_xcalloc((size_t)r->nch, sizeof(void *));
    for (int i = 0; i < r->nch && !rc; i++)
        rc = read_task_channels(job, &r->ch[i], &rp, &nrp, &files[i], err);
    /* all checked: now into the rings, ahead of what producers will send */
    for (int i = 0; i < nrp && !rc; i++) {
        int same = 0;
        for (int j = i; j < nrp && rp[j].c == rp[i].c; j++) same++;
        if (i == 0 || rp[i - 1].c != rp[i].c) ed_channel_reserve(rp[i].c, same);
        ed_buffer *b = ed_buffer_new(rp[i].len);
        if (!b) {
            rc = ed_err_set(err, "out of memory for %u bytes of in-flight data", rp[i].len);
            break;
        }
        memcpy(b->data, rp[i].seg, rp[i].len);
        b->len = rp[i].len;
        ed_channel_push(rp[i].c, b);
    }
    if (!rc && nrp)
        ed_log(ED_INFO, "checkpoint", "job '%s': %d buffers of in-flight data restored from %s",
               job->name, nrp, r->dir);
    for (int i = 0; i < r->nch; i++) free(files[i]);
    free(files);
    free(rp);
    return rc;
}
