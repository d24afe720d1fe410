/*
 * main.c - the `eddy` command. Verbs live in one table; each has its usage text there.
 *
 *   eddy run [-p N] [-D key=value]... [--config FILE] JOB.so [job args...]
 *   eddy list [-r] [-s] [-a]
 *   eddy cancel JOB_ID
 *   eddy savepoint JOB_ID [DIR]
 *   eddy stop [-p DIR] [-d] JOB_ID
 *
 * `run` loads the job's shared object, configures an environment (defaults, then the
 * configuration file: --config, else $EDDY_CONF_DIR/config.yaml when it exists, then
 * -D and -p in order) and calls the job's eddy_job_main, which builds and executes the
 * graph in the embedded mini-cluster. SIGINT and SIGTERM cancel the running job. While
 * it runs, the job has a JobID and a control endpoint on loopback (runtime/control.h),
 * through which the other verbs reach it; they print what Flink's CLI prints.
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <eddy/eddy.h>

#include "../api/api.h"
#include "../base/config.h"
#include "../runtime/control.h"

typedef struct verb {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    const char *usage;
} verb;

static int cmd_run(int argc, char **argv);
static int cmd_list(int argc, char **argv);
static int cmd_cancel(int argc, char **argv);
static int cmd_savepoint(int argc, char **argv);
static int cmd_stop(int argc, char **argv);
static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const verb verbs[] = {
    {"run", cmd_run, "Run a job in the embedded mini-cluster",
     "Usage: eddy run [OPTIONS] JOB.so [JOB ARGS...]\n"
     "\n"
     "Loads JOB.so, a job compiled as a shared object that exports eddy_job_main, and runs\n"
     "it in the embedded mini-cluster until it finishes or is cancelled (Ctrl-C).\n"
     "\n"
     "Options:\n"
     "  -p, --parallelism N       default parallelism of the job (parallelism.default)\n"
     "  -D key=value              set a configuration key (repeatable)\n"
     "  -c, --config FILE         read configuration from a YAML file\n"
     "                            (default: $EDDY_CONF_DIR/config.yaml when it exists)\n"
     "  -s, --fromSavepoint PATH  start from this checkpoint or savepoint directory\n"
     "                            (execution.savepoint.path)\n"
     "  -n, --allowNonRestoredState\n"
     "                            start even when PATH holds state of operators the job\n"
     "                            no longer has\n"
     "  -h, --help                show this help\n"},
    {"list", cmd_list, "List the running jobs",
     "Usage: eddy list [OPTIONS]\n"
     "\n"
     "Lists the jobs started by 'eddy run' that are running on this machine under your\n"
     "user: start time, JobID, name and state.\n"
     "\n"
     "Options:\n"
     "  -r, --running    show running and restarting jobs\n"
     "  -s, --scheduled  show jobs that are starting\n"
     "  -a, --all        show all of them\n"
     "  -h, --help       show this help\n"},
    {"cancel", cmd_cancel, "Cancel a running job",
     "Usage: eddy cancel JOB_ID\n"
     "\n"
     "Cancels the job (as Ctrl-C on its 'eddy run' does) and returns once it has ended.\n"
     "JOB_ID is the JobID 'eddy list' shows.\n"
     "\n"
     "Options:\n"
     "  -h, --help  show this help\n"},
    {"savepoint", cmd_savepoint, "Take a savepoint of a running job",
     "Usage: eddy savepoint JOB_ID [DIR]\n"
     "\n"
     "Takes a savepoint of the running job into a new directory under DIR (default:\n"
     "execution.checkpointing.savepoint-dir of the job) and prints its path. The job goes\n"
     "on; 'eddy run -s PATH' starts a job from the savepoint.\n"
     "\n"
     "Options:\n"
     "  -h, --help  show this help\n"},
    {"stop", cmd_stop, "Stop a running job with a savepoint",
     "Usage: eddy stop [OPTIONS] JOB_ID\n"
     "\n"
     "Takes a savepoint of the running job and ends it: the sources emit nothing after the\n"
     "savepoint, so that 'eddy run -s PATH' goes on exactly where the job stopped. The job\n"
     "ends as FINISHED.\n"
     "\n"
     "Options:\n"
     "  -p, --savepointPath DIR  where the savepoint goes (default:\n"
     "                           execution.checkpointing.savepoint-dir of the job)\n"
     "  -d, --drain              emit MAX_WATERMARK before the savepoint, so that every\n"
     "                           event-time window and timer fires (for ending a job for\n"
     "                           good, not for resuming it)\n"
     "  -h, --help               show this help\n"},
    {"help", cmd_help, "Show help for eddy or one of its commands", "Usage: eddy help [COMMAND]\n"},
    {"version", cmd_version, "Print the version", "Usage: eddy --version\n"},
};

static void usage_all(FILE *f)
{
    fprintf(f, "Usage: eddy COMMAND [ARGS...]\n\n"
               "eddy is a stateful stream processor.\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
    fprintf(f, "\nRun 'eddy COMMAND --help' for a command's options.\n"
               "Options:\n  -h, --help     show this help\n  -v, --version  print the version\n");
}

static const verb *find_verb(const char *name)
{
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strcmp(verbs[i].name, name) == 0) return &verbs[i];
    return NULL;
}

static int cmd_help(int argc, char **argv)
{
    if (argc > 1) {
        const verb *v = find_verb(argv[1]);
        if (!v) {
            fprintf(stderr, "eddy: unknown command '%s'\n", argv[1]);
            return 2;
        }
        fputs(v->usage, stdout);
        return 0;
    }
    usage_all(stdout);
    return 0;
}

static int cmd_version(int argc, char **argv)
{
    printf("eddy %s\n", eddy_version());
    return 0;
}

/* The running job's environment, for the signal thread; env_mu keeps it alive while a
 * cancel is under way. */
