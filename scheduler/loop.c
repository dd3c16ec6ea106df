/* loop.c -- see loop.h. One thread; epoll + a binary heap of timers. */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "clock.h"

struct watcher {
    loop_io_fn fn;
    void *arg;
    int events; /* 0: not watched */
};

struct timer {
    int64_t due;
    uint64_t seq; /* ties fire in the order they were set */
    loop_timer_fn fn;
    void *arg;
};

struct loop {
    int epfd;
    struct watcher *w;
    int nw;
    struct timer *heap;
    int nheap, capheap;
    uint64_t seq;
    int64_t rt_due; /* monotonic ms; -1 disarmed */
    loop_timer_fn rt_fn;
    void *rt_arg;
    int (*busy)(void *);
    void *busy_arg;
    struct aws_client *client;
};

struct loop *loop_new(void)
{
    struct loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return NULL;
    }
    l->rt_due = -1;
    return l;
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    close(l->epfd);
    free(l->w);
    free(l->heap);
    free(l);
}

int loop_watch(struct loop *l, int fd, int events, loop_io_fn fn, void *arg)
{
    if (fd < 0)
        return -1;
    if (fd >= l->nw) {
        int n = fd + 64;
        struct watcher *w = realloc(l->w, (size_t)n * sizeof *w);
        if (!w)
            return -1;
        memset(w + l->nw, 0, (size_t)(n - l->nw) * sizeof *w);
        l->w = w;
        l->nw = n;
    }
    struct watcher *w = &l->w[fd];
    struct epoll_event ev = {0};
    ev.data.fd = fd;
    ev.events = (events & AWS_IO_IN ? EPOLLIN : 0) | (events & AWS_IO_OUT ? EPOLLOUT : 0);
    int rc = 0;
    if (!events) {
        if (w->events)
            epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL); /* may fail if already closed */
    } else if (w->events) {
        rc = epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
    } else {
        rc = epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
        if (rc && errno == EEXIST)
            rc = epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
    }
    w->events = events;
    w->fn = fn;
    w->arg = arg;
    return rc ? -1 : 0;
}

static int timer_less(const struct timer *a, const struct timer *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

int loop_at(struct loop *l, int64_t due_ms, loop_timer_fn fn, void *arg)
{
    if (l->nheap == l->capheap) {
        int n = l->capheap ? l->capheap * 2 : 256;
        struct timer *h = realloc(l->heap, (size_t)n * sizeof *h);
        if (!h)
            return -1;
        l->heap = h;
        l->capheap = n;
    }
    int i = l->nheap++;
    struct timer t = {due_ms, l->seq++, fn, arg};
    while (i > 0 && timer_less(&t, &l->heap[(i - 1) / 2])) {
        l->heap[i] = l->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    l->heap[i] = t;
    return 0;
}

static struct timer heap_pop(struct loop *l)
{
    struct timer top = l->heap[0], last = l->heap[--l->nheap];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= l->nheap)
            break;
        if (c + 1 < l->nheap && timer_less(&l->heap[c + 1], &l->heap[c]))
            c++;
        if (!timer_less(&l->heap[c], &last))
            break;
        l->heap[i] = l->heap[c];
        i = c;
    }
    if (l->nheap)
        l->heap[i] = last;
    return top;
}

void loop_realtime(struct loop *l, long ms, loop_timer_fn fn, void *arg)
{
    l->rt_due = ms < 0 ? -1 : sched_monotonic_ms() + ms;
    l->rt_fn = fn;
    l->rt_arg = arg;
}

void loop_set_busy(struct loop *l, int (*busy)(void *), void *arg)
{
    l->busy = busy;
    l->busy_arg = arg;
}

int loop_timers(const struct loop *l)
{
    return l->nheap;
}

int64_t loop_next_due(const struct loop *l)
{
    return l->nheap ? l->heap[0].due : INT64_MAX;
}

int loop_run_once(struct loop *l, int max_wait_ms)
{
    int ran = 0;
    int64_t wait = max_wait_ms;
    int virt = sched_clock_is_virtual();
    if (l->nheap) {
        if (!virt)
            wait = sched_clock_wall_ms_until(l->heap[0].due);
        else if (l->heap[0].due <= sched_now_ms() || !(l->busy && l->busy(l->busy_arg)))
            wait = 0; /* virtual: due now, or nothing in flight so the clock may jump */
        if (wait > max_wait_ms)
            wait = max_wait_ms;
    }
    if (l->rt_due >= 0) {
        int64_t d = l->rt_due - sched_monotonic_ms();
        if (d < 0)
            d = 0;
        if (d < wait)
            wait = d;
    }
    if (wait < 0)
        wait = 0;
    struct epoll_event evs[256];
    int n = epoll_wait(l->epfd, evs, 256, (int)wait);
    for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        if (fd >= l->nw || !l->w[fd].events)
            continue;
        int e = 0;
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            e |= AWS_IO_IN;
        if (evs[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            e |= AWS_IO_OUT;
        l->w[fd].fn(l->w[fd].arg, fd, e);
        ran++;
    }
    if (l->rt_due >= 0 && sched_monotonic_ms() >= l->rt_due) {
        l->rt_due = -1;
        l->rt_fn(l->rt_arg);
        ran++;
    }
    if (virt && l->nheap && !(l->busy && l->busy(l->busy_arg)) && l->heap[0].due > sched_now_ms())
        sched_clock_wait_until(l->heap[0].due); /* a jump, or a sleep on the emulator's barrier (clock.h) */
    /* Fire only timers already due now; timers they add wait for the next iteration. */
    int64_t now = sched_now_ms();
    int budget = l->nheap;
    if (sched_clock_on_emulator() && l->busy && l->busy(l->busy_arg))
        budget = 0; /* emulator clock: timers wait for every answer, so wall time never orders requests */
    while (budget-- > 0 && l->nheap && l->heap[0].due <= now) {
        struct timer t = heap_pop(l);
        t.fn(t.arg);
        ran++;
    }
    return ran;
}

/* ---- the AWS client adapter ---- */

static void client_io(void *arg, int fd, int events)
{
    struct loop *l = arg;
    if (l->client)
        aws_client_socket_event(l->client, fd, events);
}

static void client_rt(void *arg)
{
    struct loop *l = arg;
    if (l->client)
        aws_client_curl_timeout(l->client);
}

static int hook_watch(void *ctx, int fd, int events)
{
    struct loop *l = ctx;
    return loop_watch(l, fd, events, client_io, l);
}

static void hook_curl_timer(void *ctx, long ms)
{
    struct loop *l = ctx;
    loop_realtime(l, ms, client_rt, l);
}

static int hook_at(void *ctx, int64_t due, void (*fn)(void *), void *arg)
{
    return loop_at(ctx, due, fn, arg);
}

static int client_busy(void *arg)
{
    struct loop *l = arg;
    return l->client && aws_client_in_flight(l->client) > 0;
}

void loop_client_hooks(struct loop *l, struct aws_loop *hooks)
{
    hooks->ctx = l;
    hooks->watch = hook_watch;
    hooks->curl_timer = hook_curl_timer;
    hooks->at = hook_at;
}

void loop_attach_client(struct loop *l, struct aws_client *c)
{
    l->client = c;
    if (!l->busy)
        loop_set_busy(l, client_busy, l);
}
