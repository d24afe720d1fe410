/*
 * channel.c - buffer pools, SPSC channels and gates (see channel.h for the picture).
 *
 * Waking a sleeping consumer without a lost wake-up: the consumer publishes
 * `sleeping = 1` and then re-checks its channels; the producer publishes the new tail
 * and then reads `sleeping`. Both sides use sequentially consistent operations, so at
 * least one of them sees the other's write: either the consumer finds the buffer, or
 * the producer signals. The signal itself is sent under the gate's mutex, which the
 * consumer holds from its re-check until it waits.
 */
#include "channel.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t buffer_stride(uint32_t seg) { return ED_ALIGN8(sizeof(ed_buffer) + seg); }

/* Before sleeping on an empty pool or an empty gate a thread spins this long: a
 * consumer on another core usually hands a buffer back within microseconds, and a
 * futex wake per buffer would cost more than the wait. A process allowed one CPU does
 * not spin: the other side cannot run while it does. */
#define ED_SPIN_NS 20000

int ed_cpus_allowed(void)
{
    cpu_set_t set;
    return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

static int64_t spin_budget_ns(void) { return ed_cpus_allowed() <= 1 ? 0 : ED_SPIN_NS; }

/* A thread that does not spin yields its CPU a few times before sleeping: the task it
 * waits for is then likely to run at once on that CPU, without the futex wake-up and the
 * timer that a sleep costs (on two cores, q5 at p=2 8.7 M -> 9.7 M events/s). */
#define ED_YIELDS 8

int ed_pool_init(ed_pool *p, int n, uint32_t seg, const _Atomic bool *cancel)
{
    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->size = n;
    p->seg = seg;
    p->cancel = cancel;
    p->spin_ns = spin_budget_ns();
    if (n == 0) return 0;
    size_t stride = buffer_stride(seg);
    p->mem = aligned_alloc(64, ((stride * (size_t)n) + 63) & ~(size_t)63);
    if (!p->mem) return -1;
    for (int i = n - 1; i >= 0; i--) {
        ed_buffer *b = (ed_buffer *)((char *)p->mem + stride * (size_t)i);
        b->pool = p;
        b->cap = seg;
        b->len = 0;
        b->next = p->free;
        p->free = b;
    }
    atomic_store(&p->nfree, n);
    return 0;
}

void ed_pool_destroy(ed_pool *p)
{
    if (!p) return;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->mem);
    p->mem = NULL;
}

static void deadline_in(struct timespec *ts, int64_t ns)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_nsec += ns % 1000000000;
    ts->tv_sec += ns / 1000000000 + ts->tv_nsec / 1000000000;
    ts->tv_nsec %= 1000000000;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

ed_buffer *ed_buffer_new(uint32_t cap)
{
    ed_buffer *b = malloc(sizeof(ed_buffer) + cap);
    if (!b) return NULL;
    b->pool = NULL;
    b->cap = cap;
    b->len = 0;
    b->next = NULL;
    return b;
}