static pthread_mutex_t env_mu = PTHREAD_MUTEX_INITIALIZER;
static eddy_env *running_env;

/* Signals are turned into a cancel on a thread of their own, outside signal context. */
static void *signal_thread(void *arg)
{
    sigset_t *set = arg;
    int sig;
    while (sigwait(set, &sig) == 0) {
        fprintf(stderr, "eddy: %s received, cancelling the job\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
        pthread_mutex_lock(&env_mu);
        if (running_env) eddy_env_cancel(running_env);
        pthread_mutex_unlock(&env_mu);
    }
    return NULL;
}

static int cmd_run(int argc, char **argv)
{
    ed_config *cfg = ed_config_new();
    ed_err err = {0};
    const char *config_file = NULL;
    int i = 1;
    /* Help wins, and the configuration file (the last one given) is read before the
     * other options, whatever their order. */
    for (int k = 1; k < argc && argv[k][0] == '-'; k++) {
        if (strcmp(argv[k], "-h") == 0 || strcmp(argv[k], "--help") == 0) {
            fputs(verbs[0].usage, stdout);
            ed_config_free(cfg);
            return 0;
        }
        if ((strcmp(argv[k], "-c") == 0 || strcmp(argv[k], "--config") == 0) && k + 1 < argc)
            config_file = argv[k + 1];
        if (strcmp(argv[k], "-n") == 0 || strcmp(argv[k], "--allowNonRestoredState") == 0)
            continue; /* the one option without a value */
        if (k + 1 < argc) k++;
    }
    char defpath[4096];
    const char *dir = getenv("EDDY_CONF_DIR");
    if (!config_file && dir) {
        snprintf(defpath, sizeof(defpath), "%s/config.yaml", dir);
        if (access(defpath, R_OK) == 0) config_file = defpath;
    }
    if (config_file && ed_config_load_yaml(cfg, config_file, &err)) goto bad;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-n") == 0 || strcmp(a, "--allowNonRestoredState") == 0) {
            if (ed_config_set(cfg, "execution.savepoint.ignore-unclaimed-state", "true", &err))
                goto bad;
            continue;
        }
        bool known = strcmp(a, "-p") == 0 || strcmp(a, "--parallelism") == 0 ||
                     strcmp(a, "-D") == 0 || strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0 ||
                     strcmp(a, "-s") == 0 || strcmp(a, "--fromSavepoint") == 0;
        if (!known) {
            ed_err_set(&err, "unknown option '%s'", a);
            goto bad;
        }
        if (i + 1 >= argc) {
            ed_err_set(&err, "option '%s' needs a value", a);
            goto bad;
        }
        const char *v = argv[++i];
        if (strcmp(a, "-p") == 0 || strcmp(a, "--parallelism") == 0) {
            if (ed_config_set(cfg, "parallelism.default", v, &err)) goto bad;
        } else if (strcmp(a, "-D") == 0) {
            if (ed_config_set_kv(cfg, v, &err)) goto bad;
        } else if (strcmp(a, "-s") == 0 || strcmp(a, "--fromSavepoint") == 0) {
            if (ed_config_set(cfg, "execution.savepoint.path", v, &err)) goto bad;
        } /* -c / --config: read above */
    }
    if (i >= argc) {
        ed_err_set(&err, "no job given");
        goto bad;
    }
    const char *job = argv[i];
    char path[4096];
    snprintf(path, sizeof(path), "%s%s", strchr(job, '/') ? "" : "./", job);
    void *code = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!code) {
        fprintf(stderr, "eddy run: cannot load job '%s': %s\n", job, dlerror());
        ed_config_free(cfg);
        return 1;
    }
    int (*job_main)(eddy_env *, int, char **);
    void *sym = dlsym(code, "eddy_job_main");
    if (!sym) {
        fprintf(stderr, "eddy run: '%s' does not export eddy_job_main\n", job);
        dlclose(code);
        ed_config_free(cfg);
        return 1;
    }
    memcpy(&job_main, &sym, sizeof(job_main));

    /* the environment exists before any signal can be taken, so none is lost */
    eddy_env *env = ed_env_new_with(cfg, code);
    ed_env_enable_control(env); /* eddy list, cancel, savepoint and stop reach it */
    pthread_mutex_lock(&env_mu);
    running_env = env;
    pthread_mutex_unlock(&env_mu);
    static sigset_t set; /* the signal thread outlives this frame */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_t sig_thread;
    pthread_create(&sig_thread, NULL, signal_thread, &set);
    pthread_detach(sig_thread);
    int rc = job_main(env, argc - i, argv + i);
    const char *e = eddy_env_error(env);
    if (rc != 0 || e) {
        fprintf(stderr, "eddy run: %s\n", e ? e : "the job returned an error");
        rc = 1;
    }
    pthread_mutex_lock(&env_mu);
    running_env = NULL;
    pthread_mutex_unlock(&env_mu);
    fflush(stdout);
    eddy_env_free(env);
    /* the job's code stays loaded: its functions may still be referenced by name */
    return rc;
