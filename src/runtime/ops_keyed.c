/*
 * ops_keyed.c - rolling aggregations on keyed streams: reduce, sum, min, max, min_by,
 * max_by, with Flink's semantics. Each record updates its key's accumulated row and
 * emits it.
 *
 * The accumulated row of a key lives in the heap table (state/heap_kv.h). sum, min and
 * max change one fixed-size slot of that row in place, so after a key's first record
 * nothing is copied; min_by and max_by replace the row when a record holds a new
 * extreme (the first record wins ties); reduce stores what the user's function built.
 * The key is extracted from the row (key fields) or by the key selector, hashed once,
 * and its key group kept with the entry for snapshots.
 */
#include "../state/heap_kv.h"
#include "../state/snapshot.h"
#include "operators.h"

enum { AGG_SUM, AGG_MIN, AGG_MAX, AGG_MIN_BY, AGG_MAX_BY };

typedef struct keyed_state {
    ed_heap_kv kv;
    ed_keyspec ks;
    eddy_key_fn key_fn;
    eddy_row_builder *key_rb;
    uint8_t *keybuf;
    size_t keycap;
    eddy_reduce_fn reduce;
    eddy_row_builder *acc_rb;
    int agg;
    uint32_t field;
    eddy_type type;
} keyed_state;

static int keyed_open(ed_operator *op, ed_err *err)
{
    keyed_state *s = ed_xcalloc(1, sizeof(*s));
    op->state = s;
    ed_heap_kv_init(&s->kv);
    const ed_keying *k = &op->node->keying;
    ed_assert(k->keyed);
    if (k->key_fn.name || k->key_fn.ptr) {
        s->key_fn = (eddy_key_fn)ed_op_resolve(op, &k->key_fn);
        if (!s->key_fn) return -1;
        ed_keyspec_all(&s->ks, k->key_schema);
        s->key_rb = eddy_rb_new_schema(k->key_schema);
    } else if (ed_keyspec_parse(&s->ks, ed_op_input_schema(op), k->fields, &op->err)) {
        return -1;
    }
    s->keycap = 256;
    s->keybuf = ed_xmalloc(s->keycap);
    return 0;
}

static void keyed_close(ed_operator *op)
{
    keyed_state *s = op->state;
    if (!s) return;
    ed_heap_kv_destroy(&s->kv);
    eddy_rb_free(s->key_rb);
    eddy_rb_free(s->acc_rb);
    free(s->keybuf);
    free(s);
    op->state = NULL;
}

/* Finds or creates the entry of the record's key; *fresh tells which. */
static ed_kv_entry *key_entry(ed_operator *op, keyed_state *s, const eddy_row *row, bool *fresh)
{
    const eddy_row *src = row;
    if (s->key_fn) {
        eddy_rb_reset(s->key_rb);
        if (s->key_fn(&op->ctx, row, s->key_rb) < 0) {
            ed_op_fail(op, "key selector '%s' failed", op->node->keying.key_fn.name);
            return NULL;
        }
        src = eddy_rb_row(s->key_rb);
    }
    size_t len = ed_key_write(&s->ks, src, s->keybuf, s->keycap);
    if (ED_UNLIKELY(len > s->keycap)) {
        s->keycap = len * 2;
        s->keybuf = ed_xrealloc(s->keybuf, s->keycap);
        len = ed_key_write(&s->ks, src, s->keybuf, s->keycap);
    }
    uint32_t h = ed_key_hash(s->keybuf, len);
    ed_kv_entry *e = ed_heap_kv_get(&s->kv, s->keybuf, (uint32_t)len, h);
    *fresh = e == NULL;
    if (!e) {
        e = ed_heap_kv_insert(&s->kv, s->keybuf, (uint32_t)len, h,
                              (uint32_t)ed_key_group(h, op->ctx.max_parallelism));
        if (!e) ed_op_fail(op, "out of memory for keyed state");
    }
    return e;
}

static int store(ed_operator *op, keyed_state *s, ed_kv_entry *e, const eddy_row *row)
{
    if (ed_heap_kv_set(&s->kv, e, row, eddy_row_size(row)))
        return ed_op_fail(op, "out of memory for keyed state");
    return 0;
}