ed_buffer *ed_pool_get(ed_pool *p, uint32_t need)
{
    /* A record larger than a buffer travels alone in a one-off buffer. */
    if (ED_UNLIKELY(need > p->seg)) return ed_buffer_new(need);
    if (!atomic_load_explicit(&p->nfree, memory_order_relaxed) && !p->spin_ns)
        for (int i = 0; i < ED_YIELDS && !atomic_load_explicit(&p->nfree, memory_order_relaxed); i++)
            sched_yield();
    if (!atomic_load_explicit(&p->nfree, memory_order_relaxed) && p->spin_ns) {
        int64_t until = ed_mono_ns() + p->spin_ns;
        while (!atomic_load_explicit(&p->nfree, memory_order_relaxed) && ed_mono_ns() < until)
            for (int i = 0; i < 64; i++) cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    while (!p->free) {
        if (atomic_load_explicit(p->cancel, memory_order_relaxed)) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        struct timespec ts;
        deadline_in(&ts, 50 * 1000000LL);
        p->waiters++;
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        p->waiters--;
    }
    ed_buffer *b = p->free;
    p->free = b->next;
    atomic_fetch_sub_explicit(&p->nfree, 1, memory_order_relaxed);
    if (++p->in_use > p->max_in_use) p->max_in_use = p->in_use;
    pthread_mutex_unlock(&p->mu);
    b->len = 0;
    b->next = NULL;
    return b;
}

void ed_buffer_put(ed_buffer *b)
{
    ed_pool *p = b->pool;
    if (!p) {
        free(b);
        return;
    }
    pthread_mutex_lock(&p->mu);
    b->next = p->free;
    p->free = b;
    atomic_fetch_add_explicit(&p->nfree, 1, memory_order_relaxed);
    p->in_use--;
    if (p->waiters) pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

int ed_pool_max_in_use(ed_pool *p)
{
    pthread_mutex_lock(&p->mu);
    int m = p->max_in_use;
    pthread_mutex_unlock(&p->mu);
    return m;
}

void ed_channel_init(ed_channel *c, int capacity, ed_gate *gate, int input)
{
    memset(c, 0, sizeof(*c));
    uint32_t cap = 2;
    while (cap < (uint32_t)capacity + 1 + ED_RING_SPARE) cap <<= 1;
    c->mask = cap - 1;
    c->ring = ed_xcalloc(cap, sizeof(ed_buffer *));
    c->gate = gate;
    c->input = input;
    c->watermark = INT64_MIN;
    c->aligned = true;
}

void ed_channel_reserve(ed_channel *c, int extra)
{
    uint32_t head = atomic_load(&c->head), tail = atomic_load(&c->tail);
    uint32_t used = tail - head, cap = c->mask + 1, want = cap + (uint32_t)extra;
    if (want <= cap) return;
    uint32_t ncap = cap;
    while (ncap < want) ncap <<= 1;
    ed_buffer **ring = ed_xcalloc(ncap, sizeof(ed_buffer *));
    for (uint32_t i = 0; i < used; i++) ring[i] = c->ring[(head + i) & c->mask];
    free(c->ring);
    c->ring = ring;
    c->mask = ncap - 1;
    atomic_store(&c->head, 0);
    atomic_store(&c->tail, used);
}

void ed_channel_destroy(ed_channel *c)
{
    if (!c->ring) return;
    if (c->rd) {
        /* the consumer holds rd, which is still in the ring at head */
        c->rd = NULL;
    }
    ed_buffer *b;
    while ((b = ed_channel_peek(c))) {
        ed_channel_pop(c);
        ed_buffer_put(b);
    }
    if (c->cur) ed_buffer_put(c->cur);
    c->cur = NULL;
    free(c->ring);
    c->ring = NULL;
}

void ed_channel_push(ed_channel *c, ed_buffer *b)
{
    uint32_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
    ed_assert(t - atomic_load_explicit(&c->head, memory_order_acquire) <= c->mask);
    c->ring[t & c->mask] = b;
    atomic_store_explicit(&c->tail, t + 1, memory_order_seq_cst);
    ed_gate_notify(c->gate);
}

void ed_gate_init(ed_gate *g)
{
    memset(g, 0, sizeof(*g));
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->spin_ns = spin_budget_ns();
}

void ed_gate_destroy(ed_gate *g)
{
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g->ch);
    g->ch = NULL;
}

void ed_gate_add(ed_gate *g, ed_channel *c)
{
    g->ch = ed_xrealloc(g->ch, sizeof(ed_channel *) * (size_t)(g->n + 1));
    c->index = g->n;
    g->ch[g->n++] = c;
}

void ed_gate_notify(ed_gate *g)
{
    if (atomic_load_explicit(&g->sleeping, memory_order_seq_cst)) {
        pthread_mutex_lock(&g->mu);
        pthread_cond_signal(&g->cv);
        pthread_mutex_unlock(&g->mu);
    }
}

static bool gate_has_data(ed_gate *g)
{
    if (atomic_load_explicit(&g->pending, memory_order_seq_cst)) return true;
    for (int i = 0; i < g->n; i++) {
        ed_channel *c = g->ch[i];
        if (c->blocked) continue;
        if (c->rd) return true;
        if (atomic_load_explicit(&c->head, memory_order_relaxed) !=
            atomic_load_explicit(&c->tail, memory_order_seq_cst))
            return true;
    }
    return false;
}

void ed_gate_wait(ed_gate *g, int64_t timeout_ns)
{
    if (timeout_ns <= 0) return;
    if (!g->spin_ns && timeout_ns > ED_SPIN_NS) /* (not a source's wait for its next event) */
        for (int i = 0; i < ED_YIELDS; i++) {
            if (gate_has_data(g)) return;
            sched_yield();
        }
    int64_t until = ed_mono_ns() + (timeout_ns < g->spin_ns ? timeout_ns : g->spin_ns);
    do {
        if (gate_has_data(g)) return;
        for (int i = 0; i < 64 && g->spin_ns; i++) cpu_relax();
    } while (ed_mono_ns() < until);
    pthread_mutex_lock(&g->mu);
    atomic_store_explicit(&g->sleeping, 1, memory_order_seq_cst);
    if (!gate_has_data(g)) {
        struct timespec ts;
        deadline_in(&ts, timeout_ns);
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    }
    atomic_store_explicit(&g->sleeping, 0, memory_order_relaxed);
    pthread_mutex_unlock(&g->mu);
}
