/* The virtual timeline: per-stream completion times, CUDA stream/event semantics, host waits,
 * and host callbacks run when their stream reaches them. */
#define _GNU_SOURCE
#include "internal.h"
#include "revati_time.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

pthread_mutex_t rv_tl_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    rv_stream legacy;
    rv_ns blocking_max;   /* latest end of work on streams that sync with the legacy stream */
    rv_ns all_max;        /* latest end of any work on the device */
} devstate;

static devstate g_dev[RV_MAX_DEVICES];
static rv_stream *g_streams;          /* every created stream, for capture bookkeeping */
static uint64_t g_next_stream_id = RV_MAX_DEVICES + 1;
static __thread rv_stream *t_per_thread[RV_MAX_DEVICES];

/* ---------- host clock: the timekeeper's virtual clock in an emulation run; otherwise the
 * process's own (wall time plus the waits it jumped over) ---------- */
static rv_ns g_origin;
static rv_ns g_offset;   /* virtual time gained by jumping over waits */
static pthread_mutex_t g_cb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cb_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t g_cb_idle = PTHREAD_COND_INITIALIZER;   /* a callback finished */

static rv_ns real_ns(void) { return rvtk_real_ns(CLOCK_MONOTONIC); }

rv_ns rv_host_now(void) {
    if (rvtk_active()) return rvtk_now();
    return real_ns() - g_origin + __atomic_load_n(&g_offset, __ATOMIC_ACQUIRE);
}

static void wait_until(rv_ns t, const char *what) {
    if (rvtk_active()) {
        rvtk_wait_virtual(t, what);
        return;
    }
    rv_ns now = rv_host_now();
    if (t <= now) return;
    __atomic_fetch_add(&g_offset, t - now, __ATOMIC_ACQ_REL);
    pthread_mutex_lock(&g_cb_lock);
    pthread_cond_broadcast(&g_cb_cond);   /* callbacks due by now may run */
    pthread_mutex_unlock(&g_cb_lock);
}

void rv_host_busy(rv_ns ns, const char *what) {
    if (ns > 0) wait_until(rv_host_now() + ns, what);
}


/* ---------- streams ---------- */
static void init_legacy(void) {
    for (int d = 0; d < RV_MAX_DEVICES; d++) {
        rv_stream *s = &g_dev[d].legacy;
        s->magic = STREAM_MAGIC;
        s->device = d;
        s->id = (uint64_t)d + 1;
        s->legacy = s->blocking = true;
    }
}

static void after_fork_child(void) {
    pthread_mutex_init(&rv_tl_lock, NULL);
    pthread_mutex_init(&g_cb_lock, NULL);
    pthread_cond_init(&g_cb_cond, NULL);
    pthread_cond_init(&g_cb_idle, NULL);
}

__attribute__((constructor)) static void timeline_init(void) {
    g_origin = real_ns();
    init_legacy();
    pthread_atfork(NULL, NULL, after_fork_child);
}

rv_stream *rv_stream_create(int dev, unsigned flags, int priority) {
    rv_stream *s = calloc(1, sizeof *s);
    s->magic = STREAM_MAGIC;
    s->device = dev;
    s->flags = flags;
    s->priority = priority;
    s->blocking = !(flags & 0x1);   /* cudaStreamNonBlocking */
    pthread_mutex_lock(&rv_tl_lock);
    s->id = g_next_stream_id++;
    s->next_all = g_streams;
    g_streams = s;
    pthread_mutex_unlock(&rv_tl_lock);
    return s;
}

void rv_stream_destroy(rv_stream *s) {
    pthread_mutex_lock(&rv_tl_lock);
    for (rv_stream **p = &g_streams; *p; p = &(*p)->next_all)
        if (*p == s) { *p = s->next_all; break; }
    s->magic = 0;
    pthread_mutex_unlock(&rv_tl_lock);
    free(s->tails.idx);
    free(s);   /* work already enqueued keeps its place on the timeline */
}