bad:
    fprintf(stderr, "eddy run: %s\nRun 'eddy run --help' for usage.\n", err.msg);
    ed_config_free(cfg);
    return 2;
}

/* ---- verbs that reach a running job ------------------------------------------------------- */

/* A usage error of command `cmd`: status 2, as for run. */
static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "eddy %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'eddy %s --help' for usage.\n", cmd);
    return 2;
}

/* Checks a JobID argument (Flink's JobID.fromHexString); 0, or a usage error. */
static int check_job_id(const char *cmd, const char *s)
{
    if (ed_control_valid_id(s)) return 0;
    return usage_error(cmd, "Cannot parse JobID from \"%s\". The expected format is "
                             "[0-9a-fA-F]{32}, e.g. fd72014d4c864993a2e5a9287b4a9c5d.", s);
}

/* The registered job `id`: 0, or 1 with the reason printed. */
static int find_job(const char *cmd, const char *id, ed_control_entry *e)
{
    ed_err err = {0};
    int rc = ed_control_find(id, e, &err);
    if (rc < 0) {
        fprintf(stderr, "eddy %s: %s\n", cmd, err.msg);
        return 1;
    }
    if (rc == 0) {
        fprintf(stderr, "eddy %s: no running job has the JobID %s ('eddy list' shows the running "
                        "jobs)\n", cmd, id);
        return 1;
    }
    return 0;
}

