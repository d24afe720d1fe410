/*
 * keyed.c - the keyed context of operators: current key, state, timers and time.
 *
 * Before a keyed operator handles a record it makes the record's key current
 * (ed_op_set_key_from_row): the key bytes are written once, hashed into their key group,
 * and handed to the state backend, so every state access and timer registration in the
 * user's function is scoped to that key without another lookup of it. Firing a timer
 * makes the timer's key and namespace current the same way.
 *
 * Watermarks advance operator by operator (ed_op_advance_watermark): an operator first
 * fires its event-time timers up to the watermark, in timestamp order, then forwards the
 * watermark. Processing-time timers fire from the task's loop when the job's clock
 * passes them (ed_op_fire_processing_time).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../base/log.h"
#include "../state/rocks.h"
#include "operators.h"

/* The state layer tells which call failed; a user function that then returns an error
 * without saying why is reported with it. */
static void note_state_error(eddy_ctx *ctx, const char *msg)
{
    snprintf(ctx->op->note, sizeof ctx->op->note, "%s", msg);
}

/* The storage under the state failed: the job fails (and restarts from a checkpoint). */
static void state_storage_failed(eddy_ctx *ctx, const char *msg)
{
    ed_operator *op = ctx->op;
    ed_job_fail(op->task->job, "operator '%s' (subtask %d/%d) failed: %s", op->node->name,
                op->ctx.subtask + 1, op->ctx.parallelism, msg);
}

__attribute__((constructor)) static void install_state_hook(void)
{
    ed_state_error_hook = note_state_error;
    ed_state_fatal_hook = state_storage_failed;
}

/* Processing time as the record's buffer began: the records of a buffer come within
 * microseconds of each other, and a clock read per record would cost more than the
 * record. A substituted (manual) clock is read every time. */
int64_t ed_op_now(const ed_operator *op)
{
    ed_task *t = op->task;
    if (t->now_ms) return t->now_ms;
    ed_clock *c = t->job->clock;
    int64_t now = c->now_ms(c);
    if (c == ed_clock_system()) t->now_ms = now;
    return now;
}

/* Sets up the key extraction of input `input` from the node's keying. */
static int keying_init(ed_operator *op, ed_keyed *k, int input, const ed_keying *ki,
                       const eddy_schema *in_schema, ed_err *err)
{
    if (ki->key_fn.name || ki->key_fn.ptr) {
        k->key_fn[input] = (eddy_key_fn)ed_op_resolve(op, &ki->key_fn);
        if (!k->key_fn[input]) return ed_err_set(err, "%s", op->err.msg);
        ed_keyspec_all(&k->ks[input], ki->key_schema);
        k->sel_rb[input] = eddy_rb_new_schema(ki->key_schema);
        if (input == 0) k->key_schema = eddy_schema_copy(ki->key_schema);
        return 0;
    }
    if (ed_keyspec_parse(&k->ks[input], in_schema, ki->fields, err)) return -1;
    if (input == 0) k->key_schema = ed_keyspec_schema(&k->ks[0], in_schema);
    return 0;
}

/* state.backend.type: the heap backend as it is, or RocksDB under it. */
static int open_backend(ed_operator *op, ed_state_backend *b, ed_err *err)
{
    const ed_config *cfg = ed_op_config(op);
    const char *type = cfg ? ed_config_get(cfg, "state.backend.type") : NULL;
    if (!type || !*type || !strcasecmp(type, "hashmap")) return 0;
    if (strcasecmp(type, "rocksdb"))
        return ed_err_set(err, "state.backend.type: '%s' is neither hashmap nor rocksdb", type);
    const char *ratio = ed_config_get(cfg, "state.backend.rocksdb.memory.write-buffer-ratio");
    char *end = NULL;
    double wbr = ratio && *ratio ? strtod(ratio, &end) : 0.5;
    if (ratio && *ratio && (*end || wbr <= 0 || wbr >= 1))
        return ed_err_set(err,
                          "state.backend.rocksdb.memory.write-buffer-ratio: '%s' is not a number "
                          "between 0 and 1",
                          ratio);
    char name[256];
    snprintf(name, sizeof name, "%s-%d", op->node->uid ? op->node->uid : op->node->name,
             op->ctx.subtask);
    ed_rocks_options o = {
        .local_dir = ed_config_get(cfg, "state.backend.rocksdb.localdir"),
        .name = name,
        .memory = (size_t)ed_config_get_bytes(cfg, "state.backend.rocksdb.memory.fixed-per-slot",
                                              128 << 20),
        .write_buffer_ratio = wbr,
    };
    if (ed_state_backend_use_rocksdb(b, &o, err)) return -1;
    ed_log(ED_DEBUG, "state", "operator '%s' keeps its keyed state in RocksDB at %s",
           op->node->name, ed_state_backend_rocksdb_dir(b));
    return 0;
}

