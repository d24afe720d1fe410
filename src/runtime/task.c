/*
 * task.c - the task's mailbox loop.
 *
 * One thread per task. Between buffers (never between records) the loop runs mails,
 * checks for cancellation and flushes partly filled output buffers whose timeout has
 * passed. A source task polls its source for a batch at a time; any other task reads
 * one input buffer at a time, round-robin over its channels, and hands each element to
 * the head of its chain:
 *
 *   RECORD     head->process(input, row, ts): the row is read in place in the buffer
 *   WATERMARK  the channel's watermark rises; the task's watermark is the minimum over
 *              channels that have not ended, and when it rises the chain sees it
 *   END        the channel is done; when every channel of an input is, that input ends
 *
 * When there is nothing to read the task pushes out what it has buffered (so a trickle
 * of records is not held back by the timeout) and sleeps on its gate. When every input
 * has ended, the chain ends in topological order, END goes to every output channel and
 * the operators close.
 *
 * After the barrier of a stop-with-savepoint (t->stop_id) a source polls no more and no
 * processing-time timer fires, until the savepoint is complete - a source then ends its
 * chain, without MAX_WATERMARK - or has failed, and the task goes on as before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/log.h"
#include "../checkpoint/coordinator.h"
#include "task.h"

#define ED_IDLE_WAIT_NS (100 * 1000000LL)
#define ED_STOP_WAIT_NS (10 * 1000000LL) /* a stopping source checks its savepoint */
#define ED_SOURCE_BATCH 512

void ed_task_post(ed_task *t, void (*fn)(ed_task *, void *), void *arg)
{
    ed_mail *m = ed_xmalloc(sizeof(*m));
    m->fn = fn;
    m->arg = arg;
    pthread_mutex_lock(&t->mail_mu);
    ed_mail **p = &t->mails;
    while (*p) p = &(*p)->next;
    m->next = NULL;
    *p = m;
    atomic_fetch_add(&t->gate.pending, 1);
    pthread_mutex_unlock(&t->mail_mu);
    ed_gate_notify(&t->gate);
}

static void run_mails(ed_task *t)
{
    if (!atomic_load_explicit(&t->gate.pending, memory_order_acquire)) return;
    pthread_mutex_lock(&t->mail_mu);
    ed_mail *m = t->mails;
    t->mails = NULL;
    atomic_store(&t->gate.pending, 0);
    pthread_mutex_unlock(&t->mail_mu);
    while (m) {
        ed_mail *next = m->next;
        m->fn(t, m->arg);
        free(m);
        m = next;
    }
}

static bool cancelled(ed_task *t)
{
    return atomic_load_explicit(&t->job->cancel, memory_order_relaxed);
}

/* Reports the operator that failed, or the task when none says why. */
static void task_failed(ed_task *t, const char *what)
{
    if (cancelled(t)) {
        /* a failure elsewhere cancelled us; a writer that gave up is not a new cause */
        bool any = false;
        for (int i = 0; i < t->nops; i++) any |= t->ops[i].err.set;
        if (!any) return;
    }
    for (int i = 0; i < t->nops; i++) {
        ed_operator *op = &t->ops[i];
        if (op->err.set) {
            ed_job_fail(t->job, "operator '%s' (subtask %d/%d) failed: %s", op->node->name,
                        t->subtask + 1, op->ctx.parallelism, op->err.msg);
            return;
        }
    }
    ed_job_fail(t->job, "task '%s' failed: %s", t->name, what);
}

static void flush_outputs(ed_task *t, int64_t now)
{
    for (int i = 0; i < t->nwriters; i++) ed_writer_flush(t->writers[i]);
    t->dirty = false;
    t->last_flush_ns = now;
}

static int flush_all(ed_task *t, int64_t now)
{
    for (int i = 0; i < t->nops; i++)
        if (t->ops[i].vt->flush && t->ops[i].vt->flush(&t->ops[i])) return -1;
    flush_outputs(t, now);
    return 0;
}

/*
 * The task's watermark and watermark status, as Flink's StatusWatermarkValve: the
 * watermark is the minimum over the aligned channels - those that are active, have not
 * ended, and, after coming back from idle, have caught up with the task's watermark (so
 * a returning input cannot pull time back or hold it up). When every live channel is
 * idle, the task is idle and its watermark advances to the maximum over its channels.
 * The watermark never goes back.
 */
