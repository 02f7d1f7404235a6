/* Kernel names from fat-binary registration (nvcc, torch) and driver-API modules (Triton), and
 * __device__/__constant__ variables backed by real memory so copies to and from symbols round-trip. */
#define _GNU_SOURCE
#include "revati.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const void *key; void *val; } entry;
typedef struct { entry *e; size_t cap, n; } ptrmap;

static ptrmap g_kernels, g_vars;
static pthread_rwlock_t g_lock = PTHREAD_RWLOCK_INITIALIZER;

static size_t slot_of(const ptrmap *m, const void *key) {
    uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ull;
    size_t i = (h >> 17) & (m->cap - 1);
    while (m->e[i].key && m->e[i].key != key) i = (i + 1) & (m->cap - 1);
    return i;
}

static void put(ptrmap *m, const void *key, void *val) {
    if ((m->n + 1) * 2 > m->cap) {
        ptrmap old = *m;
        m->cap = m->cap ? m->cap * 2 : 1 << 15;   /* torch registers ~24k kernels at import */
        m->e = calloc(m->cap, sizeof *m->e);
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.e[i].key) { m->e[slot_of(m, old.e[i].key)] = old.e[i]; m->n++; }
        free(old.e);
    }
    size_t i = slot_of(m, key);
    if (!m->e[i].key) m->n++;
    m->e[i].key = key;
    m->e[i].val = val;
}

static void *get(const ptrmap *m, const void *key) {
    if (!m->cap) return NULL;
    return m->e[slot_of(m, key)].val;
}

rv_kernel *rv_kernel_new(const char *name) {
    rv_kernel *k = calloc(1, sizeof *k);
    k->name = rv_intern(name);
    k->max_threads = 1024;
    k->role = rv_kernel_role(k->name);
    return k;
}

void rv_kernel_register(const void *host_fn, const char *name) {
    rv_kernel *k = malloc(sizeof *k);
    memset(k, 0, sizeof *k);
    k->name = name;   /* registration strings live as long as the registering library */
    k->max_threads = 1024;
    k->role = rv_kernel_role(name);
    pthread_rwlock_wrlock(&g_lock);
    put(&g_kernels, host_fn, k);
    pthread_rwlock_unlock(&g_lock);
}

rv_kernel *rv_kernel_lookup(const void *host_fn) {
    pthread_rwlock_rdlock(&g_lock);
    rv_kernel *k = get(&g_kernels, host_fn);
    pthread_rwlock_unlock(&g_lock);
    return k;
}

typedef struct { void *dev; size_t size; } var;

void rv_var_register(const void *host_var, size_t size) {
    var *v = malloc(sizeof *v);
    v->size = size;
    /* module memory: real, and like the real context's, not charged to cudaMalloc accounting */
    v->dev = calloc(1, size ? size : 1);
    pthread_rwlock_wrlock(&g_lock);
    put(&g_vars, host_var, v);
    pthread_rwlock_unlock(&g_lock);
}

void *rv_var_device_ptr(const void *host_var, size_t *size) {
    pthread_rwlock_rdlock(&g_lock);
    var *v = get(&g_vars, host_var);
    pthread_rwlock_unlock(&g_lock);
    if (!v) return NULL;
    if (size) *size = v->size;
    return v->dev;
}

rv_ns rv_launch_kernel(rv_kernel *k, const unsigned grid[3], const unsigned block[3], size_t shmem, rv_stream *s,
                       void **args) {
    rv_op op;
    rv_ns duration;
    if (k && k->role != RV_KERNEL_PLAIN && rv_kernel_args_op(k, block, args, s, &op, &duration))
        return rv_enqueue(s, &op, duration, NULL);
    rv_op_init(&op, RV_OP_KERNEL, rv_stream_device(s), k ? k->name : "unregistered_kernel");
    for (int i = 0; i < 3; i++) {
        op.u.kernel.grid[i] = grid[i];
        op.u.kernel.block[i] = block[i];
    }
    op.u.kernel.shmem = (int64_t)shmem;
    if (k) rv_kernel_args_reduction(k, block, args, &op);
    return rv_enqueue(s, &op, -1, NULL);
}
