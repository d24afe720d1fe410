/*
 * writer.c - record writers: partitioners and serialization into channel buffers.
 *
 * A record is copied once, from the row it was built in into the current buffer of the
 * chosen channel, behind a 16-byte element header (length, tag, timestamp). The
 * partitioners follow Flink's: FORWARD and RESCALE are pointwise (the writer holds only
 * the channels it is connected to), HASH maps the key's group to the subtask owning it,
 * REBALANCE is round-robin, SHUFFLE uniformly random, BROADCAST copies to every channel,
 * GLOBAL sends everything to subtask 0 and CUSTOM asks the user's partitioner.
 *
 * A checkpoint barrier goes down every channel and out at once, with the buffer before
 * it; for an unaligned checkpoint it is announced to the consumer, which may then take it
 * ahead of the data queued before it (channel.h).
 */
#include <stdlib.h>
#include <string.h>

#include "task.h"

/* A record of ED_EL_LEN_BIG bytes or more goes alone into a buffer of its own. */
static int write_big(ed_writer *w, ed_channel *c, const eddy_row *row, int64_t ts, int tag,
                     uint32_t hash, uint32_t need)
{
    if (c->cur && c->cur->len) ed_channel_push(c, c->cur);
    else if (c->cur) ed_buffer_put(c->cur);
    c->cur = NULL;
    ed_buffer *b = ed_pool_get(w->pool, need);
    if (!b) return -1;
    ed_el_put_header(b->data, need, tag, hash);
    memcpy(b->data + 8, &ts, 8);
    memcpy(b->data + 16, row, need - ED_EL_RECORD_OVERHEAD);
    b->len = need;
    ed_channel_push(c, b);
    return 0;
}

/* tag: RECORD, or RECORD_KEYED with the key's hash */
static inline int channel_write(ed_writer *w, ed_channel *c, const eddy_row *row, int64_t ts,
                                int tag, uint32_t hash)
{
    uint32_t rs = eddy_row_size(row);
    uint32_t need = ED_EL_RECORD_OVERHEAD + rs;
    if (ED_UNLIKELY(need >= ED_EL_LEN_BIG)) return write_big(w, c, row, ts, tag, hash, need);
    ed_buffer *b = c->cur;
    if (ED_UNLIKELY(!b || b->cap - b->len < need)) {
        if (b) ed_channel_push(c, b);
        b = c->cur = ed_pool_get(w->pool, need);
        if (!b) return -1;
    }
    uint8_t *p = b->data + b->len;
    /* the buffer's lines were last read by the consumer's core: ask for ownership of the
     * lines ahead early, so that the copy below does not wait for each in turn */
#if defined(__x86_64__)
    __asm__ volatile("prefetchw %0" ::"m"(*(const char *)(p + 512)));
#endif
    ed_el_put_header(p, need, tag, hash);
    memcpy(p + 8, &ts, 8);
    memcpy(p + 16, row, rs);
    b->len += need;
    return 0;
}

static int channel_control(ed_writer *w, ed_channel *c, int tag, int64_t value)
{
    uint32_t need = tag == ED_EL_END ? ED_EL_HEADER : ED_EL_HEADER + 8; /* WATERMARK, STATUS */
    ed_buffer *b = c->cur;
    if (!b || b->cap - b->len < need) {
        if (b) ed_channel_push(c, b);
        b = c->cur = ed_pool_get(w->pool, need);
        if (!b) return -1;
    }
    uint8_t *p = b->data + b->len;
    ed_el_put_header(p, need, tag, 0);
    if (tag != ED_EL_END) memcpy(p + 8, &value, 8);
    b->len += need;
    return 0;
}