int ed_op_keyed_init(ed_operator *op, ed_err *err)
{
    const ed_node *n = op->node;
    ed_job *job = op->task->job;
    ed_keyed *k = ed_xcalloc(1, sizeof(*k));
    op->keyed = k;
    const ed_jinput_list *l = &job->jg.inputs[n->id];
    const eddy_schema *in[2] = {NULL, NULL};
    for (int i = 0; i < l->n; i++)
        if (l->v[i].input < 2 && !in[l->v[i].input])
            in[l->v[i].input] = job->sg->nodes[l->v[i].from]->schema;
    if (keying_init(op, k, 0, &n->keying, in[0], err)) return -1;
    if (n->keying2.keyed && keying_init(op, k, 1, &n->keying2, in[1], err)) return -1;
    ed_keyspec_all(&k->key_types, k->key_schema);
    k->key_row = eddy_rb_new_schema(k->key_schema);
    k->kcap = 64;
    k->key = ed_xmalloc(k->kcap);
    k->kg_mod = ed_fastmod_init((uint32_t)op->ctx.max_parallelism);
    k->backend = ed_state_backend_new(op->ctx.max_parallelism, job->clock, &op->ctx);
    k->timers = ed_timers_new();
    if (!k->backend || !k->timers) return ed_err_set(err, "out of memory for keyed state");
    return open_backend(op, k->backend, err);
}

void ed_op_keyed_free(ed_operator *op)
{
    ed_keyed *k = op->keyed;
    if (!k) return;
    for (int i = 0; i < 2; i++) eddy_rb_free(k->sel_rb[i]);
    eddy_schema_free(k->key_schema);
    eddy_rb_free(k->key_row);
    free(k->key);
    ed_state_backend_free(k->backend);
    ed_timers_free(k->timers);
    free(k);
    op->keyed = NULL;
}

static void set_key(ed_keyed *k, size_t len, int kg)
{
    k->klen = (uint32_t)len;
    k->key_group = kg;
    k->key_row_valid = false;
}

int ed_op_set_key_from_row(ed_operator *op, int input, const eddy_row *row)
{
    ed_keyed *k = op->keyed;
    ed_assert(k && input >= 0 && input < 2);
    const eddy_row *src = row;
    if (k->key_fn[input]) {
        eddy_rb_reset(k->sel_rb[input]);
        if (k->key_fn[input](&op->ctx, row, k->sel_rb[input]) < 0) {
            if (!op->err.set) ed_op_fail(op, "key selector failed");
            return -1;
        }
        src = eddy_rb_row(k->sel_rb[input]);
    }
    size_t len = ed_key_write(&k->ks[input], src, k->key, k->kcap);
    if (ED_UNLIKELY(len > k->kcap)) {
        k->kcap = (uint32_t)(len * 2);
        k->key = ed_xrealloc(k->key, k->kcap);
        len = ed_key_write(&k->ks[input], src, k->key, k->kcap);
    }
    uint32_t h;
    if (op->in_key_hash) { /* computed by the producer over the same key bytes */
        h = (uint32_t)op->in_key_hash;
        op->in_key_hash = 0;
        ed_assert_debug(h == ed_key_hash(k->key, len));
    } else {
        h = ed_key_hash(k->key, len);
    }
    k->key_hash = h;
    set_key(k, len, (int)ed_fastmod_u32(h, k->kg_mod)); /* ed_key_group */
    if (!k->records_skip_backend) ed_state_set_key_hashed(k->backend, k->key, k->klen, k->key_group, h);
    return 0;
}