static int reduce_open(ed_operator *op, ed_err *err)
{
    if (keyed_open(op, err)) return -1;
    keyed_state *s = op->state;
    s->reduce = (eddy_reduce_fn)ed_op_resolve(op, &op->node->fn);
    if (!s->reduce) return -1;
    s->acc_rb = eddy_rb_new_schema(op->node->schema);
    return 0;
}

static int reduce_process(ed_operator *op, int input, const eddy_row *row, int64_t ts)
{
    keyed_state *s = op->state;
    op->ctx.ts = ts;
    bool fresh;
    ed_kv_entry *e = key_entry(op, s, row, &fresh);
    if (!e) return -1;
    if (!fresh) {
        eddy_rb_reset(s->acc_rb);
        if (s->reduce(&op->ctx, (const eddy_row *)e->val, row, s->acc_rb) < 0) {
            if (!op->err.set) ed_op_fail(op, "reduce function '%s' failed", op->node->fn.name);
            return -1;
        }
        row = eddy_rb_row(s->acc_rb);
    }
    if (store(op, s, e, row)) return -1;
    return ed_out_emit(&op->out, (const eddy_row *)e->val, ts);
}

static int agg_open(ed_operator *op, ed_err *err)
{
    if (keyed_open(op, err)) return -1;
    keyed_state *s = op->state;
    const char *agg = ed_node_param(op->node, "agg");
    const char *field = ed_node_param(op->node, "field");
    static const char *const names[] = {"sum", "min", "max", "min_by", "max_by"};
    s->agg = -1;
    for (int i = 0; i < 5; i++)
        if (agg && strcmp(agg, names[i]) == 0) s->agg = i;
    int idx = field ? eddy_schema_index(op->node->schema, field) : -1;
    if (s->agg < 0 || idx < 0) return ed_op_fail(op, "bad aggregation '%s' of field '%s'", agg, field);
    s->field = (uint32_t)idx;
    s->type = eddy_schema_type(op->node->schema, s->field);
    return 0;
}


static int agg_process(ed_operator *op, int input, const eddy_row *row, int64_t ts)
{
    keyed_state *s = op->state;
    bool fresh;
    ed_kv_entry *e = key_entry(op, s, row, &fresh);
    if (ED_UNLIKELY(!e)) return -1;
    if (fresh) {
        if (store(op, s, e, row)) return -1;
        return ed_out_emit(&op->out, (const eddy_row *)e->val, ts);
    }
    eddy_row *acc = (eddy_row *)e->val;
    uint32_t f = s->field;
    uint64_t *slots = (uint64_t *)eddy_row__slots(acc);
    switch (s->agg) {
    case AGG_SUM:
        if (eddy_row_is_null(row, f)) break;
        if (eddy_row_is_null(acc, f)) {
            ((uint64_t *)eddy_row__nulls(acc))[f >> 6] &= ~(1ULL << (f & 63));
            slots[f] = eddy_row_slot(row, f);
        } else if (s->type == EDDY_DOUBLE) {
            double d = eddy_row_f64(acc, f) + eddy_row_f64(row, f);
            memcpy(&slots[f], &d, 8);
        } else if (s->type == EDDY_INT) {
            slots[f] = (uint64_t)(int64_t)(int32_t)((uint32_t)slots[f] + (uint32_t)eddy_row_slot(row, f));
        } else {
            slots[f] = slots[f] + eddy_row_slot(row, f);
        }
        break;
    case AGG_MIN:
    case AGG_MAX: {
        int c = ed_field_cmp(s->type, row, acc, f);
        if (eddy_row_is_null(row, f)) break;
        if ((s->agg == AGG_MIN && c < 0) || (s->agg == AGG_MAX && c > 0) ||
            eddy_row_is_null(acc, f)) {
            ((uint64_t *)eddy_row__nulls(acc))[f >> 6] &= ~(1ULL << (f & 63));
            slots[f] = eddy_row_slot(row, f);
        }
        break;
    }
    default: {
        int c = ed_field_cmp(s->type, row, acc, f);
        if ((s->agg == AGG_MIN_BY && c < 0) || (s->agg == AGG_MAX_BY && c > 0))
            if (store(op, s, e, row)) return -1;
        break;
    }
    }
    return ed_out_emit(&op->out, (const eddy_row *)e->val, ts);
}

