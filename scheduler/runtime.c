/* runtime.c -- see runtime.h. */
#include "runtime.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"

int runtime_init(struct runtime *rt, const struct aws_client_options *opt, char *err, size_t errlen)
{
    memset(rt, 0, sizeof *rt);
    if (aws_config_load(&rt->cfg, err, errlen))
        return -1;
    rt->loop = loop_new();
    if (!rt->loop) {
        snprintf(err, errlen, "cannot create the event loop");
        return -1;
    }
    loop_client_hooks(rt->loop, &rt->hooks);
    rt->aws = aws_client_new(&rt->cfg, opt, sched_clock(), &rt->hooks, err, errlen);
    if (!rt->aws)
        return -1;
    loop_attach_client(rt->loop, rt->aws);
    return 0;
}

void runtime_cleanup(struct runtime *rt)
{
    aws_client_free(rt->aws);
    loop_free(rt->loop);
    aws_config_free(&rt->cfg);
    memset(rt, 0, sizeof *rt);
}

int runtime_wait(struct runtime *rt, const int *flag, int64_t timeout_ms)
{
    int64_t end = sched_monotonic_ms() + timeout_ms;
    while (!*flag) {
        int64_t left = end - sched_monotonic_ms();
        if (left <= 0)
            return -1;
        loop_run_once(rt->loop, left > 200 ? 200 : (int)left);
    }
    return 0;
}

struct sync_call {
    runtime_response_fn fn;
    void *arg;
    int done;
};

static void sync_done(void *arg, const struct aws_response *r)
{
    struct sync_call *s = arg;
    s->fn(s->arg, r);
    s->done = 1;
}

static int wait_call(struct runtime *rt, struct sync_call *s)
{
    /* The client's own timeouts and bounded retries end every request; this bound is a guard. */
    return runtime_wait(rt, &s->done, 600000);
}

int runtime_call_json(struct runtime *rt, const struct aws_service *svc, const char *op, cJSON *params,
                      runtime_response_fn fn, void *arg)
{
    struct sync_call s = {fn, arg, 0};
    if (aws_call_json(rt->aws, svc, op, params, sync_done, &s))
        return -1;
    return wait_call(rt, &s);
}

int runtime_call_query(struct runtime *rt, const struct aws_service *svc, const char *action, struct aws_query *q,
                       runtime_response_fn fn, void *arg)
{
    struct sync_call s = {fn, arg, 0};
    if (aws_call_query(rt->aws, svc, action, q, sync_done, &s))
        return -1;
    return wait_call(rt, &s);
}