static int output_watermark(ed_task *t, int64_t wm)
{
    if (wm <= t->watermark) return 0;
    t->watermark = wm;
    return ed_op_advance_watermark(&t->ops[0], wm);
}

static int output_status(ed_task *t, bool idle)
{
    if (idle == t->idle) return 0;
    t->idle = idle;
    ed_operator *head = &t->ops[0];
    return head->vt->on_idle ? head->vt->on_idle(head, idle) : ed_out_idle(&head->out, idle);
}

static int update_watermark(ed_task *t)
{
    int64_t min = INT64_MAX, max = INT64_MIN;
    bool any_live = false, any_active = false, any_aligned = false;
    for (int i = 0; i < t->gate.n; i++) {
        ed_channel *c = t->gate.ch[i];
        if (c->ended) continue;
        any_live = true;
        if (c->watermark > max) max = c->watermark;
        if (c->idle) continue;
        any_active = true;
        if (!c->aligned && c->watermark >= t->watermark) c->aligned = true;
        if (!c->aligned) continue;
        any_aligned = true;
        if (c->watermark < min) min = c->watermark;
    }
    if (any_live && !any_active) { /* all idle: time moves to the furthest input */
        if (output_watermark(t, max)) return -1;
        return output_status(t, true);
    }
    if (output_status(t, false)) return -1;
    return any_aligned ? output_watermark(t, min) : 0;
}

/* A channel's watermark status changed. */
static int channel_status(ed_task *t, ed_channel *c, bool idle)
{
    if (idle == c->idle) return 0;
    c->idle = idle;
    /* going idle leaves the minimum; coming back, it rejoins once it has caught up */
    c->aligned = !idle && c->watermark >= t->watermark;
    return update_watermark(t);
}

/* The earliest processing time at which an operator of the task has work, or INT64_MAX. */
static int64_t next_processing_time(ed_task *t)
{
    int64_t next = INT64_MAX;
    for (int i = 0; i < t->nops; i++) {
        int64_t n = ed_op_next_processing_time(&t->ops[i]);
        if (n < next) next = n;
    }
    return next;
}

/* Fires due processing-time timers and callbacks; returns the wait until the next one in
 * ns (capped), or -1 on failure. */
static int64_t run_processing_time(ed_task *t, int64_t cap_ns)
{
    int64_t next = next_processing_time(t);
    if (next == INT64_MAX) return cap_ns;
    int64_t now = t->job->clock->now_ms(t->job->clock);
    if (next <= now) {
        for (int i = 0; i < t->nops; i++)
            if (ed_op_fire_processing_time(&t->ops[i], now)) return -1;
        next = next_processing_time(t);
        if (next == INT64_MAX) return cap_ns;
    }
    int64_t wait = next > now ? (next - now) * 1000000 : 0;
    return wait < cap_ns ? wait : cap_ns;
}

/*
 * Barriers. A task collects the barriers of one checkpoint at a time (t->ckpt_id); each
 * channel remembers the newest barrier it delivered (c->bar_id), and the checkpoint is
 * complete here when every channel has delivered it or ended.
 *
 *   aligned (EXACTLY_ONCE)  a channel whose barrier came is blocked; when the last one
 *                           comes, the task sends the barrier on, snapshots, acknowledges
 *                           and reads every channel again
 *   AT_LEAST_ONCE           the same, without blocking
 *   unaligned               at the first barrier the task sends the barrier on at once
 *                           (overtaking its queued output) and snapshots; until each other
 *                           channel's barrier comes, what is read from it is recorded as
 *                           in-flight data (unaligned.c); then it acknowledges
 *
 * A barrier reaches the task in band, or - announced by its producer - ahead of the data
 * before it in the ring, when the checkpoint is (or may go) unaligned here: that data is
 * then recorded at once (barriers_ahead). With an aligned-checkpoint-timeout an aligned
 * checkpoint goes unaligned once it is that old (its barriers carry when it was
 * triggered). Savepoints are always aligned. A barrier of a newer checkpoint read on a
 * channel that delivered the current one, while the current one is still unaligned here,
 * waits: the channel is blocked behind it (held) until the current one is complete. A
 * newer barrier on a channel that did not deliver the current one means that checkpoint
 * was given up upstream: it is dropped here too.
 */
