/*
 * state.h - the keyed state backend's interface inside eddy (the public handle calls are
 * in include/eddy/state.h).
 *
 * One backend per keyed operator subtask. The runtime sets the current key (its
 * canonical bytes, types.h, and key group) before it calls a user function or fires a
 * timer, and the current namespace (a window's bytes; empty for plain keyed state).
 * Every state of the backend is a table from (key, namespace) to its value, and every
 * entry remembers its key group, so that a snapshot can be cut, and restored at another
 * parallelism, by key group (the checkpoint layer's part).
 *
 * Processing time for TTL comes from the backend's clock. Nothing is locked: a backend
 * belongs to its operator's task thread.
 */
#ifndef ED_STATE_H
#define ED_STATE_H

#include <eddy/state.h>

#include "../base/base.h"
#include "../types/types.h"

typedef struct ed_state_backend ed_state_backend;

/* Called with the backend's context and the message whenever a state call fails, so the
 * layer above can name the failure if the user's function gives up on it. Set once by
 * the runtime; NULL does nothing. */
extern void (*ed_state_error_hook)(eddy_ctx *ctx, const char *msg);
/* Called when the storage under the state fails (a RocksDB read or write error): the job
 * must fail and restart from its latest checkpoint, whatever the user's function does
 * next. Set once by the runtime; NULL does nothing. */
extern void (*ed_state_fatal_hook)(eddy_ctx *ctx, const char *msg);

/* ctx is the operator's context, handed to reduce/aggregate functions. */
ed_state_backend *ed_state_backend_new(int max_parallelism, ed_clock *clock, eddy_ctx *ctx);
void ed_state_backend_free(ed_state_backend *b); /* accepts NULL; frees every state */

/* The current key: canonical key bytes (copied) and their key group. */
void ed_state_set_key(ed_state_backend *b, const uint8_t *key, uint32_t len, int key_group);
/* The same, with the key's hash (ed_key_hash of its bytes) that the caller computed for
 * the key group, so it is not computed again. */
void ed_state_set_key_hashed(ed_state_backend *b, const uint8_t *key, uint32_t len, int key_group,
                             uint32_t key_hash);
/* The current namespace (copied); len 0 is the default namespace. */
void ed_state_set_namespace(ed_state_backend *b, const uint8_t *ns, uint32_t len);

/* The state of a descriptor, created on first use; the same handle for the same name.
 * NULL with err set for an invalid descriptor or a name used with another kind or
 * schema. */
eddy_state *ed_state_get(ed_state_backend *b, const eddy_state_desc *desc, ed_err *err);

/* List entries may carry an event timestamp (the window operator keeps elements with
 * theirs); eddy_list_add stores EDDY_NO_TIMESTAMP. */
int ed_list_add_ts(eddy_state *s, const eddy_row *value, int64_t ts);
int64_t ed_list_timestamp(eddy_state *s, size_t i);
/* Removes list elements for which keep[i] is false (evictors). */
int ed_list_retain(eddy_state *s, const bool *keep, size_t n);

/* Merges the values of the source namespaces into the target namespace of the current
 * key and clears the sources (merging windows): lists concatenate, reducing and
 * aggregating states combine with their functions (aggregate merge), values keep the
 * target's, or the first source's when the target has none. */
int ed_state_merge_namespaces(eddy_state *s, const uint8_t *target, uint32_t tlen,
                              const uint8_t *const *sources, const uint32_t *slens, int n,
                              ed_err *err);

/* Calls fn with every (key, namespace) that has a value in s, with that key and
 * namespace current during the call; fn may read and write s, and clear it. */
typedef int (*ed_state_key_fn)(eddy_state *s, const uint8_t *key, uint32_t klen,
                               const uint8_t *ns, uint32_t nslen, void *arg);
int ed_state_for_each(eddy_state *s, ed_state_key_fn fn, void *arg);

/* The same with flags. By default (and in ed_state_for_each) an entry whose values have
 * all expired under a NEVER_RETURN_EXPIRED TTL is skipped; ED_STATE_VISIT_EXPIRED visits
 * it too (a full snapshot without cleanup_full_snapshot keeps expired entries). */
#define ED_STATE_VISIT_EXPIRED 1u
int ed_state_for_each_flags(eddy_state *s, unsigned flags, ed_state_key_fn fn, void *arg);

/* Rows as stored, for VALUE, REDUCING and AGGREGATING states (the window operator moves
 * its per-key table, window_table.h, in and out of its states around snapshots): the row
 * of the current (key, namespace) without TTL checks or functions applied, NULL when
 * none; storing a row as it is; and dropping every entry. */
const eddy_row *ed_state_stored_row(eddy_state *s);
int ed_state_store_row(eddy_state *s, const eddy_row *r);
void ed_state_drop_all(eddy_state *s);

/* True when the current (key, namespace) has an entry in s. The lookup is kept for the
 * next call on s, so asking before an add costs nothing extra. */
bool ed_state_has_entry(eddy_state *s);

/* A hint: s is about to be used with the current key in namespace ns, so the table slot
 * of that (key, namespace) is fetched into the cache now. Changes nothing. */
void ed_state_prefetch(eddy_state *s, const uint8_t *ns, uint32_t nslen);

/* Number of (key, namespace) entries of s that hold a value (for tests and metrics):
 * entries whose values expired but were not yet cleaned up count. */
size_t ed_state_entries(eddy_state *s);

/* Why the last call on s failed (a call returned -1, or NULL/0 where an error is
 * possible), or NULL when it succeeded. Valid until the next call on s; the runtime
 * copies it into the operator's error. Every call on s starts by clearing it. */
const char *ed_state_error(const eddy_state *s);

/* TTL: true when a value last accessed at last_access_ms has expired by the backend's
 * clock (Flink: last access + ttl <= now); false for states without TTL. */
bool ed_state_ttl_expired(eddy_state *s, int64_t last_access_ms);

/* The key group stored with the entry of the current (key, namespace), or -1 when there
 * is none (snapshots by key group; tests). */
int ed_state_entry_key_group(eddy_state *s);

/* Bytes the backend holds for state (pooled blocks are reused, never returned): for
 * metrics, and for tests that check that steady-state access does not allocate. */
size_t ed_state_backend_bytes(const ed_state_backend *b);

/* ---- operator and broadcast state ----------------------------------------------------------
 * Per operator subtask, not keyed: named lists (operator state, split or union on
 * restore) and named maps (broadcast state, the same on every subtask). */
typedef struct ed_operator_store ed_operator_store;
ed_operator_store *ed_operator_store_new(eddy_ctx *ctx);
void ed_operator_store_free(ed_operator_store *o);
eddy_state *ed_operator_list(ed_operator_store *o, const eddy_state_desc *desc,
                             eddy_operator_state_mode mode, ed_err *err);
eddy_state *ed_broadcast_map(ed_operator_store *o, const eddy_state_desc *desc, ed_err *err);
/* Broadcast state is read-only in process_element: writes fail with an error. */
void ed_broadcast_set_read_only(eddy_state *s, bool ro);
/* The redistribution mode an operator list was declared with. */
eddy_operator_state_mode ed_operator_list_mode(const eddy_state *s);

#endif
