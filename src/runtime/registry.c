/*
 * registry.c - every operator, source and sink kind in one table. The builder validates
 * a node against its row when the job is built; the runtime finds the vtable by name
 * when the task is made, in this process or (later) in a TaskManager.
 */
#include <string.h>

#include "../connectors/connectors.h"
#include "operators.h"

static const char *const no_options[] = {NULL};

static const ed_factory ed_op_map = {"map", ED_FACTORY_OPERATOR, &ed_op_map_vt, NULL, 0, no_options};
static const ed_factory ed_op_flat_map = {"flat_map", ED_FACTORY_OPERATOR, &ed_op_flat_map_vt,
                                          NULL, 0, no_options};
static const ed_factory ed_op_process = {"process", ED_FACTORY_OPERATOR, &ed_op_flat_map_vt,
                                         NULL, 0, no_options};
static const ed_factory ed_op_filter = {"filter", ED_FACTORY_OPERATOR, &ed_op_filter_vt, NULL,
                                        0, no_options};
static const ed_factory ed_op_reduce = {"reduce", ED_FACTORY_OPERATOR, &ed_op_reduce_vt, NULL,
                                        0, no_options};
static const char *const agg_options[] = {"agg", "field", NULL};
static const ed_factory ed_op_agg = {"aggregate", ED_FACTORY_OPERATOR, &ed_op_agg_vt, NULL, 0,
                                     agg_options};
static const ed_factory ed_src_collection = {"collection", ED_FACTORY_SOURCE,
                                             &ed_op_collection_vt, NULL, 1, no_options};
static const ed_factory ed_sink_collect = {"collect", ED_FACTORY_SINK, &ed_op_collect_vt, NULL,
                                           0, no_options};

static const ed_factory *const factories[] = {
    &ed_op_map,
    &ed_op_flat_map,
    &ed_op_process,
    &ed_op_filter,
    &ed_op_reduce,
    &ed_op_agg,
    &ed_src_collection,
    &ed_sink_collect,
    &ed_sink_txn_factory,
    &ed_connector_datagen,
    &ed_connector_filesystem_source,
    &ed_connector_socket,
    &ed_connector_nexmark,
    &ed_connector_ysb,
    &ed_connector_print,
    &ed_connector_blackhole,
    &ed_connector_filesystem_sink,
    &ed_connector_filesink,
};

static const ed_factory *find_in(const ed_factory *const *t, const char *name,
                                 ed_factory_kind kind)
{
    for (; *t; t++)
        if ((*t)->kind == kind && strcmp((*t)->name, name) == 0) return *t;
    return NULL;
}

const ed_factory *ed_factory_find(const char *name, ed_factory_kind kind)
{
    if (!name) return NULL;
    for (size_t i = 0; i < ED_ARRAY_LEN(factories); i++)
        if (factories[i]->kind == kind && strcmp(factories[i]->name, name) == 0)
            return factories[i];
    const ed_factory *f = find_in(ed_window_factories, name, kind);
    if (!f) f = find_in(ed_process_factories, name, kind);
    if (!f) f = find_in(ed_time_factories, name, kind);
    return f;
}
