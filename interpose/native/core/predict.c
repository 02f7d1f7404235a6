/* Durations come from the predictor service (predictors/server.py) over a unix socket; each distinct
 * operation is asked once per process and cached, so the launch hot path is a hash lookup. */
#define _GNU_SOURCE
#include "revati.h"
#include "revati_time.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

void rv_op_init(rv_op *op, rv_op_kind kind, int device, const char *name) {
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->device = device;
    op->name = name;
}

/* ---- interned strings ---- */
typedef struct istr { struct istr *next; char s[]; } istr;
static istr *g_strings[1024];
static pthread_mutex_t g_str_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

const char *rv_intern(const char *s) {
    if (!s) return NULL;
    uint64_t b = hash_str(s) % 1024;
    pthread_mutex_lock(&g_str_lock);
    for (istr *e = g_strings[b]; e; e = e->next)
        if (!strcmp(e->s, s)) { pthread_mutex_unlock(&g_str_lock); return e->s; }
    size_t n = strlen(s);
    istr *e = malloc(sizeof *e + n + 1);
    memcpy(e->s, s, n + 1);
    e->next = g_strings[b];
    g_strings[b] = e;
    pthread_mutex_unlock(&g_str_lock);
    return e->s;
}

/* ---- prediction cache: open addressing on the op's bytes ---- */
typedef struct { rv_op op; rv_ns ns; bool used; } slot;
static slot *g_slots;
static size_t g_cap, g_count;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_fd = -1;

