/* Core-private structures shared by timeline.c, graph.c and trace.c. */
#ifndef REVATI_INTERNAL_H
#define REVATI_INTERNAL_H
#include "revati.h"
#include <pthread.h>

#define STREAM_MAGIC 0x7276734dU
#define EVENT_MAGIC 0x7276654dU
#define GRAPH_MAGIC 0x7276674dU
#define GEXEC_MAGIC 0x7276784dU

/* Effect kinds beyond copy/memset: a host function to run when the stream reaches it. */
#define RV_EFFECT_COPY 1
#define RV_EFFECT_MEMSET 2
#define RV_EFFECT_HOST_FN 3

typedef struct rv_capture_tails { size_t *idx; size_t n, cap; } rv_capture_tails;

struct rv_stream {
    uint32_t magic;
    int device;
    unsigned flags;
    int priority;
    uint64_t id;
    rv_ns ready;          /* virtual completion time of everything enqueued so far */
    bool legacy;          /* the device's legacy default stream */
    bool blocking;        /* synchronises with the legacy default stream */
    bool trace_named;
    rv_graph *cap_graph;  /* non-NULL while this stream records into a capture */
    rv_capture_tails tails;
    uint64_t cap_id;
    int cap_mode;
    bool cap_origin;
    rv_stream *next_all;
};

struct rv_event {
    uint32_t magic;
    unsigned flags;
    bool recorded;
    rv_ns t;
    rv_graph *cap_graph;   /* recorded inside a capture: marks a point of the graph */
    rv_capture_tails cap_tails;
};

typedef struct rv_gnode {
    rv_op op;
    rv_ns dur;
    rv_effect effect;
    void (*host_fn)(void *);
    void *host_arg;
    size_t *deps;
    size_t ndeps;
    uint64_t lane;   /* id of the stream that captured it (trace lane) */
} rv_gnode;

struct rv_graph {
    uint32_t magic;
    rv_gnode *nodes;
    size_t n, cap;
};

struct rv_graph_exec {
    uint32_t magic;
    bool uploaded;   /* the real driver uploads an executable graph once (cudaGraphUpload or first launch) */
    rv_graph g;
};

extern pthread_mutex_t rv_tl_lock;   /* timeline lock: streams, events, graphs, trace */

/* Scheduling under rv_tl_lock: earliest start of new work on s, and committing its end. */
rv_ns rv_sched_start(rv_stream *s, rv_ns earliest);
void rv_sched_commit(rv_stream *s, rv_ns end);
void rv_tails_set1(rv_capture_tails *t, size_t idx);
void rv_tails_copy(rv_capture_tails *dst, const rv_capture_tails *src);
void rv_tails_merge(rv_capture_tails *dst, const rv_capture_tails *src);
size_t rv_graph_append(rv_graph *g, const rv_op *op, rv_ns dur, const rv_effect *effect,
                       const size_t *deps, size_t ndeps, uint64_t lane);
void rv_streams_leave_capture(rv_graph *g);   /* timeline.c */
bool rv_capture_active(const rv_graph *g);     /* g is still being captured into */
void rv_callback_push(rv_ns t, void (*fn)(void *), void *arg);
void rv_apply_effect(const rv_effect *e);

/* trace.c (called under rv_tl_lock) */
bool rv_trace_on(void);
void rv_trace_op(const rv_op *op, rv_stream *lane_stream, uint64_t lane, rv_ns start, rv_ns dur);
void rv_trace_host(const char *what, rv_ns start, rv_ns dur);
void rv_trace_close(void);
void rv_trace_at_exit(void);   /* flush the trace, write the API counts */
void rv_counters_dump(const char *dir);

#endif
