/* Split-state memory: device allocations are address ranges with per-device accounting; small ones
 * are real (the host reads what it wrote), large ones are never touched by the interposer, so an
 * 80 GB KV cache costs no host memory (MAP_NORESERVE, pages never faulted in). */
#define _GNU_SOURCE
#include "revati.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE_2M (2ull << 20)

static pthread_rwlock_t g_lock = PTHREAD_RWLOCK_INITIALIZER;
static rv_alloc *g_allocs;   /* sorted by base */
static size_t g_n, g_cap;
static uint64_t g_used[RV_MAX_DEVICES];

static size_t lower_bound(uintptr_t p) {
    size_t lo = 0, hi = g_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (g_allocs[mid].base < p) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static void insert(const rv_alloc *a) {
    if (g_n == g_cap) {
        g_cap = g_cap ? g_cap * 2 : 256;
        g_allocs = realloc(g_allocs, g_cap * sizeof *g_allocs);
        if (!g_allocs) rv_fatal("out of host memory for the allocation table");
    }
    size_t i = lower_bound(a->base);
    memmove(&g_allocs[i + 1], &g_allocs[i], (g_n - i) * sizeof *g_allocs);
    g_allocs[i] = *a;
    g_n++;
}

/* Removes the allocation starting exactly at p; returns it in *out. */
static bool take(uintptr_t p, rv_alloc *out) {
    size_t i = lower_bound(p);
    if (i >= g_n || g_allocs[i].base != p) return false;
    *out = g_allocs[i];
    memmove(&g_allocs[i], &g_allocs[i + 1], (g_n - i - 1) * sizeof *g_allocs);
    g_n--;
    return true;
}

bool rv_alloc_find(const void *ptr, rv_alloc *out) {
    uintptr_t p = (uintptr_t)ptr;
    bool found = false;
    pthread_rwlock_rdlock(&g_lock);
    size_t i = lower_bound(p + 1);   /* first base > p */
    if (i > 0) {
        rv_alloc *a = &g_allocs[i - 1];
        if (p >= a->base && p < a->base + (a->size ? a->size : 1)) { *out = *a; found = true; }
    }
    pthread_rwlock_unlock(&g_lock);
    return found;
}

static void *map(size_t size, bool reserve) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (reserve ? 0 : MAP_NORESERVE), -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static uint64_t capacity(void) {
    const rv_hw *hw = &rv_cfg()->hw;
    return hw->total_memory - hw->reserved_memory;
}

void *rv_dev_alloc(int dev, size_t size, bool force_real) {
    if (!rv_device_valid(dev)) return NULL;
    size_t charged = (size + PAGE_2M - 1) & ~(PAGE_2M - 1);
    if (!charged) charged = PAGE_2M;
    pthread_rwlock_wrlock(&g_lock);
    if (g_used[dev] + charged > capacity()) { pthread_rwlock_unlock(&g_lock); return NULL; }
    g_used[dev] += charged;
    pthread_rwlock_unlock(&g_lock);
    bool real = force_real || size <= rv_cfg()->real_alloc_max;
    void *p = map(size ? size : 1, real);
    if (!p) {
        pthread_rwlock_wrlock(&g_lock);
        g_used[dev] -= charged;
        pthread_rwlock_unlock(&g_lock);
        return NULL;
    }
    rv_alloc a = {(uintptr_t)p, size, dev, RV_MEM_DEVICE, real};
    pthread_rwlock_wrlock(&g_lock);
    insert(&a);
    pthread_rwlock_unlock(&g_lock);
    return p;
}

static int release(void *p, bool device) {
    rv_alloc a;
    pthread_rwlock_wrlock(&g_lock);
    bool ok = take((uintptr_t)p, &a) && ((a.kind == RV_MEM_DEVICE) == device);
    if (ok && a.kind == RV_MEM_DEVICE) {
        size_t charged = (a.size + PAGE_2M - 1) & ~(PAGE_2M - 1);
        g_used[a.device] -= charged ? charged : PAGE_2M;
    }
    pthread_rwlock_unlock(&g_lock);
    if (!ok) return -1;
    if (a.kind != RV_MEM_HOST_REGISTERED) munmap(p, a.size ? a.size : 1);
    return 0;
}

int rv_dev_free(void *p) { return release(p, true); }

void *rv_host_alloc(size_t size) {
    /* lazily backed: a large pinned staging buffer costs only what the host touches */
    void *p = map(size ? size : 1, false);
    if (!p) return NULL;
    rv_alloc a = {(uintptr_t)p, size, -1, RV_MEM_HOST_PINNED, true};
    pthread_rwlock_wrlock(&g_lock);
    insert(&a);
    pthread_rwlock_unlock(&g_lock);
    return p;
}

int rv_host_free(void *p) { return release(p, false); }

int rv_host_register(void *p, size_t size) {
    rv_alloc a = {(uintptr_t)p, size, -1, RV_MEM_HOST_REGISTERED, true};
    pthread_rwlock_wrlock(&g_lock);
    insert(&a);
    pthread_rwlock_unlock(&g_lock);
    return 0;
}

int rv_host_unregister(void *p) {
    rv_alloc a;
    pthread_rwlock_wrlock(&g_lock);
    bool ok = take((uintptr_t)p, &a);
    pthread_rwlock_unlock(&g_lock);
    return ok ? 0 : -1;
}

void rv_mem_info(int dev, uint64_t *free_b, uint64_t *total_b) {
    const rv_hw *hw = &rv_cfg()->hw;
    pthread_rwlock_rdlock(&g_lock);
    uint64_t used = rv_device_valid(dev) ? g_used[dev] : 0;
    pthread_rwlock_unlock(&g_lock);
    if (total_b) *total_b = hw->total_memory;
    if (free_b) *free_b = capacity() - used;
}

/* Unknown pointers are host memory the caller owns: real. */
static bool is_real(const void *p) {
    rv_alloc a;
    return !rv_alloc_find(p, &a) || a.real;
}

void rv_copy_effect(void *dst, const void *src, size_t n) {
    if (!n || dst == src || !is_real(dst) || !is_real(src)) return;
    memmove(dst, src, n);
}

void rv_memset_effect(void *dst, int value, size_t n, size_t elem_size) {
    if (!n || !is_real(dst)) return;
    if (elem_size <= 1) { memset(dst, value, n); return; }
    for (size_t i = 0; i < n; i++) {
        if (elem_size == 2) ((uint16_t *)dst)[i] = (uint16_t)value;
        else ((uint32_t *)dst)[i] = (uint32_t)value;
    }
}

const char *rv_copy_direction(const void *dst, const void *src, bool *pinned) {
    rv_alloc d, s;
    bool dk = rv_alloc_find(dst, &d), sk = rv_alloc_find(src, &s);
    bool dd = dk && d.device >= 0, sd = sk && s.device >= 0;
    if (pinned) *pinned = dk && sk;   /* both sides known to CUDA: device or page-locked */
    if (dd && sd) return d.device == s.device ? "d2d" : "p2p";
    if (dd) return "h2d";
    if (sd) return "d2h";
    return "h2h";
}
