/*
 * eddy/eddy.h - the one header a job includes.
 *
 * A job is a shared object exporting eddy_job_main; `eddy run JOB.so args...` loads it,
 * hands it an environment configured from the command line and the configuration file,
 * and the job builds its stream graph and calls eddy_execute.
 */
#ifndef EDDY_EDDY_H
#define EDDY_EDDY_H

#include "datastream.h"
#include "process.h"
#include "row.h"
#include "sink.h"
#include "state.h"
#include "time.h"
#include "window.h"

#define EDDY_VERSION "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* The entry point every job exports. argv[0] is the job's path; returns 0 on success. */
int eddy_job_main(eddy_env *env, int argc, char **argv);

const char *eddy_version(void);

#ifdef __cplusplus
}
#endif
#endif
