/*
 * connectors.h - the built-in sources and sinks, one factory each.
 *
 * Each connector is one file of this folder exporting one `const ed_factory`; the
 * runtime's registry table (src/runtime/registry.c) lists them by these names, so adding
 * a connector means one file here, one line below and one row there.
 *
 *   source  datagen      random or sequence rows               (datagen.c)
 *   source  filesystem   text or CSV files, split by bytes      (filesystem_source.c)
 *   source  socket       delimited lines from a TCP socket      (socket.c, parallelism 1)
 *   sink    print        Flink's print(): "N> " + the row       (print.c)
 *   sink    blackhole    counts and discards                    (blackhole.c)
 *   sink    filesystem   text or CSV files, one per subtask     (filesystem_sink.c)
 *
 * Options are the node's parameters (ed_node_param), with Flink's option names; each
 * factory's check() validates them when the job is built and reports a bad one as
 * "<connector>: option '<name>': '<value>' <what is wrong>".
 *
 * THE RUNTIME'S CONTRACT FOR ed_factory.options (what registry/builder code must do):
 *   - options != NULL: a NULL-terminated list of every option name the connector takes;
 *     the builder rejects any other key before calling check(). An empty list ({NULL})
 *     means the connector takes no options (blackhole).
 *   - options == NULL: the option names are dynamic (datagen's fields.<name>.<prop>);
 *     the builder must NOT check names itself and must call check(), which rejects
 *     unknown names on its own. A factory with options == NULL always has a check().
 * (operator.h's comment "NULL entries list means no options" predates this: for the
 * connectors, NULL means "check() decides", as said here.)
 *
 * Thread contract: check() runs on the builder's thread and reads only the node; the
 * vtable functions run on the task thread of their subtask, as every operator's do.
 */
#ifndef ED_CONNECTORS_H
#define ED_CONNECTORS_H

#include "../runtime/operator.h"

extern const ed_factory ed_connector_datagen;           /* source "datagen" */
extern const ed_factory ed_connector_filesystem_source; /* source "filesystem" */
extern const ed_factory ed_connector_socket;            /* source "socket", max parallelism 1 */
extern const ed_factory ed_connector_nexmark;           /* source "nexmark" */
extern const ed_factory ed_connector_ysb;               /* source "ysb" */
extern const ed_factory ed_connector_print;             /* sink "print" */
extern const ed_factory ed_connector_blackhole;         /* sink "blackhole" */
extern const ed_factory ed_connector_filesystem_sink;   /* sink "filesystem" */
extern const ed_factory ed_connector_filesink;          /* sink "filesink", exactly once */

#endif
