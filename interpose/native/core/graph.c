/* CUDA graphs: stream capture records work as nodes with dependencies; a replay schedules every
 * node after its dependencies (the captured work costs its predicted time again) and applies the
 * captured copies and memsets then. */
#define _GNU_SOURCE
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static uint64_t g_capture_ids;

/* Graphs being captured into (under rv_tl_lock); events recorded in a finished capture are inert. */
#define MAX_CAPTURES 64
static const rv_graph *g_active[MAX_CAPTURES];

bool rv_capture_active(const rv_graph *g) {
    for (int i = 0; i < MAX_CAPTURES; i++)
        if (g_active[i] == g) return true;
    return false;
}

static void capture_finish(rv_graph *g) {
    for (int i = 0; i < MAX_CAPTURES; i++)
        if (g_active[i] == g) g_active[i] = NULL;
    rv_streams_leave_capture(g);
}


/* ---------- dependency sets ---------- */
static void tails_reserve(rv_capture_tails *t, size_t n) {
    if (n <= t->cap) return;
    t->cap = n < 4 ? 4 : n * 2;
    t->idx = realloc(t->idx, t->cap * sizeof *t->idx);
}

void rv_tails_set1(rv_capture_tails *t, size_t idx) {
    tails_reserve(t, 1);
    t->idx[0] = idx;
    t->n = 1;
}

void rv_tails_copy(rv_capture_tails *dst, const rv_capture_tails *src) {
    tails_reserve(dst, src->n);
    if (src->n) memcpy(dst->idx, src->idx, src->n * sizeof *src->idx);
    dst->n = src->n;
}

void rv_tails_merge(rv_capture_tails *dst, const rv_capture_tails *src) {
    for (size_t i = 0; i < src->n; i++) {
        bool have = false;
        for (size_t j = 0; j < dst->n && !have; j++) have = dst->idx[j] == src->idx[i];
        if (!have) {
            tails_reserve(dst, dst->n + 1);
            dst->idx[dst->n++] = src->idx[i];
        }
    }
}

/* ---------- graphs ---------- */
rv_graph *rv_graph_create(void) {
    rv_graph *g = calloc(1, sizeof *g);
    g->magic = GRAPH_MAGIC;
    return g;
}

static void free_nodes(rv_graph *g) {
    for (size_t i = 0; i < g->n; i++) free(g->nodes[i].deps);
    free(g->nodes);
    g->nodes = NULL;
    g->n = g->cap = 0;
}

void rv_graph_destroy(rv_graph *g) {
    pthread_mutex_lock(&rv_tl_lock);
    capture_finish(g);
    pthread_mutex_unlock(&rv_tl_lock);
    free_nodes(g);
    g->magic = 0;
    free(g);
}

bool rv_graph_valid(const rv_graph *g) { return g && g->magic == GRAPH_MAGIC; }
bool rv_graph_exec_valid(const rv_graph_exec *x) { return x && x->magic == GEXEC_MAGIC; }
size_t rv_graph_node_count(const rv_graph *g) { return g->n; }

size_t rv_graph_append(rv_graph *g, const rv_op *op, rv_ns dur, const rv_effect *effect,
                       const size_t *deps, size_t ndeps, uint64_t lane) {
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 64;
        g->nodes = realloc(g->nodes, g->cap * sizeof *g->nodes);
    }
    rv_gnode *nd = &g->nodes[g->n];
    memset(nd, 0, sizeof *nd);
    nd->op = *op;
    nd->dur = dur;
    if (effect) nd->effect = *effect;
    nd->lane = lane;
    if (ndeps) {
        nd->deps = malloc(ndeps * sizeof *deps);
        memcpy(nd->deps, deps, ndeps * sizeof *deps);
        nd->ndeps = ndeps;
    }
    return g->n++;
}

int rv_graph_add(rv_graph *g, const rv_op *op, const rv_effect *effect, const size_t *deps, size_t ndeps) {
    for (size_t i = 0; i < ndeps; i++)
        if (deps[i] >= g->n) return -1;
    rv_ns dur = (op->kind == RV_OP_HOST_FN || op->kind == RV_OP_EVENT) ? 0 : rv_predict(op);
    pthread_mutex_lock(&rv_tl_lock);
    size_t idx = rv_graph_append(g, op, dur, effect, deps, ndeps, 0);
    pthread_mutex_unlock(&rv_tl_lock);
    return (int)idx;
}