void ed_op_set_key_bytes(ed_operator *op, const uint8_t *key, uint32_t len, int key_group)
{
    ed_keyed *k = op->keyed;
    if (len > k->kcap) {
        k->kcap = len * 2;
        k->key = ed_xrealloc(k->key, k->kcap);
    }
    memmove(k->key, key, len);
    k->key_hash = ed_key_hash(k->key, len);
    set_key(k, len, key_group);
    ed_state_set_key(k->backend, k->key, k->klen, key_group); /* hashes only a new key */
}

void ed_op_set_namespace(ed_operator *op, const uint8_t *ns, uint32_t len)
{
    ed_keyed *k = op->keyed;
    k->ns = ns;
    k->nslen = len;
    ed_state_set_namespace(k->backend, ns, len);
}

const eddy_row *ed_op_current_key(ed_operator *op)
{
    ed_keyed *k = op->keyed;
    if (!k) return NULL;
    if (!k->key_row_valid) {
        if (ed_key_decode(&k->key_types, k->key, k->klen, k->key_row)) return NULL;
        k->key_row_valid = true;
    }
    return eddy_rb_row(k->key_row);
}

ed_operator_store *ed_op_store(ed_operator *op)
{
    if (!op->op_store) op->op_store = ed_operator_store_new(&op->ctx);
    return op->op_store;
}

/* ---- time ------------------------------------------------------------------------------------ */

static int fire_timers(ed_operator *op, eddy_time_domain d, int64_t limit)
{
    ed_keyed *k = op->keyed;
    if (!k || !op->vt->on_timer) return 0;
    ed_timer tm;
    void (*prefetch)(ed_operator *, uint32_t, int) = op->vt->prefetch;
    while (ed_timers_pop(k->timers, d, limit, &tm)) {
        if (prefetch) { /* as for records: the slot two timers on, the entry of the next */
            const uint8_t *pk;
            uint32_t pl;
            if (ed_timers_peek_queued(k->timers, d, 1, &pk, &pl)) prefetch(op, ed_key_hash(pk, pl), 0);
            if (ed_timers_peek_queued(k->timers, d, 0, &pk, &pl)) prefetch(op, ed_key_hash(pk, pl), 1);
        }
        ed_op_set_key_bytes(op, tm.key, tm.klen, tm.key_group);
        ed_op_set_namespace(op, tm.ns, tm.nslen);
        op->ctx.domain = d;
        op->ctx.ts = tm.time;
        int rc = op->vt->on_timer(op, d, &tm);
        ed_op_set_namespace(op, NULL, 0);
        if (rc) return -1;
    }
    return 0;
}

int ed_op_advance_watermark(ed_operator *op, int64_t wm)
{
    if (wm <= op->watermark) return 0;
    op->watermark = wm;
    if (fire_timers(op, EDDY_EVENT_TIME, wm)) return -1;
    return op->vt->on_watermark ? op->vt->on_watermark(op, wm) : ed_out_watermark(&op->out, wm);
}

int ed_op_fire_processing_time(ed_operator *op, int64_t now_ms)
{
    if (fire_timers(op, EDDY_PROCESSING_TIME, now_ms)) return -1;
    if (op->pt_callback_at <= now_ms && op->vt->on_processing_time) {
        op->pt_callback_at = INT64_MAX;
        if (op->vt->on_processing_time(op, now_ms)) return -1;
    }
    return 0;
}

int64_t ed_op_next_processing_time(ed_operator *op)
{
    int64_t t = op->vt->on_processing_time ? op->pt_callback_at : INT64_MAX;
    if (op->keyed && op->vt->on_timer) {
        int64_t n = ed_timers_next(op->keyed->timers, EDDY_PROCESSING_TIME);
        if (n < t) t = n;
    }
    return t;
}

/* ---- the public context calls ----------------------------------------------------------------- */

int64_t eddy_ctx_current_watermark(const eddy_ctx *ctx) { return ctx->op->watermark; }
int64_t eddy_ctx_processing_time(const eddy_ctx *ctx) { return ed_op_now(ctx->op); }
eddy_time_domain eddy_ctx_time_domain(const eddy_ctx *ctx) { return ctx->domain; }
const eddy_row *eddy_ctx_current_key(eddy_ctx *ctx) { return ed_op_current_key(ctx->op); }