static uint64_t hash_op(const rv_op *op) {
    const uint64_t *w = (const uint64_t *)op;
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < sizeof *op / 8; i++) {
        h ^= w[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return h;
}

static slot *find(const rv_op *op, uint64_t h) {
    size_t i = h & (g_cap - 1);
    while (g_slots[i].used && memcmp(&g_slots[i].op, op, sizeof *op)) i = (i + 1) & (g_cap - 1);
    return &g_slots[i];
}

static void grow(void) {
    slot *old = g_slots;
    size_t oc = g_cap;
    g_cap = g_cap ? g_cap * 2 : 4096;
    g_slots = calloc(g_cap, sizeof *g_slots);
    for (size_t i = 0; i < oc; i++)
        if (old[i].used) *find(&old[i].op, hash_op(&old[i].op)) = old[i];
    free(old);
}

static void put_str(char **p, char *end, const char *key, const char *v) {
    if (!v) return;
    *p += snprintf(*p, end - *p, ",\"%s\":\"", key);
    for (; *v && *p < end - 8; v++) {
        if (*v == '"' || *v == '\\') *(*p)++ = '\\';
        if ((unsigned char)*v >= 0x20) *(*p)++ = *v;
    }
    *p += snprintf(*p, end - *p, "\"");
}

static const char *kind_name(int64_t k) {
    switch (k) {
    case RV_OP_KERNEL: return "kernel";
    case RV_OP_GEMM: return "gemm";
    case RV_OP_ATTENTION: return "attention";
    case RV_OP_MEMCPY: return "memcpy";
    case RV_OP_MEMSET: return "memset";
    case RV_OP_COLLECTIVE: return "collective";
    case RV_OP_HOST_FN: return "host_fn";
    default: return "event";
    }
}

#define TF(x) ((x) ? "true" : "false")

/* The op as one JSON line of the predictor protocol. */
int rv_op_json(const rv_op *op, char *buf, size_t size) {
    char *p = buf, *end = buf + size;
    p += snprintf(p, end - p, "{\"op\":\"%s\",\"device\":%lld", kind_name(op->kind), (long long)op->device);
    switch (op->kind) {
    case RV_OP_KERNEL:
        put_str(&p, end, "name", op->name);
        p += snprintf(p, end - p, ",\"grid\":[%lld,%lld,%lld],\"block\":[%lld,%lld,%lld],\"shmem\":%lld",
                      (long long)op->u.kernel.grid[0], (long long)op->u.kernel.grid[1], (long long)op->u.kernel.grid[2],
                      (long long)op->u.kernel.block[0], (long long)op->u.kernel.block[1], (long long)op->u.kernel.block[2],
                      (long long)op->u.kernel.shmem);
        if (op->u.kernel.elements > 0)
            p += snprintf(p, end - p, ",\"elements\":%lld,\"outputs\":%lld", (long long)op->u.kernel.elements,
                          (long long)op->u.kernel.outputs);
        break;
    case RV_OP_GEMM:
        put_str(&p, end, "library", op->name);
        p += snprintf(p, end - p, ",\"m\":%lld,\"n\":%lld,\"k\":%lld,\"batch\":%lld,\"trans_a\":%s,\"trans_b\":%s",
                      (long long)op->u.gemm.m, (long long)op->u.gemm.n, (long long)op->u.gemm.k,
                      (long long)op->u.gemm.batch, TF(op->u.gemm.trans_a), TF(op->u.gemm.trans_b));
        put_str(&p, end, "dtype_a", op->u.gemm.dtype_a);
        put_str(&p, end, "dtype_b", op->u.gemm.dtype_b);
        put_str(&p, end, "dtype_c", op->u.gemm.dtype_c);
        put_str(&p, end, "compute", op->u.gemm.compute);
        put_str(&p, end, "epilogue", op->u.gemm.epilogue);
        break;
    case RV_OP_ATTENTION:
        put_str(&p, end, "library", op->name);
        p += snprintf(p, end - p,
                      ",\"batch\":%lld,\"heads\":%lld,\"kv_heads\":%lld,\"q_len\":%lld,\"kv_len\":%lld,"
                      "\"head_dim\":%lld,\"head_dim_v\":%lld,\"causal\":%s",
                      (long long)op->u.attn.batch, (long long)op->u.attn.heads, (long long)op->u.attn.kv_heads,
                      (long long)op->u.attn.q_len, (long long)op->u.attn.kv_len, (long long)op->u.attn.head_dim,
                      (long long)op->u.attn.head_dim_v, TF(op->u.attn.causal));
        put_str(&p, end, "dtype", op->u.attn.dtype);
        break;
    case RV_OP_MEMCPY:
        p += snprintf(p, end - p, ",\"bytes\":%lld,\"pinned\":%s", (long long)op->u.copy.bytes, TF(op->u.copy.pinned));
        put_str(&p, end, "direction", op->u.copy.direction);
        break;
    case RV_OP_MEMSET:
        p += snprintf(p, end - p, ",\"bytes\":%lld", (long long)op->u.memset.bytes);
        break;
    case RV_OP_COLLECTIVE:
        put_str(&p, end, "name", op->name);
        p += snprintf(p, end - p, ",\"bytes\":%lld,\"ranks\":%lld", (long long)op->u.coll.bytes, (long long)op->u.coll.ranks);
        put_str(&p, end, "dtype", op->u.coll.dtype);
        break;
    default:
        break;
    }
    p += snprintf(p, end - p, "}\n");
    return (int)(p - buf);
}

static void connect_predictor(void) {
    const char *path = rv_cfg()->predictor;
    if (!path[0]) rv_fatal("REVATI_PREDICTOR is not set: run programs on virtual GPUs with `revati-search run -- CMD`");
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path) rv_fatal("predictor socket path too long: %s", path);
    memcpy(a.sun_path, path, strlen(path) + 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        rv_fatal("cannot reach the predictor service at %s: %s", path, strerror(errno));
    g_fd = fd;
}

static rv_ns ask_service(const rv_op *op);

/* The round trip costs real time but no virtual time: the timekeeper must see this thread as
 * running, not as blocked (it would jump the clock over the engine's step). */
static rv_ns ask(const rv_op *op) {
    rvtk_busy_begin("asking the predictor service");
    rv_ns ns = ask_service(op);
    rvtk_busy_end();
    return ns;
}

static rv_ns ask_service(const rv_op *op) {
    char req[4096], rep[4096];
    int n = rv_op_json(op, req, sizeof req);
    if (g_fd < 0) connect_predictor();
    for (int off = 0; off < n;) {
        ssize_t w = write(g_fd, req + off, n - off);
        if (w <= 0) { if (errno == EINTR) continue; rv_fatal("predictor service write failed: %s", strerror(errno)); }
        off += (int)w;
    }
    size_t got = 0;
    while (got < sizeof rep - 1) {
        ssize_t r = read(g_fd, rep + got, sizeof rep - 1 - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) rv_fatal("predictor service closed the connection");
        got += r;
        if (rep[got - 1] == '\n') break;
    }
    rep[got] = 0;
    const char *ns = strstr(rep, "\"ns\"");
    if (!ns) rv_fatal("predictor rejected %.*s: %s", n - 1, req, rep);
    ns = strchr(ns, ':');
    return ns ? strtoll(ns + 1, 0, 10) : 0;
}

rv_ns rv_predict(const rv_op *op) {
    uint64_t h = hash_op(op);
    pthread_mutex_lock(&g_lock);
    if (g_cap == 0 || (g_count + 1) * 2 > g_cap) grow();
    slot *s = find(op, h);
    if (!s->used) {
        rv_ns ns = ask(op);
        s = find(op, h);   /* unchanged: the lock is held */
        s->op = *op;
        s->ns = ns;
        s->used = true;
        g_count++;
    }
    rv_ns ns = s->ns;
    pthread_mutex_unlock(&g_lock);
    return ns;
}

/* A forked child must not share the parent's socket (replies would interleave). */
static void after_fork_child(void) {
    pthread_mutex_init(&g_lock, NULL);
    pthread_mutex_init(&g_str_lock, NULL);
    if (g_fd >= 0) close(g_fd);
    g_fd = -1;
}

__attribute__((constructor)) static void predict_init(void) { pthread_atfork(NULL, NULL, after_fork_child); }
