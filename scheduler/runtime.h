/* runtime.h -- what every scheduler command sets up: configuration, the loop, the AWS client. */
#ifndef DSS_SCHED_RUNTIME_H
#define DSS_SCHED_RUNTIME_H

#include <stdint.h>

#include "awsclient.h"
#include "awsconfig.h"
#include "loop.h"

struct runtime {
    struct aws_config cfg;
    struct loop *loop;
    struct aws_loop hooks;
    struct aws_client *aws;
};

/* Loads the AWS configuration and creates the loop and client. Returns 0, or -1 with err. */
int runtime_init(struct runtime *rt, const struct aws_client_options *opt, char *err, size_t errlen);
void runtime_cleanup(struct runtime *rt);
/* Runs the loop until *flag is non-zero or timeout_ms real milliseconds pass (-1 when so). */
int runtime_wait(struct runtime *rt, const int *flag, int64_t timeout_ms);

/* One synchronous request (for the CLI): runs the loop until it completes. The response is
 * handed to fn, then freed. Returns 0, or -1 if it could not be queued. */
typedef void (*runtime_response_fn)(void *arg, const struct aws_response *r);
int runtime_call_json(struct runtime *rt, const struct aws_service *svc, const char *op, cJSON *params,
                      runtime_response_fn fn, void *arg);
int runtime_call_query(struct runtime *rt, const struct aws_service *svc, const char *action, struct aws_query *q,
                       runtime_response_fn fn, void *arg);

#endif
