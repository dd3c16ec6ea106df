/* parameters.h -- SSM Parameter Store (parameters.c), served under ssm.c's AmazonSSM target.
 *
 * ssm.c owns the service: it appends SSM_PARAMETERS_SCHEMA to its schema and lists these
 * operations in its table, so one X-Amz-Target prefix reaches both halves of SSM.
 */
#ifndef DSS_SSM_PARAMETERS_H
#define DSS_SSM_PARAMETERS_H

#include "service.h"

/* One row per parameter, its current version only (no history, no labels). */
#define SSM_PARAMETERS_SCHEMA                                                                    \
    "CREATE TABLE IF NOT EXISTS ssm_parameters("                                                 \
    "  name TEXT PRIMARY KEY,"                                                                   \
    "  type TEXT NOT NULL,"           /* String, StringList, SecureString */                     \
    "  value TEXT NOT NULL,"                                                                     \
    "  description TEXT NOT NULL DEFAULT '',"                                                    \
    "  allowed_pattern TEXT NOT NULL DEFAULT '',"                                                \
    "  version INTEGER NOT NULL,"                                                                \
    "  modified_ms INTEGER NOT NULL,"                                                            \
    "  tier TEXT NOT NULL,"                                                                      \
    "  data_type TEXT NOT NULL,"                                                                 \
    "  tags TEXT NOT NULL DEFAULT '[]');" /* JSON [{Key, Value}] as given at creation */

int ssm_op_put_parameter(struct dss_call *call, const cJSON *params, cJSON **result);
int ssm_op_get_parameter(struct dss_call *call, const cJSON *params, cJSON **result);
int ssm_op_get_parameters(struct dss_call *call, const cJSON *params, cJSON **result);
int ssm_op_get_parameters_by_path(struct dss_call *call, const cJSON *params, cJSON **result);
int ssm_op_delete_parameter(struct dss_call *call, const cJSON *params, cJSON **result);
int ssm_op_delete_parameters(struct dss_call *call, const cJSON *params, cJSON **result);
int ssm_op_describe_parameters(struct dss_call *call, const cJSON *params, cJSON **result);

#endif