/* dir made absolute (the job runs in another directory), in buf; "" stays "". */
static int absolute_dir(const char *cmd, const char *dir, char *buf, size_t cap)
{
    char cwd[PATH_MAX];
    if (!*dir || dir[0] == '/') {
        if ((size_t)snprintf(buf, cap, "%s", dir) < cap) return 0;
    } else if (getcwd(cwd, sizeof cwd) && (size_t)snprintf(buf, cap, "%s/%s", cwd, dir) < cap) {
        return 0;
    }
    fprintf(stderr, "eddy %s: cannot make '%s' an absolute path\n", cmd, dir);
    return 1;
}

static void print_jobs(const ed_control_entry *v, int n)
{
    for (int i = 0; i < n; i++) {
        char when[64];
        time_t t = (time_t)(v[i].start_ms / 1000);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof when, "%d.%m.%Y %H:%M:%S", &tm);
        printf("%s : %s : %s (%s)\n", when, v[i].id, v[i].name, v[i].state);
    }
}

static int cmd_list(int argc, char **argv)
{
    bool running = false, scheduled = false, all = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-r") || !strcmp(a, "--running"))
            running = true;
        else if (!strcmp(a, "-s") || !strcmp(a, "--scheduled"))
            scheduled = true;
        else if (!strcmp(a, "-a") || !strcmp(a, "--all"))
            all = true;
        else
            return usage_error("list", "unknown argument '%s'", a);
    }
    if (!running && !scheduled && !all) running = scheduled = true; /* Flink's default */
    printf("Waiting for response...\n");
    fflush(stdout);
    ed_control_entry *v;
    int n;
    ed_err err = {0};
    if (ed_control_list(&v, &n, &err)) {
        fprintf(stderr, "eddy list: Failed to retrieve job list: %s\n", err.msg);
        return 1;
    }
    /* the state each job reports now; one that cannot be reached is not running */
    int nrun = 0, nsched = 0;
    ed_control_entry *run = calloc((size_t)n + 1, sizeof(*run));
    ed_control_entry *sched = calloc((size_t)n + 1, sizeof(*sched));
    if (!run || !sched) {
        fprintf(stderr, "eddy list: out of memory\n");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        char reply[256], id[33], state[32];
        ed_err e = {0};
        int rc = ed_control_call(&v[i], "STATUS", 2000, reply, sizeof reply, &e);
        if (rc == -2) continue;
        if (rc == 0 && sscanf(reply, "%32s %31s", id, state) == 2)
            snprintf(v[i].state, sizeof v[i].state, "%s", state);
        if (strcmp(v[i].state, "INITIALIZING") == 0)
            sched[nsched++] = v[i];
        else
            run[nrun++] = v[i];
    }
    static const char rule[] = "--------------------------------------------------------------";
    if (running || all) {
        if (!nrun) {
            printf("No running jobs.\n");
        } else {
            printf("------------------ Running/Restarting Jobs -------------------\n");
            print_jobs(run, nrun);
            printf("%s\n", rule);
        }
    }
    if (scheduled || all) {
        if (!nsched) {
            printf("No scheduled jobs.\n");
        } else {
            printf("----------------------- Scheduled Jobs -----------------------\n");
            print_jobs(sched, nsched);
            printf("%s\n", rule);
        }
    }
    free(run);
    free(sched);
    free(v);
    return 0;
}

