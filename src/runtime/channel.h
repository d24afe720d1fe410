/*
 * channel.h - buffers, bounded buffer pools, single-producer single-consumer channels
 * and input gates: how records move between tasks in one process.
 *
 * A producer task owns one pool of fixed-size buffers for all its output channels. It
 * serializes elements into the current buffer of a channel and, when the buffer is full
 * (or flushed), pushes it into the channel's ring. The consumer reads the buffer in
 * place and gives it back to its pool. When the pool is empty the producer blocks:
 * that is backpressure, and it bounds the memory of a job by configuration alone.
 *
 *   producer --write--> [cur buffer] --push--> ring[head..tail) --pop--> consumer
 *       ^                                                                 |
 *       +------------------- pool (free list, bounded) <------put---------+
 *
 * Locks are taken per buffer (pool get/put, waking a sleeping consumer), never per
 * record. Element layout inside a buffer, each 8-byte aligned:
 *
 *   uint32 len (whole element, low 24 bits) | tag (high 8 bits) | uint32 key hash | payload
 *   RECORD:    int64 timestamp, then the row (its own size header)
 *   WATERMARK: int64 watermark
 *   STATUS:    int64 1 = idle, 0 = active (watermark status)
 *   BARRIER:   int64 checkpoint id, int64 when the checkpoint was triggered (job clock, ms)
 *   END:       nothing (end of this channel's input)
 *
 * A record sent by key (HASH partitioning) is tagged RECORD_KEYED and carries the hash
 * of its key bytes (ed_key_hash), which the producer computed to pick the channel: the
 * keyed consumer takes its key group from it instead of hashing again, and a consumer
 * reading ahead fetches the state the record will touch before it gets to it
 * (ed_op_vt.prefetch). Other elements carry 0.
 *
 * An element of ED_EL_LEN_BIG bytes or more (a record larger than 16 MiB) has length
 * ED_EL_LEN_BIG and is the last element of its buffer: it ends where the buffer does.
 *
 * Unaligned checkpoints (task.c, unaligned.c) let a barrier overtake the buffers queued
 * before it: the producer still writes the barrier in band, pushes it at once and then
 * announces it (channel.announced, gate.announce); the consumer, told so, looks for it
 * in the ring ahead of its read position and takes what lies before it as in-flight
 * data, without reading it yet. Announcing costs two atomic operations per barrier and
 * channel; nothing is added per record.
 */
#ifndef ED_CHANNEL_H
#define ED_CHANNEL_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "../base/base.h"

enum {
    ED_EL_RECORD = 1,
    ED_EL_WATERMARK = 2,
    ED_EL_END = 3,
    ED_EL_STATUS = 4,
    ED_EL_BARRIER = 5,
    ED_EL_RECORD_KEYED = 6
};
#define ED_EL_HEADER 8u
#define ED_EL_RECORD_OVERHEAD 16u
#define ED_EL_LEN_BIG 0xffffffu

static inline void ed_el_put_header(uint8_t *p, uint32_t len, int tag, uint32_t hash)
{
    uint32_t w0 = (len < ED_EL_LEN_BIG ? len : ED_EL_LEN_BIG) | (uint32_t)tag << 24;
    memcpy(p, &w0, 4);
    memcpy(p + 4, &hash, 4);
}
static inline int ed_el_tag(const uint8_t *p) { return p[3]; }
/* The element's length; end is the end of its buffer's data. */
static inline uint32_t ed_el_len(const uint8_t *p, const uint8_t *end)
{
    uint32_t w0;
    memcpy(&w0, p, 4);
    w0 &= ED_EL_LEN_BIG;
    return w0 != ED_EL_LEN_BIG ? w0 : (uint32_t)(end - p);
}
static inline uint32_t ed_el_hash(const uint8_t *p)
{
    uint32_t h;
    memcpy(&h, p + 4, 4);
    return h;
}
static inline bool ed_el_is_record(int tag) { return tag == ED_EL_RECORD || tag == ED_EL_RECORD_KEYED; }

typedef struct ed_pool ed_pool;

typedef struct ed_buffer {
    ed_pool *pool; /* NULL: a one-off buffer for an oversized record, freed on put */
    struct ed_buffer *next;
    uint32_t len, cap;
    uint8_t data[] __attribute__((aligned(8)));
} ed_buffer;

struct ed_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ed_buffer *free;
    _Atomic int nfree;     /* length of free, readable without the lock */
    int waiters;           /* producers blocked in ed_pool_get */
    int size;              /* buffers owned */
    int in_use, max_in_use; /* statistics for tests and metrics */
    uint32_t seg;          /* capacity of a buffer */
    const _Atomic bool *cancel;
    int64_t spin_ns;       /* spun before sleeping (0 with one CPU) */
    void *mem;             /* all buffers in one allocation */
};

/* Room kept in every ring beyond its producer's pool: a barrier of an unaligned
 * checkpoint does not wait for a pooled buffer but takes one of its own (ed_buffer_new)
 * when the pool is empty, and such buffers go through the ring too. */