static int timer_call(eddy_ctx *ctx, eddy_time_domain d, int64_t time, bool del)
{
    ed_operator *op = ctx->op;
    ed_keyed *k = op->keyed;
    if (!k) return eddy_fail(ctx, "timers need a keyed stream (call eddy_key_by first)");
    if (del) {
        ed_timers_delete(k->timers, d, time, k->key, k->klen, k->ns, k->nslen);
        return 0;
    }
    if (ed_timers_register(k->timers, d, time, k->key, k->klen, k->key_group, k->ns, k->nslen))
        return eddy_fail(ctx, "out of memory registering a timer");
    return 0;
}

int eddy_timer_register_event_time(eddy_ctx *ctx, int64_t t)
{
    return timer_call(ctx, EDDY_EVENT_TIME, t, false);
}
int eddy_timer_register_processing_time(eddy_ctx *ctx, int64_t t)
{
    return timer_call(ctx, EDDY_PROCESSING_TIME, t, false);
}
int eddy_timer_delete_event_time(eddy_ctx *ctx, int64_t t)
{
    return timer_call(ctx, EDDY_EVENT_TIME, t, true);
}
int eddy_timer_delete_processing_time(eddy_ctx *ctx, int64_t t)
{
    return timer_call(ctx, EDDY_PROCESSING_TIME, t, true);
}

/* A copy of a descriptor with its functions resolved by name in the job's code. */
static int resolve_desc(eddy_ctx *ctx, const eddy_state_desc *in, eddy_state_desc *out)
{
    *out = *in;
    eddy_fn *fns[] = {&out->reduce, &out->aggregate.create, &out->aggregate.add,
                      &out->aggregate.result, &out->aggregate.merge};
    for (size_t i = 0; i < ED_ARRAY_LEN(fns); i++)
        if (fns[i]->name && !fns[i]->ptr) {
            fns[i]->ptr = ed_op_resolve(ctx->op, fns[i]);
            if (!fns[i]->ptr) return -1;
        }
    return 0;
}

eddy_state *eddy_keyed_state(eddy_ctx *ctx, const eddy_state_desc *desc)
{
    ed_operator *op = ctx->op;
    if (!op->keyed) {
        eddy_fail(ctx, "keyed state '%s' needs a keyed stream (call eddy_key_by first)",
                  desc && desc->name ? desc->name : "?");
        return NULL;
    }
    if (op->keyed->records_skip_backend || op->keyed->in_window_fn) {
        /* the window's reduce and aggregate functions (Flink does not let them be rich
         * functions either): the operator does not make the key current for them */
        eddy_fail(ctx, "keyed state '%s': a window's reduce or aggregate function cannot "
                  "use keyed state; use a process window function",
                  desc && desc->name ? desc->name : "?");
        return NULL;
    }
    ed_keyed *k = op->keyed;
    for (int i = 0; desc && i < k->nmemo; i++) {
        const struct ed_state_memo *m = &k->memo[i];
        /* the same declaration, as the first time (a descriptor rebuilt in place with
         * another name or schema is checked again) */
        if (m->desc == desc && m->kind == desc->kind && m->schema == desc->schema &&
            desc->name && strcmp(m->name, desc->name) == 0)
            return m->state;
    }
    eddy_state_desc d;
    if (resolve_desc(ctx, desc, &d)) return NULL;
    ed_err err = {0};
    eddy_state *s = ed_state_get(k->backend, &d, &err);
    if (!s) {
        eddy_fail(ctx, "%s", err.msg);
        return NULL;
    }
    if (k->nmemo < (int)ED_ARRAY_LEN(k->memo) && strlen(desc->name) < sizeof k->memo[0].name) {
        struct ed_state_memo *m = &k->memo[k->nmemo++];
        m->desc = desc;
        m->schema = desc->schema;
        m->state = s;
        m->kind = desc->kind;
        memcpy(m->name, desc->name, strlen(desc->name) + 1);
    }
    return s;
}

eddy_state *eddy_operator_state(eddy_ctx *ctx, const eddy_state_desc *desc,
                                eddy_operator_state_mode mode)
{
    eddy_state_desc d;
    if (resolve_desc(ctx, desc, &d)) return NULL;
    ed_err err = {0};
    eddy_state *s = ed_operator_list(ed_op_store(ctx->op), &d, mode, &err);
    if (!s) eddy_fail(ctx, "%s", err.msg);
    return s;
}