static int cmd_cancel(int argc, char **argv)
{
    if (argc < 2) return usage_error("cancel", "Missing JobID. Specify a JobID to cancel a job.");
    if (argc > 2) return usage_error("cancel", "unexpected argument '%s'", argv[2]);
    ed_control_entry e;
    if (check_job_id("cancel", argv[1])) return 2;
    if (find_job("cancel", argv[1], &e)) return 1;
    printf("Cancelling job %s.\n", e.id);
    fflush(stdout);
    char reply[ED_CONTROL_MAX_REPLY];
    ed_err err = {0};
    if (ed_control_call(&e, "CANCEL", -1, reply, sizeof reply, &err)) {
        fprintf(stderr, "eddy cancel: Could not cancel job %s: %s\n", e.id, err.msg);
        return 1;
    }
    printf("Cancelled job %s.\n", e.id);
    return 0;
}

static int cmd_savepoint(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("savepoint", "Missing JobID. Specify a Job ID to trigger a savepoint.");
    if (argc > 3) return usage_error("savepoint", "unexpected argument '%s'", argv[3]);
    if (check_job_id("savepoint", argv[1])) return 2;
    char dir[PATH_MAX + 16];
    if (absolute_dir("savepoint", argc > 2 ? argv[2] : "", dir, sizeof dir)) return 2;
    ed_control_entry e;
    if (find_job("savepoint", argv[1], &e)) return 1;
    printf("Triggering savepoint for job %s.\nWaiting for response...\n", e.id);
    fflush(stdout);
    char req[PATH_MAX + 32], path[ED_CONTROL_MAX_REPLY];
    snprintf(req, sizeof req, "SAVEPOINT %s", dir);
    ed_err err = {0};
    if (ed_control_call(&e, req, -1, path, sizeof path, &err)) {
        fprintf(stderr, "eddy savepoint: Failed to trigger a savepoint for the job %s: %s\n", e.id,
                err.msg);
        return 1;
    }
    printf("Savepoint completed. Path: %s\n"
           "You can resume your program from this savepoint with the run command.\n",
           path);
    return 0;
}

static int cmd_stop(int argc, char **argv)
{
    const char *dir = "", *id = NULL;
    bool drain = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-d") || !strcmp(a, "--drain")) {
            drain = true;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--savepointPath")) {
            if (i + 1 >= argc) return usage_error("stop", "option '%s' needs a value", a);
            dir = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return usage_error("stop", "unknown option '%s'", a);
        } else if (!id) {
            id = a;
        } else {
            return usage_error("stop", "unexpected argument '%s'", a);
        }
    }
    if (!id) return usage_error("stop", "Missing JobID. Specify a JobID to stop a job.");
    if (check_job_id("stop", id)) return 2;
    char absdir[PATH_MAX + 16];
    if (absolute_dir("stop", dir, absdir, sizeof absdir)) return 2;
    ed_control_entry e;
    if (find_job("stop", id, &e)) return 1;
    printf("%s job \"%s\" with a savepoint.\n", drain ? "Draining" : "Suspending", e.id);
    fflush(stdout);
    char req[PATH_MAX + 32], path[ED_CONTROL_MAX_REPLY];
    snprintf(req, sizeof req, "%s %s", drain ? "DRAIN" : "STOP", absdir);
    ed_err err = {0};
    if (ed_control_call(&e, req, -1, path, sizeof path, &err)) {
        fprintf(stderr, "eddy stop: Could not stop with a savepoint job \"%s\": %s\n", e.id,
                err.msg);
        return 1;
    }
    printf("Savepoint completed. Path: %s\n", path);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage_all(stderr);
        return 2;
    }
    const char *c = argv[1];
    if (strcmp(c, "-h") == 0 || strcmp(c, "--help") == 0) return cmd_help(1, argv);
    if (strcmp(c, "-v") == 0 || strcmp(c, "--version") == 0) return cmd_version(1, argv);
    const verb *v = find_verb(c);
    if (!v) {
        fprintf(stderr, "eddy: unknown command '%s'\n\n", c);
        usage_all(stderr);
        return 2;
    }
    for (int i = 2; i < argc && strcmp(v->name, "run") != 0; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(v->usage, stdout);
            return 0;
        }
    return v->run(argc - 1, argv + 1);
}