static bool exactly_once(const ed_task *t)
{
    return t->job->coord && ed_coord_exactly_once(t->job->coord);
}

/* Whether checkpoint id (triggered at ts) is to be taken unaligned at this task now. */
static bool unaligned_now(const ed_task *t, int64_t id, int64_t ts)
{
    const ed_job *job = t->job;
    if (!job->unaligned || ed_coord_is_savepoint(job->coord, id)) return false;
    return job->aligned_timeout_ms <= 0 ||
           job->clock->now_ms(job->clock) - ts >= job->aligned_timeout_ms;
}

static void unblock_all(ed_task *t)
{
    for (int i = 0; i < t->gate.n; i++) {
        ed_channel *c = t->gate.ch[i];
        if (!c->held_id) c->blocked = false;
        c->recording = false;
    }
}

static int barrier_arrived(ed_task *t, ed_channel *c, int64_t id, int64_t ts,
                           const ed_ua_pos *ahead);

/* Delivers again the barriers that waited behind the checkpoint that was current. */
static int release_held(ed_task *t)
{
    for (int i = 0; i < t->gate.n; i++) {
        ed_channel *c = t->gate.ch[i];
        if (!c->held_id) continue;
        int64_t id = c->held_id, ts = c->held_ts;
        c->held_id = 0;
        c->blocked = false;
        if (barrier_arrived(t, c, id, ts, NULL) < 0) return -1;
    }
    return 0;
}

/* When every channel has delivered the current checkpoint's barrier (or ended), the task
 * takes its part of it: snapshot and acknowledgement (aligned), or the in-flight data
 * and the acknowledgement (unaligned). */
static int check_complete(ed_task *t)
{
    if (!t->ckpt_id || t->ckpt_over) return 0;
    for (int i = 0; i < t->gate.n; i++) {
        const ed_channel *c = t->gate.ch[i];
        if (!c->ended && c->bar_id < t->ckpt_id) return 0;
    }
    t->ckpt_over = true;
    unblock_all(t);
    if (!t->ckpt_done) {
        t->ckpt_done = true;
        if (ed_task_checkpoint(t, t->ckpt_id)) return -1;
    } else {
        ed_ua_complete(t);
    }
    return release_held(t);
}

/* The current checkpoint goes unaligned here: snapshot now, barrier on (announced),
 * record the channels whose barrier has not come. */
static int go_unaligned(ed_task *t)
{
    int64_t id = t->ckpt_id;
    t->ckpt_done = true;
    t->ckpt_unaligned = true;
    ed_strbuf lines;
    ed_sb_init(&lines);
    int rc = ed_task_snapshot(t, id, true, &lines);
    if (rc == 0) {
        ed_ua_begin(t, id, &lines);
        for (int i = 0; i < t->gate.n; i++) {
            ed_channel *c = t->gate.ch[i];
            c->blocked = false; /* aligned until now (the timeout passed) */
            c->recording = !c->ended && c->bar_id < id;
        }
        t->la_force = true; /* look for the others' barriers ahead */
    } else {
        t->ckpt_over = true; /* declined (the barrier went on all the same) */
        unblock_all(t);
    }
    ed_sb_free(&lines);
    return rc < 0 ? -1 : 0;
}

/*
 * Barrier id (triggered at ts) has come on c: in band, the channel read up to just past
 * it, or seen ahead (at `ahead`, the data before it not read yet). 1 when c must not be
 * read further now, 0, or -1 when the task fails.
 */
