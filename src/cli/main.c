/*
 * main.c - the `eddy` command. Verbs live in one table; each has its usage text there.
 *
 *   eddy run [-p N] [-D key=value]... [--config FILE] JOB.so [job args...]
 *
 * `run` loads the job's shared object, configures an environment (defaults, then the
 * configuration file: --config, else $EDDY_CONF_DIR/config.yaml when it exists, then
 * -D and -p in order) and calls the job's eddy_job_main, which builds and executes the
 * graph in the embedded mini-cluster. SIGINT and SIGTERM cancel the running job.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <eddy/eddy.h>

#include "../api/api.h"
#include "../base/config.h"

typedef struct verb {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    const char *usage;
} verb;

static int cmd_run(int argc, char **argv);
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
