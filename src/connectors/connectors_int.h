/*
 * connectors_int.h - what the connector files share, and nothing else may use.
 *
 * Option parsing with messages in one form ("<connector>: option '<key>': '<value>' is
 * not ..."), whole writes to a file descriptor, and the one text rendering of a row
 * that print and the filesystem sink's text format both use.
 */
#ifndef ED_CONNECTORS_INT_H
#define ED_CONNECTORS_INT_H

#include <string.h>

#include "../runtime/graph.h"
#include "connectors.h"

/* Sinks write their buffer out once it holds this many bytes. */
#define ED_CONN_SINK_BUFFER (64u * 1024u)

/*
 * Typed options of a node. Each returns 0 with *out set (dflt when the option is unset),
 * or -1 with err naming the connector, the option and the value. Call at build time
 * (check) and again at open: the two always agree because they are the same code.
 */
int ed_conn_opt_i64(const ed_node *n, const char *conn, const char *key, int64_t dflt, int64_t min,
                    int64_t max, int64_t *out, ed_err *err);
int ed_conn_opt_f64(const ed_node *n, const char *conn, const char *key, double dflt, double min,
                    double max, double *out, ed_err *err);
int ed_conn_opt_bool(const ed_node *n, const char *conn, const char *key, bool dflt, bool *out,
                     ed_err *err);
/* One character: "," or "\t" (a backslash escape: \t, \\, \'), as Flink's
 * csv.field-delimiter. */
int ed_conn_opt_char(const ed_node *n, const char *conn, const char *key, char dflt, char *out,
                     ed_err *err);
/* A non-empty string; *out is the node's value (or dflt) and lives as long as the node.
 * With dflt NULL the option is required. */
int ed_conn_opt_str(const ed_node *n, const char *conn, const char *key, const char *dflt,
                    const char **out, ed_err *err);

/* The file formats of the filesystem connector. */
typedef enum ed_conn_format { ED_CONN_TEXT, ED_CONN_CSV } ed_conn_format;
int ed_conn_opt_format(const ed_node *n, const char *conn, ed_conn_format *out, ed_err *err);

/* True when schema s is exactly one STRING field (text lines, sockets). */
bool ed_conn_is_line_schema(const eddy_schema *s);

/*
 * Splits across a restore: the one rule of every replayable source (datagen, filesystem).
 * A source's work is a list of splits, and its checkpointed state is the list of its
 * unfinished splits with their positions. A restore gathers the lists of ALL old
 * subtasks, puts the splits in the source's canonical order (datagen: split id;
 * filesystem: file name order, then byte offset) and deals them round-robin: the split of
 * rank j goes to new subtask j % p, as operator list state (EDDY_OP_STATE_SPLIT) is dealt.
 * A fresh start is the same rule over all splits, so it decides at the start and at every
 * restore, at any old and new parallelism.
 */
static inline bool ed_conn_split_is_mine(size_t rank, const ed_operator *op)
{
    size_t p = op->ctx.parallelism > 0 ? (size_t)op->ctx.parallelism : 1;
    return rank % p == (size_t)op->ctx.subtask;
}

/* Bounds-checked reading of a checkpointed state: ed_conn_take copies the next n bytes
 * to out and returns true, or returns false (copying nothing) when fewer are left. */
typedef struct ed_conn_reader {
    const uint8_t *p;
    size_t len, off;
} ed_conn_reader;

static inline bool ed_conn_take(ed_conn_reader *r, void *out, size_t n)
{
    if (n > r->len - r->off) return false;
    memcpy(out, r->p + r->off, n);
    r->off += n;
    return true;
}

/*
 * Sources of fixed columns (nexmark, ysb): a table of columns in groups (the kinds a
 * source can read); the schema's fields name columns of one group in any order. Fills
 * col[f] with field f's column (an index into cols) and returns 0, or -1 with err saying
 * which field is not a column of `what` (listing the group's columns) or has another type.
 */
typedef struct ed_conn_column {
    int group;
    const char *name;
    eddy_type type;
} ed_conn_column;
int ed_conn_match_columns(const ed_node *n, const char *conn, const ed_conn_column *cols,
                          int ncols, int group, const char *what, int *col, ed_err *err);

/*
 * Counted splits (nexmark, ysb): split `index` of a fixed number of splits, at position
 * `pos` (the items it has made). In a checkpoint each is
 *   uint32 index | uint32 0 | int64 pos
 */
typedef struct ed_conn_split {
    uint32_t index;
    int64_t pos;
} ed_conn_split;
void ed_conn_put_split(ed_strbuf *out, const ed_conn_split *s);
/* Reads n splits of old subtask k (of nold) from rd, appending them to *all (*count of
 * them, grown as needed): each index below nsplits, each position not negative. 0, or -1
 * with op failed naming the connector. */
int ed_conn_take_splits(ed_operator *op, const char *conn, ed_conn_reader *rd, uint32_t n,
                        uint32_t nsplits, int k, int nold, ed_conn_split **all, size_t *count);
/* Puts all splits in index order (a split twice fails op) and keeps this subtask's, dealt
 * round-robin (ed_conn_split_is_mine) at the front; returns how many, or -1. */
long ed_conn_deal_splits(ed_operator *op, const char *conn, ed_conn_split *all, size_t n);

/*
 * Writes all n bytes, retrying short writes and EINTR. 0, or -1 with errno set.
 * Thread contract: none; callers that share fd hold their own lock around the call.
 */
int ed_conn_write_all(int fd, const char *p, size_t n);

/*
 * The text form of a row, as Flink prints a DataStream: a row of one field is its bare
 * value (NULL as "null"), like a DataStream<String>; a wider row is Row.toString
 * ("+I[a, 1]"). Appends to out without a newline.
 */
void ed_conn_render_text(const eddy_schema *s, const eddy_row *r, ed_strbuf *out);

#endif