/* ---------- capture ---------- */
int rv_capture_begin(rv_stream *s, int mode) {
    pthread_mutex_lock(&rv_tl_lock);
    if (s->cap_graph) { pthread_mutex_unlock(&rv_tl_lock); return -1; }
    int slot = 0;
    while (slot < MAX_CAPTURES && g_active[slot]) slot++;
    if (slot == MAX_CAPTURES) { pthread_mutex_unlock(&rv_tl_lock); return -1; }
    s->cap_graph = rv_graph_create();
    g_active[slot] = s->cap_graph;
    s->tails.n = 0;
    s->cap_id = ++g_capture_ids;
    s->cap_mode = mode;
    s->cap_origin = true;
    pthread_mutex_unlock(&rv_tl_lock);
    return 0;
}

int rv_capture_end(rv_stream *s, rv_graph **out) {
    pthread_mutex_lock(&rv_tl_lock);
    rv_graph *g = s->cap_graph;
    if (!g || !s->cap_origin) { pthread_mutex_unlock(&rv_tl_lock); return -1; }
    capture_finish(g);
    pthread_mutex_unlock(&rv_tl_lock);
    *out = g;
    return 0;
}

rv_capture_status rv_capture_status_of(rv_stream *s, uint64_t *id, rv_graph **graph) {
    pthread_mutex_lock(&rv_tl_lock);
    rv_capture_status st = s->cap_graph ? RV_CAPTURE_ACTIVE : RV_CAPTURE_NONE;
    if (id) *id = s->cap_graph ? s->cap_id : 0;
    if (graph) *graph = s->cap_graph;
    pthread_mutex_unlock(&rv_tl_lock);
    return st;
}

/* ---------- instantiate and replay ---------- */
rv_graph_exec *rv_graph_instantiate(rv_graph *g) {
    /* the executable owns a copy: torch destroys the graph right after instantiating it */
    rv_graph_exec *x = calloc(1, sizeof *x);
    x->magic = GEXEC_MAGIC;
    pthread_mutex_lock(&rv_tl_lock);
    for (size_t i = 0; i < g->n; i++) {
        rv_gnode *nd = &g->nodes[i];
        size_t idx = rv_graph_append(&x->g, &nd->op, nd->dur, &nd->effect, nd->deps, nd->ndeps, nd->lane);
        x->g.nodes[idx].host_fn = nd->host_fn;
        x->g.nodes[idx].host_arg = nd->host_arg;
    }
    pthread_mutex_unlock(&rv_tl_lock);
    rv_host_busy((rv_ns)x->g.n * rv_cfg()->hw.graph_instantiate_ns_per_node, "cudaGraphInstantiate");
    return x;
}

/* The real driver's host time to upload an executable graph to the device, once per executable. */
void rv_graph_upload(rv_graph_exec *x) {
    if (__atomic_exchange_n(&x->uploaded, true, __ATOMIC_ACQ_REL)) return;
    rv_host_busy((rv_ns)x->g.n * rv_cfg()->hw.graph_upload_ns_per_node, "cudaGraphUpload");
}

void rv_graph_exec_destroy(rv_graph_exec *x) {
    free_nodes(&x->g);
    x->magic = 0;
    free(x);
}

int rv_graph_launch(rv_graph_exec *x, rv_stream *s) {
    rv_graph *g = &x->g;
    rv_graph_upload(x);
    rv_ns *end = g->n ? malloc(g->n * sizeof *end) : NULL;
    pthread_mutex_lock(&rv_tl_lock);
    if (s->cap_graph) { pthread_mutex_unlock(&rv_tl_lock); free(end); return -1; }
    rv_ns t0 = rv_sched_start(s, rv_host_now() + rv_cfg()->hw.launch_latency_ns);
    rv_ns last = t0;
    for (size_t i = 0; i < g->n; i++) {
        rv_gnode *nd = &g->nodes[i];
        rv_ns start = t0;
        for (size_t j = 0; j < nd->ndeps; j++)
            if (end[nd->deps[j]] > start) start = end[nd->deps[j]];
        end[i] = start + nd->dur;
        if (end[i] > last) last = end[i];
        if (rv_trace_on() && nd->op.kind != RV_OP_HOST_FN) rv_trace_op(&nd->op, NULL, nd->lane ? nd->lane : s->id, start, nd->dur);
    }
    rv_sched_commit(s, last);
    pthread_mutex_unlock(&rv_tl_lock);
    for (size_t i = 0; i < g->n; i++) {
        rv_gnode *nd = &g->nodes[i];
        rv_apply_effect(&nd->effect);
        if (nd->host_fn) rv_callback_push(end[i], nd->host_fn, nd->host_arg);
    }
    free(end);
    return 0;
}
