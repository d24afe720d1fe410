/*
 * timers.h - the timer service of a keyed operator: event-time and processing-time timers
 * per (key, namespace, time), deduplicated, firing in timestamp order.
 *
 * Each domain is a binary min-heap ordered by (time, insertion order), with a hash set
 * over (key, namespace, time) for deduplication and deletion; deleting marks the heap
 * entry dead and the pop skips it. Timers remember their key group: they are part of the
 * operator's keyed state and are snapshotted with it. One service per operator subtask,
 * used by its task thread only.
 */
#ifndef ED_TIMERS_H
#define ED_TIMERS_H

#include <eddy/time.h>

#include "../base/base.h"

typedef struct ed_timer {
    int64_t time;
    const uint8_t *key; /* valid until the next call on the service */
    uint32_t klen;
    int key_group;
    const uint8_t *ns;
    uint32_t nslen;
} ed_timer;

typedef struct ed_timer_service ed_timer_service;

ed_timer_service *ed_timers_new(void);
void ed_timers_free(ed_timer_service *t); /* accepts NULL */

/* Adds a timer unless the same (domain, key, namespace, time) exists. 0 or -1 (memory). */
int ed_timers_register(ed_timer_service *t, eddy_time_domain d, int64_t time,
                       const uint8_t *key, uint32_t klen, int key_group, const uint8_t *ns,
                       uint32_t nslen);
/* Adds a timer the caller knows is not registered, and will only pop (never delete or
 * move): no lookup, no index. It fires in the same order as a registered one. */
int ed_timers_add_unique(ed_timer_service *t, eddy_time_domain d, int64_t time,
                         const uint8_t *key, uint32_t klen, int key_group, const uint8_t *ns,
                         uint32_t nslen);
/* Removes such a timer if it exists. */
void ed_timers_delete(ed_timer_service *t, eddy_time_domain d, int64_t time,
                      const uint8_t *key, uint32_t klen, const uint8_t *ns, uint32_t nslen);
/* Moves the timer (d, key, old_ns, old_time) to (new_ns, new_time): the same as deleting
 * the old one and then registering the new one (which fires after timers registered
 * before it at that time), without making a new entry. When the old one does not exist
 * the new one is registered; when the new one exists already the old one is deleted.
 * Both namespaces have nslen bytes. 0 or -1 (memory). */
int ed_timers_move(ed_timer_service *t, eddy_time_domain d, const uint8_t *key, uint32_t klen,
                   int key_group, int64_t old_time, const uint8_t *old_ns, int64_t new_time,
                   const uint8_t *new_ns, uint32_t nslen);
/* A hint: the timer (d, key, ns, time) is about to be registered, deleted or moved, so
 * its place in the service is fetched into the cache now. Changes nothing. */
void ed_timers_prefetch(ed_timer_service *t, eddy_time_domain d, int64_t time,
                        const uint8_t *key, uint32_t klen, const uint8_t *ns, uint32_t nslen);
/* The earliest live timer of domain d if its time <= limit: removes it, fills *out and
 * returns true. Timers of equal time come out in the order they were registered. */
bool ed_timers_pop(ed_timer_service *t, eddy_time_domain d, int64_t limit, ed_timer *out);
/* A hint for prefetching the state of timers about to fire: the key of the timer `ahead`
 * places after the head of d's first queue of unique timers (0: the head), if there is
 * one. Changes nothing, and leaves the last pop's timer valid. */
bool ed_timers_peek_queued(const ed_timer_service *t, eddy_time_domain d, int ahead,
                           const uint8_t **key, uint32_t *klen);
/* The time of the earliest live timer of d, or INT64_MAX. */
int64_t ed_timers_next(ed_timer_service *t, eddy_time_domain d);
size_t ed_timers_count(ed_timer_service *t, eddy_time_domain d);

/* Calls fn with every live timer of domain d in firing order (time, then registration),
 * for snapshots; fn must not change the service. Returns fn's first non-zero result, 0,
 * or -1 when out of memory. */
typedef int (*ed_timer_fn)(const ed_timer *timer, void *arg);
int ed_timers_for_each(ed_timer_service *t, eddy_time_domain d, ed_timer_fn fn, void *arg);

#endif