static int barrier_arrived(ed_task *t, ed_channel *c, int64_t id, int64_t ts,
                           const ed_ua_pos *ahead)
{
    if (id <= c->bar_id) return 0; /* seen ahead already */
    if (id < t->ckpt_id || (id == t->ckpt_id && t->ckpt_over)) {
        c->bar_id = id; /* stale */
        return 0;
    }
    bool dropped = false;
    if (id > t->ckpt_id) {
        if (t->ckpt_id && !t->ckpt_over && t->ckpt_unaligned && c->bar_id == t->ckpt_id) {
            ed_assert(!ahead);
            c->held_id = id; /* waits until the current checkpoint is complete here */
            c->held_ts = ts;
            c->blocked = true;
            return 1;
        }
        /* the current checkpoint, if not over, cannot complete: c skipped it */
        dropped = t->ckpt_id && !t->ckpt_over;
        ed_ua_free(t);
        unblock_all(t);
        t->ckpt_id = id;
        t->ckpt_ts = ts;
        t->ckpt_done = t->ckpt_unaligned = t->ckpt_over = false;
    }
    c->bar_id = id;
    c->recording = false;
    if (!t->ckpt_done && exactly_once(t)) {
        if (unaligned_now(t, id, ts)) {
            if (go_unaligned(t)) return -1;
        } else {
            c->blocked = true;
            if (t->job->unaligned && !ed_coord_is_savepoint(t->job->coord, id) &&
                ts + t->job->aligned_timeout_ms < t->la_due)
                t->la_due = ts + t->job->aligned_timeout_ms; /* it goes unaligned then */
        }
    }
    if (ahead && t->ua) ed_ua_record_ahead(t, c, ahead); /* data the barrier overtook */
    if (check_complete(t)) return -1;
    if (dropped && release_held(t)) return -1; /* barriers that waited behind the dropped one */
    return c->blocked ? 1 : 0;
}

/*
 * Unaligned checkpoints: looks for announced barriers ahead in the channels (after a
 * producer announced one, or when an aligned checkpoint's timeout has passed). Between
 * buffers; costs one atomic load per buffer when nothing is announced.
 */
static int barriers_ahead(ed_task *t)
{
    ed_job *job = t->job;
    uint32_t a = atomic_load_explicit(&t->gate.announce, memory_order_acquire);
    bool due = false;
    if (t->la_due != INT64_MAX) due = job->clock->now_ms(job->clock) >= t->la_due;
    if (a == t->la_seen && !due && !t->la_force) return 0;
    t->la_seen = a;
    t->la_force = false;
    t->la_due = INT64_MAX;
    if (!exactly_once(t)) return 0;
    /* an aligned checkpoint whose alignment timed out */
    if (t->ckpt_id && !t->ckpt_done && !t->ckpt_over) {
        if (unaligned_now(t, t->ckpt_id, t->ckpt_ts)) {
            if (go_unaligned(t)) return -1;
        } else if (job->unaligned && !ed_coord_is_savepoint(job->coord, t->ckpt_id)) {
            t->la_due = t->ckpt_ts + job->aligned_timeout_ms;
        }
    }
    for (int i = 0; i < t->gate.n; i++) {
        ed_channel *c = t->gate.ch[i];
        if (c->ended || c->blocked) continue;
        if (atomic_load_explicit(&c->announced, memory_order_acquire) <= c->bar_id) continue;
        ed_ua_pos pos;
        if (!ed_ua_find_barrier(c, &pos)) continue;
        bool current = pos.id == t->ckpt_id && t->ckpt_unaligned && !t->ckpt_over;
        bool next = pos.id > t->ckpt_id && (!t->ckpt_id || t->ckpt_over);
        if (current || (next && unaligned_now(t, pos.id, pos.ts))) {
            if (barrier_arrived(t, c, pos.id, pos.ts, &pos) < 0) return -1;
        } else if (next && job->unaligned && !ed_coord_is_savepoint(job->coord, pos.id)) {
            int64_t at = pos.ts + job->aligned_timeout_ms; /* it may go unaligned then */
            if (at < t->la_due) t->la_due = at;
        }
    }
    return 0;
}

/* The task's wait is cut short when an aligned checkpoint's timeout comes. */
static int64_t barriers_ahead_wait(const ed_task *t, int64_t wait_ns)
{
    if (t->la_due == INT64_MAX) return wait_ns;
    int64_t left = (t->la_due - t->job->clock->now_ms(t->job->clock)) * 1000000;
    if (left < 1000000) left = 1000000;
    return left < wait_ns ? left : wait_ns;
}

