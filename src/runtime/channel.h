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
 *   uint32 len (whole element) | uint8 tag | 3 bytes: key hint | payload
 *   RECORD:    int64 timestamp, then the row (its own size header)
 *   WATERMARK: int64 watermark
 *   STATUS:    int64 1 = idle, 0 = active (watermark status)
 *   BARRIER:   int64 checkpoint id
 *   END:       nothing (end of this channel's input)
 *
 * The key hint of a record sent by key is the low 24 bits of its key's hash (0 for
 * other records and elements): a consumer reading ahead can fetch the state the record
 * will touch before it gets to it (ed_op_vt.prefetch). It is only a hint.
 */
#ifndef ED_CHANNEL_H
#define ED_CHANNEL_H

#include <pthread.h>
#include <stdatomic.h>

#include "../base/base.h"

enum { ED_EL_RECORD = 1, ED_EL_WATERMARK = 2, ED_EL_END = 3, ED_EL_STATUS = 4, ED_EL_BARRIER = 5 };
#define ED_EL_HEADER 8u
#define ED_EL_RECORD_OVERHEAD 16u
#define ED_KEY_HINT_MASK 0xffffffu

static inline uint32_t ed_el_key_hint(const uint8_t *el)
{
    return (uint32_t)el[5] | (uint32_t)el[6] << 8 | (uint32_t)el[7] << 16;
}

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
    void *mem;             /* all buffers in one allocation */
};

/* Makes n buffers of seg bytes. 0, or -1 when memory is short. */
int ed_pool_init(ed_pool *p, int n, uint32_t seg, const _Atomic bool *cancel);
void ed_pool_destroy(ed_pool *p);
/* A buffer with room for at least `need` bytes; blocks while the pool is empty. NULL when
 * the job is cancelled while waiting (or memory for an oversized buffer is short). */
ed_buffer *ed_pool_get(ed_pool *p, uint32_t need);
void ed_buffer_put(ed_buffer *b);
int ed_pool_max_in_use(ed_pool *p);

typedef struct ed_gate ed_gate;

typedef struct ed_channel {
    /* producer side */
    _Alignas(64) _Atomic uint32_t tail;
    ed_buffer *cur;
    /* consumer side */
    _Alignas(64) _Atomic uint32_t head;
    ed_buffer *rd;
    uint32_t rpos;
    int64_t watermark;
    bool ended;
    bool idle; /* its producer declared itself idle: left out of the watermark */
    bool blocked; /* its checkpoint barrier arrived: not read until the task is aligned */
    bool aligned; /* counts in the task's watermark (false while idle, and after resuming
                   * until its watermark has caught up with the task's) */
    int input; /* logical input index at the consumer's head operator */
    /* fixed */
    _Alignas(64) uint32_t mask;
    ed_buffer **ring;
    ed_gate *gate;
} ed_channel;

/* capacity: the most buffers ever in flight on it (its producer's pool size). */
void ed_channel_init(ed_channel *c, int capacity, ed_gate *gate, int input);
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
};

void ed_gate_init(ed_gate *g);
void ed_gate_destroy(ed_gate *g);
void ed_gate_add(ed_gate *g, ed_channel *c);
/* Wakes the gate's task if it sleeps. Any thread. */
void ed_gate_notify(ed_gate *g);
/* Sleeps until a channel has data, a notification arrives, or timeout_ns passes. */
void ed_gate_wait(ed_gate *g, int64_t timeout_ns);

#endif