rv_stream *rv_stream_resolve(void *handle, bool per_thread_default) {
    int dev = rv_current_device();
    if (handle == NULL && !per_thread_default) handle = RV_STREAM_LEGACY;
    if (handle == NULL || handle == RV_STREAM_PER_THREAD) {
        rv_stream *s = t_per_thread[dev];
        if (!s) {
            s = rv_stream_create(dev, 0, 0);   /* blocking: it syncs with the legacy stream */
            t_per_thread[dev] = s;
        }
        return s;
    }
    if (handle == RV_STREAM_LEGACY) return &g_dev[dev].legacy;
    rv_stream *s = handle;
    return s->magic == STREAM_MAGIC ? s : NULL;
}

int rv_stream_device(const rv_stream *s) { return s->device; }
unsigned rv_stream_flags(const rv_stream *s) { return s->flags; }
int rv_stream_priority(const rv_stream *s) { return s->priority; }
uint64_t rv_stream_id(const rv_stream *s) { return s->id; }

rv_ns rv_sched_start(rv_stream *s, rv_ns earliest) {
    devstate *d = &g_dev[s->device];
    rv_ns t = s->ready > earliest ? s->ready : earliest;
    if (s->legacy && d->blocking_max > t) t = d->blocking_max;
    else if (s->blocking && d->legacy.ready > t) t = d->legacy.ready;
    return t;
}

void rv_sched_commit(rv_stream *s, rv_ns end) {
    devstate *d = &g_dev[s->device];
    if (end > s->ready) s->ready = end;
    if (s->blocking && end > d->blocking_max) d->blocking_max = end;
    if (end > d->all_max) d->all_max = end;
}

void rv_apply_effect(const rv_effect *e) {
    if (!e) return;
    if (e->kind == RV_EFFECT_COPY) rv_copy_effect(e->dst, e->src, e->n);
    else if (e->kind == RV_EFFECT_MEMSET) rv_memset_effect(e->dst, e->value, e->n, e->elem_size);
}

bool rv_shared_clock(void) { return rvtk_active(); }

rv_ns rv_stream_earliest(rv_stream *s) {
    pthread_mutex_lock(&rv_tl_lock);
    rv_ns t = rv_sched_start(s, rv_host_now() + rv_cfg()->hw.launch_latency_ns);
    pthread_mutex_unlock(&rv_tl_lock);
    return t;
}

bool rv_stream_capturing(rv_stream *s) {
    pthread_mutex_lock(&rv_tl_lock);
    bool c = s->cap_graph != NULL;
    pthread_mutex_unlock(&rv_tl_lock);
    return c;
}

rv_ns rv_enqueue(rv_stream *s, const rv_op *op, rv_ns duration, const rv_effect *effect) {
    return rv_enqueue_after(s, op, duration, effect, 0);
}

rv_ns rv_enqueue_after(rv_stream *s, const rv_op *op, rv_ns duration, const rv_effect *effect, rv_ns not_before) {
    if (duration < 0) duration = rv_predict(op);
    pthread_mutex_lock(&rv_tl_lock);
    if (s->cap_graph) {
        size_t idx = rv_graph_append(s->cap_graph, op, duration, effect, s->tails.idx, s->tails.n, s->id);
        rv_tails_set1(&s->tails, idx);
        pthread_mutex_unlock(&rv_tl_lock);
        return 0;
    }
    /* not_before (a rendezvous) already holds the caller's launch, its arrival: host time spent
     * meeting the other ranks is not the GPU's */
    rv_ns start = rv_sched_start(s, not_before > 0 ? not_before : rv_host_now() + rv_cfg()->hw.launch_latency_ns);
    rv_sched_commit(s, start + duration);
    if (rv_trace_on()) rv_trace_op(op, s, s->id, start, duration);
    pthread_mutex_unlock(&rv_tl_lock);
    rv_apply_effect(effect);
    return start + duration;
}