#define ED_RING_SPARE 16

/* Makes n buffers of seg bytes. 0, or -1 when memory is short. */
int ed_pool_init(ed_pool *p, int n, uint32_t seg, const _Atomic bool *cancel);
void ed_pool_destroy(ed_pool *p);
/* A buffer with room for at least `need` bytes; blocks while the pool is empty. NULL when
 * the job is cancelled while waiting (or memory for an oversized buffer is short). */
ed_buffer *ed_pool_get(ed_pool *p, uint32_t need);
/* A buffer of its own (not pooled) with room for cap bytes, freed by ed_buffer_put; NULL
 * when memory is short. */
ed_buffer *ed_buffer_new(uint32_t cap);
void ed_buffer_put(ed_buffer *b);
/* Free buffers of the pool now (another thread may return more at any time). */
static inline int ed_pool_free_now(ed_pool *p)
{
    return atomic_load_explicit(&p->nfree, memory_order_relaxed);
}
int ed_pool_max_in_use(ed_pool *p);

typedef struct ed_gate ed_gate;
struct ed_writer;

typedef struct ed_channel {
    /* producer side */
    _Alignas(64) _Atomic uint32_t tail;
    ed_buffer *cur;
    _Atomic int64_t announced; /* the newest barrier pushed and announced (0: none) */
    /* consumer side */
    _Alignas(64) _Atomic uint32_t head;
    ed_buffer *rd;
    uint32_t rpos;
    int64_t watermark;
    bool ended;
    bool idle; /* its producer declared itself idle: left out of the watermark */
    bool blocked; /* its checkpoint barrier arrived: not read until the task is aligned
                   * (or, held_id, until the task's current checkpoint is complete) */
    bool aligned; /* counts in the task's watermark (false while idle, and after resuming
                   * until its watermark has caught up with the task's) */
    bool recording; /* what is read from it is in-flight data of an unaligned checkpoint */
    int input; /* logical input index at the consumer's head operator */
    int index; /* its position in the gate */
    int64_t bar_id;  /* the newest checkpoint barrier it delivered, in band or seen ahead */
    int64_t held_id; /* a newer barrier read in band while the task's current checkpoint
                      * still waits for other channels: the channel is blocked behind it */
    int64_t held_ts;
    /* fixed */
    _Alignas(64) uint32_t mask;
    ed_buffer **ring;
    ed_gate *gate;
    const struct ed_writer *src; /* its producer's writer (names it in a checkpoint) */
} ed_channel;

/* capacity: the most buffers ever in flight on it (its producer's pool size; the ring
 * keeps ED_RING_SPARE more). */
void ed_channel_init(ed_channel *c, int capacity, ed_gate *gate, int input);
/* Makes room for `extra` more buffers in the ring. Only before its producer and consumer
 * run (a restore puts in-flight data in front of what the producer will send). */
void ed_channel_reserve(ed_channel *c, int extra);
/* Whether the ring has room for a buffer beyond those of the pool (producer side). */
static inline bool ed_channel_has_spare(const ed_channel *c)
{
    uint32_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
    return t - atomic_load_explicit(&c->head, memory_order_acquire) < c->mask;
}
void ed_channel_destroy(ed_channel *c); /* returns buffers still held to their pools */

/* Producer: hands a filled buffer to the consumer. Never blocks: the ring holds every
 * buffer of the producer's pool. */
void ed_channel_push(ed_channel *c, ed_buffer *b);
/* Consumer: the next buffer, or NULL. */
static inline ed_buffer *ed_channel_peek(ed_channel *c)
{
    uint32_t h = atomic_load_explicit(&c->head, memory_order_relaxed);
    if (h == atomic_load_explicit(&c->tail, memory_order_acquire)) return NULL;
    return c->ring[h & c->mask];
}
static inline void ed_channel_pop(ed_channel *c)
{
    atomic_store_explicit(&c->head, atomic_load_explicit(&c->head, memory_order_relaxed) + 1,
                          memory_order_release);
}

/*
 * The consumer's side of all channels of a task, and the task's wake-up point: channel
 * pushes and mails from other threads wake a task sleeping in ed_gate_wait.
 */
struct ed_gate {
    ed_channel **ch;
    int n;
    int next; /* round-robin position */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic int sleeping;
    _Atomic int pending; /* mails or other reasons to wake */
    _Atomic uint32_t announce; /* bumped when a producer announces a barrier */
    int64_t spin_ns;           /* spun before sleeping (0 with one CPU) */
};

/* The CPUs this process may run on. */
int ed_cpus_allowed(void);

void ed_gate_init(ed_gate *g);
void ed_gate_destroy(ed_gate *g);
void ed_gate_add(ed_gate *g, ed_channel *c);
/* Wakes the gate's task if it sleeps. Any thread. */
void ed_gate_notify(ed_gate *g);
/* Sleeps until a channel has data, a notification arrives, or timeout_ns passes. */
void ed_gate_wait(ed_gate *g, int64_t timeout_ns);

#endif
