/*
 * log.h - logging by level and component.
 *
 * Levels TRACE < DEBUG < INFO < WARN < ERROR < OFF. The level is set for all components
 * ("INFO") or per component ("WARN,runtime=DEBUG,connector=TRACE"), from the
 * configuration keys log.level and log.file (or -D). Lines go to stderr or to the log
 * file: "2026-11-25 11:41:13.123 INFO  runtime  message". Thread-safe: one write(2) per
 * line. Never used per record: ed_log_on guards anything that formats in a loop.
 */
#ifndef ED_LOG_H
#define ED_LOG_H

#include <stdbool.h>

typedef enum ed_log_level {
    ED_TRACE = 0,
    ED_DEBUG,
    ED_INFO,
    ED_WARN,
    ED_ERROR,
    ED_OFF,
} ed_log_level;

/* Parses a level spec (see above); returns 0, or -1 leaving the levels unchanged. */
int ed_log_set_levels(const char *spec);
/* True when spec would be accepted by ed_log_set_levels; changes nothing. */
bool ed_log_levels_valid(const char *spec);
/* Appends to path (NULL or "" for stderr); returns 0 or -1 (errno kept). */
int ed_log_set_file(const char *path);
bool ed_log_on(ed_log_level level, const char *component);
void ed_log(ed_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define ED_LOG_INFO(comp, ...) ed_log(ED_INFO, comp, __VA_ARGS__)
#define ED_LOG_WARN(comp, ...) ed_log(ED_WARN, comp, __VA_ARGS__)
#define ED_LOG_ERROR(comp, ...) ed_log(ED_ERROR, comp, __VA_ARGS__)
#define ED_LOG_DEBUG(comp, ...) ed_log(ED_DEBUG, comp, __VA_ARGS__)

#endif