int rv_enqueue_host_fn(rv_stream *s, void (*fn)(void *), void *arg) {
    rv_op op;
    rv_op_init(&op, RV_OP_HOST_FN, s->device, "host_fn");
    pthread_mutex_lock(&rv_tl_lock);
    if (s->cap_graph) {
        size_t idx = rv_graph_append(s->cap_graph, &op, 0, NULL, s->tails.idx, s->tails.n, s->id);
        s->cap_graph->nodes[idx].host_fn = fn;
        s->cap_graph->nodes[idx].host_arg = arg;
        rv_tails_set1(&s->tails, idx);
        pthread_mutex_unlock(&rv_tl_lock);
        return 0;
    }
    rv_ns t = rv_sched_start(s, rv_host_now());
    rv_sched_commit(s, t);
    pthread_mutex_unlock(&rv_tl_lock);
    rv_callback_push(t, fn, arg);
    return 0;
}

rv_ns rv_stream_ready(rv_stream *s) {
    pthread_mutex_lock(&rv_tl_lock);
    rv_ns t = s->ready;
    pthread_mutex_unlock(&rv_tl_lock);
    return t;
}

static void callbacks_drain(rv_ns t);

static void host_wait(const char *what, rv_ns t) {
    rv_ns now = rv_host_now();
    rv_ns done = (t > now ? t : now) + rv_cfg()->hw.sync_latency_ns;
    wait_until(done, what);
    callbacks_drain(done);
    if (rv_trace_on()) {
        pthread_mutex_lock(&rv_tl_lock);
        rv_trace_host(what, now, done - now);
        pthread_mutex_unlock(&rv_tl_lock);
    }
}

/* A query of unfinished work is a poll loop's first turn: the loop would spin until the work
 * completes, so the host clock moves there (the timekeeper refines this across processes). */
static bool poll_until(rv_ns t) {
    if (t <= rv_host_now()) return true;
    wait_until(t, "query of GPU work");
    return false;
}

bool rv_stream_done(rv_stream *s) { return poll_until(rv_stream_ready(s)); }
void rv_stream_sync(rv_stream *s) { host_wait("stream sync", rv_stream_ready(s)); }

void rv_device_sync(int dev) {
    pthread_mutex_lock(&rv_tl_lock);
    rv_ns t = g_dev[dev].all_max;
    pthread_mutex_unlock(&rv_tl_lock);
    host_wait("device sync", t);
}

/* ---------- events ---------- */
rv_event *rv_event_create(unsigned flags) {
    rv_event *e = calloc(1, sizeof *e);
    e->magic = EVENT_MAGIC;
    e->flags = flags;
    return e;
}

void rv_event_destroy(rv_event *e) {
    e->magic = 0;
    free(e->cap_tails.idx);
    free(e);
}

bool rv_event_valid(const rv_event *e) { return e && e->magic == EVENT_MAGIC; }

int rv_event_record(rv_event *e, rv_stream *s) {
    pthread_mutex_lock(&rv_tl_lock);
    if (s->cap_graph) {
        e->cap_graph = s->cap_graph;
        rv_tails_copy(&e->cap_tails, &s->tails);
    } else {
        e->cap_graph = NULL;
        e->t = rv_sched_start(s, rv_host_now() + rv_cfg()->hw.launch_latency_ns);
        e->recorded = true;
        rv_sched_commit(s, e->t);
    }
    pthread_mutex_unlock(&rv_tl_lock);
    return 0;
}

int rv_stream_wait_event(rv_stream *s, rv_event *e) {
    pthread_mutex_lock(&rv_tl_lock);
    if (e->cap_graph && !rv_capture_active(e->cap_graph)) e->cap_graph = NULL;
    if (e->cap_graph) {
        /* a fork inside a capture: s joins the capture after the event's point */
        if (s->cap_graph != e->cap_graph) {
            s->cap_graph = e->cap_graph;
            s->cap_origin = false;
            rv_tails_copy(&s->tails, &e->cap_tails);
        } else {
            rv_tails_merge(&s->tails, &e->cap_tails);
        }
    } else if (e->recorded && !s->cap_graph) {
        rv_sched_commit(s, rv_sched_start(s, e->t));
    }
    pthread_mutex_unlock(&rv_tl_lock);
    return 0;
}

