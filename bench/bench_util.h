/*
 * bench_util.h - what every benchmark needs: wall and CPU time, pinning the process to
 * some cores, and trying other settings without recompiling.
 */
#ifndef EDDY_BENCH_UTIL_H
#define EDDY_BENCH_UTIL_H

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <eddy/eddy.h>

static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the whole process (every thread), user and system. */
static inline double bench_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Restricts the process (and the threads it starts) to the first `cores` CPUs. */
static inline void bench_use_cores(int cores)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < cores; i++) CPU_SET(i, &set);
    sched_setaffinity(0, sizeof(set), &set);
}

/* EDDY_BENCH_CONF="key=value;key=value" applies other settings to the engine's runs. */
static inline void bench_apply_conf(eddy_env *env)
{
    const char *conf = getenv("EDDY_BENCH_CONF");
    if (!conf) return;
    char *c = strdup(conf), *save = NULL;
    for (char *kv = strtok_r(c, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) continue;
        *eq = 0;
        eddy_env_set(env, kv, eq + 1);
    }
    free(c);
}

#endif