static int key_channel(ed_writer *w, const eddy_row *row, int *out, uint32_t *hash)
{
    const eddy_row *src = row;
    if (w->key_fn || w->part_fn) {
        if (w->key_fn) {
            eddy_rb_reset(w->key_rb);
            if (w->key_fn(&w->producer->ctx, row, w->key_rb) < 0) {
                ed_op_fail(w->producer, "key selector failed");
                return -1;
            }
            src = eddy_rb_row(w->key_rb);
        }
    }
    if (w->part == ED_PART_CUSTOM) {
        const eddy_row *key = src;
        if (!w->key_fn) {
            /* the key row is the projection of the key fields */
            eddy_rb_reset(w->key_rb);
            for (uint32_t i = 0; i < w->ks.n; i++)
                eddy_rb_set_field(w->key_rb, i, row, w->ks.idx[i]);
            key = eddy_rb_row(w->key_rb);
        }
        int ch = w->part_fn(key, w->n);
        if (ch < 0 || ch >= w->n)
            return ed_op_fail(w->producer, "custom partitioner returned %d, not in [0, %d)", ch,
                              w->n);
        *out = ch;
        return 0;
    }
    size_t len = ed_key_write(&w->ks, src, w->keybuf, w->keycap);
    if (ED_UNLIKELY(len > w->keycap)) {
        w->keycap = len * 2;
        w->keybuf = ed_xrealloc(w->keybuf, w->keycap);
        len = ed_key_write(&w->ks, src, w->keybuf, w->keycap);
    }
    /* key group = murmur3 % max parallelism, and its subtask, without a division */
    uint32_t h = ed_key_hash(w->keybuf, len);
    *out = w->n == 1 ? 0 : w->kg_channel[ed_fastmod_u32(h, w->kg_mod)];
    *hash = h;
    return 0;
}

static inline uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    return ed_mix64(z);
}

int ed_writer_emit(ed_writer *w, const eddy_row *row, int64_t ts)
{
    int ch = 0;
    uint32_t hash = 0;
    int tag = ED_EL_RECORD;
    switch (w->part) {
    case ED_PART_FORWARD:
    case ED_PART_GLOBAL:
        ch = 0;
        break;
    case ED_PART_HASH:
        if (key_channel(w, row, &ch, &hash)) return -1;
        tag = ED_EL_RECORD_KEYED;
        break;
    case ED_PART_CUSTOM:
        if (key_channel(w, row, &ch, &hash)) return -1;
        break;
    case ED_PART_REBALANCE:
    case ED_PART_RESCALE:
        ch = (int)(w->rr++ % (uint32_t)w->n);
        break;
    case ED_PART_SHUFFLE:
        ch = (int)(next_rand(&w->rng) % (uint64_t)w->n);
        break;
    case ED_PART_BROADCAST:
        for (int i = 0; i < w->n; i++)
            if (channel_write(w, w->ch[i], row, ts, ED_EL_RECORD, 0)) return -1;
        w->task->dirty = true;
        return 0;
    default:
        ed_assert(!"partitioner");
    }
    w->task->dirty = true;
    return channel_write(w, w->ch[ch], row, ts, tag, hash);
}

int ed_writer_broadcast_element(ed_writer *w, int tag, int64_t value)
{
    for (int i = 0; i < w->n; i++)
        if (channel_control(w, w->ch[i], tag, value)) return -1;
    w->task->dirty = true;
    return 0;
}

/* A buffer for a barrier of an unaligned checkpoint: a pooled one when the pool has one
 * free, else one of its own, so that the barrier does not wait behind backpressure for
 * the consumer to return a buffer (unless the ring is full). */
static ed_buffer *barrier_buffer(ed_writer *w, ed_channel *c, uint32_t need)
{
    if (ed_pool_free_now(w->pool) || !ed_channel_has_spare(c)) return ed_pool_get(w->pool, need);
    return ed_buffer_new(need);
}

int ed_writer_barrier(ed_writer *w, int64_t id, int64_t ts, bool announce)
{
    const uint32_t need = ED_EL_HEADER + 16;
    for (int i = 0; i < w->n; i++) {
        ed_channel *c = w->ch[i];
        ed_buffer *b = c->cur;
        if (!b || b->cap - b->len < need) {
            if (b && b->len) ed_channel_push(c, b);
            else if (b) ed_buffer_put(b);
            c->cur = NULL;
            b = announce ? barrier_buffer(w, c, need) : ed_pool_get(w->pool, need);
            if (!b) return -1;
        }
        uint8_t *p = b->data + b->len;
        ed_el_put_header(p, need, ED_EL_BARRIER, 0);
        memcpy(p + 8, &id, 8);
        memcpy(p + 16, &ts, 8);
        b->len += need;
        c->cur = NULL;
        ed_channel_push(c, b);
        if (announce) {
            /* the barrier is in the ring before it is announced (release) */
            atomic_store_explicit(&c->announced, id, memory_order_release);
            atomic_fetch_add_explicit(&c->gate->announce, 1, memory_order_release);
            ed_gate_notify(c->gate);
        }
    }
    return 0;
}

void ed_writer_flush(ed_writer *w)
{
    for (int i = 0; i < w->n; i++) {
        ed_channel *c = w->ch[i];
        if (c->cur && c->cur->len) {
            ed_channel_push(c, c->cur);
            c->cur = NULL;
        }
    }
}