static int channel_ended(ed_task *t, ed_channel *c)
{
    c->ended = true;
    c->recording = false;
    t->nended++;
    if (check_complete(t)) return -1;
    if (++t->input_ended[c->input] == t->input_channels[c->input]) {
        ed_operator *head = &t->ops[0];
        if (head->vt->end_input && head->vt->end_input(head, c->input)) return -1;
    }
    return update_watermark(t);
}

/* How far ahead the task reads for the head operator's prefetch (ed_op_vt.prefetch), in
 * records: the table slot three ahead, the entry it points to one ahead. Measured with
 * bench/window.c; reading further ahead was no faster. */
enum { LOOK_AHEAD_SLOT = 3, LOOK_AHEAD_ENTRY = 1 };

/* Moves a look-ahead cursor one element on (not past end) and tells the operator about
 * the record it lands on. */
static inline const uint8_t *look_ahead(ed_operator *head, void (*prefetch)(ed_operator *, uint32_t, int),
                                        const uint8_t *q, const uint8_t *end, int stage)
{
    if (q >= end) return q;
    q += ed_el_len(q, end);
    if (q < end && ed_el_tag(q) == ED_EL_RECORD_KEYED) prefetch(head, ed_el_hash(q), stage);
    return q;
}

/* Processes one buffer of one channel. >0: elements handled; 0: nothing to read. */
static int read_one_buffer(ed_task *t)
{
    ed_gate *g = &t->gate;
    ed_operator *head = &t->ops[0];
    for (int k = 0; k < g->n; k++) {
        int i = g->next + k;
        if (i >= g->n) i -= g->n;
        ed_channel *c = g->ch[i];
        if (c->ended || c->blocked) continue;
        ed_buffer *b = c->rd ? c->rd : ed_channel_peek(c);
        if (!b) continue;
        c->rd = b;
        g->next = i + 1 == g->n ? 0 : i + 1;
        int n = 0;
        const uint8_t *p = b->data + c->rpos, *end = b->data + b->len;
        /* an unaligned checkpoint records what it reads before the channel's barrier */
        bool rec = c->recording;
        const uint8_t *rec_from = p;
        void (*prefetch)(ed_operator *, uint32_t, int) = head->vt->prefetch;
        /* two cursors run ahead of p: la names records whose table slot the operator
         * fetches, lb (nearer) records whose entry it fetches through that slot */
        const uint8_t *la = p, *lb = p;
        if (prefetch) {
            for (int j = 0; j < LOOK_AHEAD_SLOT; j++) la = look_ahead(head, prefetch, la, end, 0);
            for (int j = 0; j < LOOK_AHEAD_ENTRY; j++) lb = look_ahead(head, prefetch, lb, end, 1);
        }
        while (p < end) {
            uint32_t len = ed_el_len(p, end);
            int tag = ed_el_tag(p);
            n++;
            if (ED_LIKELY(ed_el_is_record(tag))) {
                int64_t ts;
                memcpy(&ts, p + 8, 8);
                /* the key's hash, for ed_op_set_key_from_row */
                head->in_key_hash = tag == ED_EL_RECORD_KEYED ? ED_KEY_HASH_GIVEN | ed_el_hash(p) : 0;
                if (prefetch) { /* the state of records further on, while this one runs */
                    la = look_ahead(head, prefetch, la, end, 0);
                    lb = look_ahead(head, prefetch, lb, end, 1);
                }
                head->records_in++;
                if (ED_UNLIKELY(head->vt->process(head, c->input, (const eddy_row *)(p + 16), ts))) {
                    c->rpos = (uint32_t)(p + len - b->data);
                    return -1;
                }
            } else if (tag == ED_EL_WATERMARK) {
                int64_t wm;
                memcpy(&wm, p + 8, 8);
                if (wm > c->watermark) {
                    c->watermark = wm;
                    if (update_watermark(t)) return -1;
                }
            } else if (tag == ED_EL_STATUS) {
                int64_t idle;
                memcpy(&idle, p + 8, 8);
                if (channel_status(t, c, idle != 0)) return -1;
            } else if (tag == ED_EL_BARRIER) {
                int64_t id, ts;
                memcpy(&id, p + 8, 8);
                memcpy(&ts, p + 16, 8);
                if (rec) ed_ua_record(t, c, rec_from, p);
                int r = barrier_arrived(t, c, id, ts, NULL);
                if (r < 0) return -1;
                rec = c->recording; /* a barrier may start or end the recording of any channel */
                rec_from = p + len;
                if (r > 0) { /* aligned, or held: the rest of this buffer waits */
                    c->rpos = (uint32_t)(p + len - b->data);
                    return n;
                }
            } else if (tag == ED_EL_END) {
                if (rec) ed_ua_record(t, c, rec_from, p);
                rec = false;
                if (channel_ended(t, c)) return -1;
            } else {
                ed_assert(!"unknown element tag");
            }
            p += len;
        }
        if (rec) ed_ua_record(t, c, rec_from, end);
        c->rd = NULL;
        c->rpos = 0;
        ed_channel_pop(c);
        ed_buffer_put(b);
        return n ? n : 1;
    }
    return 0;
}