static rv_ns event_time(rv_event *e) {
    pthread_mutex_lock(&rv_tl_lock);
    rv_ns t = e->recorded ? e->t : 0;
    pthread_mutex_unlock(&rv_tl_lock);
    return t;
}

bool rv_event_done(rv_event *e) { return poll_until(event_time(e)); }
void rv_event_sync(rv_event *e) { host_wait("event sync", event_time(e)); }

int rv_event_elapsed_ms(float *ms, rv_event *start, rv_event *end) {
    pthread_mutex_lock(&rv_tl_lock);
    bool rec = start->recorded && end->recorded;
    rv_ns a = start->t, b = end->t;
    pthread_mutex_unlock(&rv_tl_lock);
    if (!rec) return -1;
    if (b > rv_host_now() || a > rv_host_now()) return -2;
    *ms = (float)((double)(b - a) / 1e6);
    return 0;
}

/* ---------- host callbacks: a thread runs each one once the host clock reaches its time ---------- */
typedef struct cb { rv_ns t; void (*fn)(void *); void *arg; struct cb *next; } cb;
static cb *g_cbs;          /* sorted by t */
static int g_cb_running;
static pid_t g_cb_pid;

/* A host sync returns only after the callbacks its stream reached have run, as in CUDA. */
static void callbacks_drain(rv_ns t) {
    pthread_mutex_lock(&g_cb_lock);
    while ((g_cbs && g_cbs->t <= t) || g_cb_running) pthread_cond_wait(&g_cb_idle, &g_cb_lock);
    pthread_mutex_unlock(&g_cb_lock);
}

static void *callback_thread(void *unused) {
    (void)unused;
    pthread_mutex_lock(&g_cb_lock);
    for (;;) {
        while (!g_cbs) pthread_cond_wait(&g_cb_cond, &g_cb_lock);
        rv_ns wait = g_cbs->t - rv_host_now();
        if (wait > 0) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            rv_ns dl = (rv_ns)ts.tv_sec * 1000000000 + ts.tv_nsec + wait;
            ts.tv_sec = dl / 1000000000;
            ts.tv_nsec = dl % 1000000000;
            pthread_cond_timedwait(&g_cb_cond, &g_cb_lock, &ts);
            continue;
        }
        cb *c = g_cbs;
        g_cbs = c->next;
        g_cb_running++;
        pthread_mutex_unlock(&g_cb_lock);
        c->fn(c->arg);
        free(c);
        pthread_mutex_lock(&g_cb_lock);
        g_cb_running--;
        pthread_cond_broadcast(&g_cb_idle);
    }
    return NULL;
}

void rv_callback_push(rv_ns t, void (*fn)(void *), void *arg) {
    cb *c = malloc(sizeof *c);
    c->t = t;
    c->fn = fn;
    c->arg = arg;
    pthread_mutex_lock(&g_cb_lock);
    if (g_cb_pid != getpid()) {
        g_cb_pid = getpid();
        pthread_t th;
        pthread_create(&th, NULL, callback_thread, NULL);
        pthread_detach(th);
    }
    cb **p = &g_cbs;
    while (*p && (*p)->t <= t) p = &(*p)->next;
    c->next = *p;
    *p = c;
    pthread_cond_broadcast(&g_cb_cond);
    pthread_mutex_unlock(&g_cb_lock);
}

void rv_streams_leave_capture(rv_graph *g) {
    for (int d = 0; d < RV_MAX_DEVICES; d++)
        if (g_dev[d].legacy.cap_graph == g) g_dev[d].legacy.cap_graph = NULL;
    for (rv_stream *s = g_streams; s; s = s->next_all)
        if (s->cap_graph == g) { s->cap_graph = NULL; s->tails.n = 0; }
}
