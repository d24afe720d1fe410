/*
 * control.h - the local control endpoint of a job run by `eddy run`: how `eddy list`,
 * `eddy cancel`, `eddy savepoint` and `eddy stop` reach a job until the REST API exists.
 *
 * A job under control gets a JobID (32 hex digits, as Flink's), a TCP listener on
 * 127.0.0.1 with an ephemeral port, served by a thread of its own (never a task's), and
 * a file in the registry directory ($EDDY_RUN_DIR, else /tmp/eddy-<uid>/jobs; private to
 * the user, mode 0700), named by the JobID, mode 0600:
 *
 *   id 3f0c4a5e9b1d4c7f8e2a6b0d1c3e5f70
 *   name Exactly-Once Sum
 *   pid 4242
 *   port 40123
 *   start 1700000000000          (epoch ms)
 *   state RUNNING                INITIALIZING, RUNNING, RESTARTING or CANCELLING
 *   token 9a1b...                32 hex digits: a secret only the file's reader knows
 *
 * The file is removed when the job ends; `eddy list` ignores and removes the files of
 * processes that are gone. A connection carries one request line and one reply line:
 *
 *   request:  <token> STATUS | CANCEL | SAVEPOINT [DIR] | STOP [DIR] | DRAIN [DIR]
 *   reply:    OK [<payload>] | ERR <message>
 *
 * STATUS answers "OK <JobID> <state>"; CANCEL answers once the job's tasks have ended;
 * SAVEPOINT answers "OK <path>" once the savepoint is complete; STOP and DRAIN (stop
 * --drain) answer "OK <path>" once the savepoint is complete and the job has ended. DIR
 * is the rest of the line (it may hold spaces); empty means the configured default. A
 * request is at most ED_CONTROL_MAX_REQUEST bytes and must arrive within a few seconds;
 * anything else gets an ERR line. Every listener is on loopback; the token keeps other
 * local users out.
 */
#ifndef ED_CONTROL_H
#define ED_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/base.h"

#define ED_CONTROL_MAX_REQUEST 4200
#define ED_CONTROL_MAX_REPLY 8192

/* What the endpoint does, supplied by its owner (the environment). Both are called on a
 * control thread, may block until done, and return 0 or -1 with err. */
typedef struct ed_control_ops {
    /* A savepoint into a new directory under dir ("" : the configured default); with stop,
     * the job then ends (drain: MAX_WATERMARK first) and this returns once it has. */
    int (*savepoint)(void *arg, const char *dir, bool stop, bool drain, char *path, size_t cap,
                     ed_err *err);
    /* Cancels the job; returns once its tasks have ended. */
    int (*cancel)(void *arg, ed_err *err);
} ed_control_ops;

typedef struct ed_control ed_control;

/* Starts the endpoint of job `name`: a new JobID, the listener and its thread, and the
 * registry file (state INITIALIZING). ops is copied; arg must outlive the endpoint.
 * NULL with err when it cannot (registry directory not private, no socket, ...). */
ed_control *ed_control_start(const ed_control_ops *ops, void *arg, const char *name, ed_err *err);
/* Stops serving: removes the registry file, refuses new connections and waits for the
 * requests under way (whose jobs must have ended or be ending). NULL is fine. */
void ed_control_stop(ed_control *c);
const char *ed_control_job_id(const ed_control *c);
int ed_control_port(const ed_control *c);
/* Records the job's state (RUNNING, RESTARTING, CANCELLING) in the registry. Any thread. */
void ed_control_set_state(ed_control *c, const char *state);

/* ---- the client's side: eddy list, cancel, savepoint, stop ---------------------------------- */

/* A registered job, as its registry file says. */
typedef struct ed_control_entry {
    char id[33];
    char name[512];
    long pid;
    int port;
    int64_t start_ms;
    char state[32];
    char token[33];
} ed_control_entry;

/* True when s is a JobID: 32 hex digits. */
bool ed_control_valid_id(const char *s);
/* The registered jobs whose processes live, oldest first (*out: free()). Files of
 * processes that are gone are removed. 0, or -1 with err (registry not private, ...). */
int ed_control_list(ed_control_entry **out, int *n, ed_err *err);
/* The registered job with this id (any case): 1 found, 0 not, -1 with err. */
int ed_control_find(const char *id, ed_control_entry *e, ed_err *err);
/* Sends `request` (a verb and its argument, without the token) to the job and reads the
 * reply, waiting at most timeout_ms (-1: as long as it takes). 0 with the payload of an
 * OK in reply; -1 with the job's ERR message in err; -2 with err when the job could not
 * be reached or gave no answer. */
int ed_control_call(const ed_control_entry *e, const char *request, int timeout_ms, char *reply,
                    size_t cap, ed_err *err);

#endif