int ed_task_open(ed_task *t)
{
    /* downstream first, so that nothing emits into an operator that is not open */
    for (int i = t->nops - 1; i >= 0; i--) {
        ed_operator *op = &t->ops[i];
        if (op->vt->open && op->vt->open(op, &op->err)) return -1;
    }
    /* state comes back before the user's open functions read it (Flink's initializeState) */
    if (t->job->restore) {
        ed_err err = {0};
        if (ed_task_restore(t, &err)) {
            atomic_store(&t->job->restore_failed, true);
            ed_job_fail(t->job, "%s", err.msg);
            return -1;
        }
    }
    for (int i = t->nops - 1; i >= 0; i--) {
        ed_operator *op = &t->ops[i];
        if (op->node->open_fn.name || op->node->open_fn.ptr) {
            eddy_open_fn f = (eddy_open_fn)ed_op_resolve(op, &op->node->open_fn);
            if (!f) return -1;
            if (f(&op->ctx)) {
                if (!op->err.set) ed_op_fail(op, "open function '%s' failed", op->node->open_fn.name);
                return -1;
            }
        }
    }
    return 0;
}

void ed_task_close(ed_task *t)
{
    for (int i = 0; i < t->nops; i++) {
        ed_operator *op = &t->ops[i];
        if (op->node->close_fn.name || op->node->close_fn.ptr) {
            eddy_close_fn f = (eddy_close_fn)ed_op_resolve(op, &op->node->close_fn);
            if (f) f(&op->ctx);
        }
        if (op->vt->close) op->vt->close(op);
    }
}

/* The end of bounded input: the chain ends in topological order, then the channels. */
static int end_chain(ed_task *t)
{
    t->now_ms = 0;
    for (int i = 1; i < t->nops; i++) {
        ed_operator *op = &t->ops[i];
        if (op->vt->end_input && op->vt->end_input(op, 0)) return -1;
    }
    for (int i = 0; i < t->nwriters; i++)
        if (ed_writer_broadcast_element(t->writers[i], ED_EL_END, 0)) return -1;
    return flush_all(t, ed_mono_ns());
}

static int run_source(ed_task *t)
{
    ed_operator *head = &t->ops[0];
    for (;;) {
        t->now_ms = 0;
        if (cancelled(t)) return 0;
        run_mails(t);
        if (t->stop_id) { /* past a stop-with-savepoint's barrier: emit nothing more */
            int st = ed_task_stop_state(t);
            if (st == ED_SAVEPOINT_COMPLETED) return end_chain(t); /* no MAX_WATERMARK */
            if (st == ED_SAVEPOINT_PENDING) {
                ed_gate_wait(&t->gate, ED_STOP_WAIT_NS);
                continue;
            }
        }
        int64_t pt_wait = run_processing_time(t, ED_IDLE_WAIT_NS);
        if (pt_wait < 0) return -1;
        ed_poll_result r = head->vt->poll(head, ED_SOURCE_BATCH);
        if (r == ED_POLL_ERROR) return -1;
        if (r == ED_POLL_END) break;
        int64_t now = ed_mono_ns();
        if (r == ED_POLL_IDLE) {
            if (flush_all(t, now)) return -1;
            int64_t wait = head->wake_ns - now;
            if (wait > pt_wait) wait = pt_wait;
            ed_gate_wait(&t->gate, wait);
        } else if (t->dirty && now - t->last_flush_ns >= t->buffer_timeout_ns) {
            flush_outputs(t, now);
        }
    }
    /* a finished source holds back no event time */
    if (ed_out_watermark(&head->out, ED_WATERMARK_MAX)) return -1;
    return end_chain(t);
}