/*
 * Checkpoints: every key's accumulated row with its key group, so that a restore at any
 * parallelism takes the keys of its own key groups.
 *
 *   uint32 version 1 | uint32 0 | uint64 count |
 *   count x {uint32 key group | uint32 key length | uint32 row length | uint32 0 |
 *            key bytes, padded to 8 | row}
 */
static int keyed_snapshot(ed_operator *op, int64_t id, ed_strbuf *out)
{
    keyed_state *s = op->state;
    uint32_t head[2] = {1, 0};
    uint64_t count = s->kv.count;
    ed_sb_append(out, head, 8);
    ed_sb_append(out, &count, 8);
    static const uint8_t zeros[8] = {0};
    for (uint32_t i = 0; i <= s->kv.mask; i++) {
        const ed_kv_entry *e = s->kv.slots[i];
        if (!e) continue;
        uint32_t h[4] = {e->key_group, e->klen, e->vlen, 0};
        ed_sb_append(out, h, sizeof h);
        ed_sb_append(out, e->key, e->klen);
        ed_sb_append(out, zeros, ED_ALIGN8(e->klen) - e->klen);
        ed_sb_append(out, e->val, e->vlen);
    }
    return 0;
}

static int keyed_restore(ed_operator *op, const struct ed_snapshot_ref *old, int nold)
{
    keyed_state *s = op->state;
    int first, last;
    ed_key_group_range(op->ctx.subtask, op->ctx.parallelism, op->ctx.max_parallelism, &first,
                       &last);
    for (int k = 0; k < nold; k++) {
        const uint8_t *p = old[k].data, *end = p + old[k].len;
        uint32_t head[2];
        uint64_t count;
        if (old[k].len < 16) continue; /* an old subtask without keys */
        memcpy(head, p, 8);
        memcpy(&count, p + 8, 8);
        if (head[0] != 1) return ed_op_fail(op, "keyed aggregation: unknown state format %u", head[0]);
        p += 16;
        for (uint64_t i = 0; i < count; i++) {
            uint32_t h[4];
            if (end - p < 16) return ed_op_fail(op, "keyed aggregation: state cut short");
            memcpy(h, p, 16);
            p += 16;
            size_t kpad = ED_ALIGN8((size_t)h[1]);
            if ((size_t)(end - p) < kpad || (size_t)(end - p) - kpad < h[2] || h[2] < 8 ||
                (h[2] & 7) || h[0] >= (uint32_t)op->ctx.max_parallelism)
                return ed_op_fail(op, "keyed aggregation: state entry %llu does not fit",
                                  (unsigned long long)i);
            const uint8_t *key = p, *row = p + kpad;
            p += kpad + h[2];
            if ((int)h[0] < first || (int)h[0] > last) continue;
            if (eddy_row_size((const eddy_row *)row) != h[2])
                return ed_op_fail(op, "keyed aggregation: a row of state entry %llu is damaged",
                                  (unsigned long long)i);
            uint32_t hash = ed_key_hash(key, h[1]);
            ed_kv_entry *e = ed_heap_kv_get(&s->kv, key, h[1], hash);
            if (!e) e = ed_heap_kv_insert(&s->kv, key, h[1], hash, h[0]);
            if (!e || ed_heap_kv_set(&s->kv, e, row, h[2]))
                return ed_op_fail(op, "out of memory for keyed state");
        }
    }
    return 0;
}

const ed_op_vt ed_op_reduce_vt = {.open = reduce_open,
                                  .process = reduce_process,
                                  .close = keyed_close,
                                  .snapshot = keyed_snapshot,
                                  .restore = keyed_restore};
const ed_op_vt ed_op_agg_vt = {.open = agg_open,
                               .process = agg_process,
                               .close = keyed_close,
                               .snapshot = keyed_snapshot,
                               .restore = keyed_restore};