static int run_inputs(ed_task *t)
{
    while (t->nended < t->gate.n) {
        t->now_ms = 0;
        if (cancelled(t)) return 0;
        run_mails(t);
        /* past a stop-with-savepoint's barrier no timer fires: the job ends at that barrier */
        bool stopping = t->stop_id && ed_task_stop_state(t) != ED_SAVEPOINT_FAILED;
        int64_t pt_wait = stopping ? ED_IDLE_WAIT_NS : run_processing_time(t, ED_IDLE_WAIT_NS);
        if (pt_wait < 0) return -1;
        if (ED_UNLIKELY(t->job->unaligned) && barriers_ahead(t)) return -1;
        int r = read_one_buffer(t);
        if (r < 0) return -1;
        int64_t now = ed_mono_ns();
        if (r == 0) {
            if (flush_all(t, now)) return -1;
            if (ED_UNLIKELY(t->job->unaligned)) pt_wait = barriers_ahead_wait(t, pt_wait);
            ed_gate_wait(&t->gate, pt_wait);
        } else if (t->dirty && now - t->last_flush_ns >= t->buffer_timeout_ns) {
            flush_outputs(t, now);
        }
    }
    return end_chain(t);
}

static void log_counts(ed_task *t)
{
    if (!ed_log_on(ED_INFO, "runtime")) return;
    for (int i = 0; i < t->nops; i++) {
        ed_operator *op = &t->ops[i];
        ed_log(ED_INFO, "runtime", "operator '%s' (%d/%d): %llu records in, %llu out",
               op->node->name, t->subtask + 1, op->ctx.parallelism,
               (unsigned long long)op->records_in, (unsigned long long)op->out.count);
    }
}

/* A task whose operators had all finished in the checkpoint the job starts from runs none
 * of them: its outputs end at once. */
static void run_restored_finished(ed_task *t)
{
    int rc = 0;
    for (int i = 0; i < t->nwriters && !rc; i++)
        rc = ed_writer_broadcast_element(t->writers[i], ED_EL_END, 0);
    for (int i = 0; i < t->nwriters; i++) ed_writer_flush(t->writers[i]);
    if (rc || cancelled(t)) return;
    ed_log(ED_INFO, "runtime", "task '%s' had finished: it starts finished", t->name);
    ed_task_finished(t);
    if (t->job->coord && !t->job->after_finish) ed_coord_stop(t->job->coord);
}

static void *task_main(void *arg)
{
    ed_task *t = arg;
    if (t->restored_finished) {
        run_restored_finished(t);
        return NULL;
    }
    t->last_flush_ns = ed_mono_ns();
    int rc = ed_task_open(t);
    if (rc == 0) rc = t->ops[0].vt->poll ? run_source(t) : run_inputs(t);
    if (rc) task_failed(t, "processing failed");
    bool ok = rc == 0 && !cancelled(t);
    ed_ua_free(t);
    ed_job *job = t->job;
    /* with checkpoints after tasks finish, the task's part in checkpoints goes on (its own
     * state taken before its operators close); without, a finishing job takes no more
     * checkpoints (those pending are aborted) */
    if (ok) ed_task_finished(t);
    ed_task_close(t);
    if (job->coord && !(ok && job->after_finish)) ed_coord_stop(job->coord);
    if (ok) log_counts(t);
    return NULL;
}

int ed_task_start(ed_task *t) { return pthread_create(&t->thread, NULL, task_main, t); }

ed_operator *ed_task_operator(ed_task *t, int node_id)
{
    for (int i = 0; i < t->nops; i++)
        if (t->ops[i].node->id == node_id) return &t->ops[i];
    return NULL;
}

bool ed_task_has_error(const ed_task *t)
{
    for (int i = 0; i < t->nops; i++)
        if (t->ops[i].err.set) return true;
    return false;
}
