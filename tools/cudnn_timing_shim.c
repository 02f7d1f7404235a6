/* Host time of the real cuDNN backend API, for profiling on a real GPU (tools/eager_step_real.py).
 *
 * LD_PRELOAD=tools/cudnn_timing_shim.so: wraps cudnnBackendCreateDescriptor (remembers each
 * descriptor's type), cudnnBackendFinalize and cudnnBackendGetAttribute (host ns per descriptor type),
 * cudnnBackendSetAttribute and cudnnBackendExecute, and forwards to the real libcudnn (RTLD_NEXT).
 * cudnn_shim_snapshot(buf) copies the cumulative counters, so a caller can attribute them to steps:
 *   buf[0..63]   Finalize ns per descriptor type      buf[64..127]  Finalize calls per type
 *   buf[128..191] GetAttribute ns per descriptor type  buf[192..255] GetAttribute calls per type
 *   buf[256] Execute ns  buf[257] Execute calls  buf[258] SetAttribute ns  buf[259] SetAttribute calls
 *   buf[260] CreateDescriptor calls  buf[261] Destroy ns  buf[262] Destroy calls
 * Nested calls (cuDNN calling its own API) are counted once, in the outermost call.
 * CUDNN_SHIM_LOG=PREFIX also writes one line per outermost Finalize and Execute call to PREFIX.<pid>:
 *   "F <type> <start ns> <duration ns>" / "E <start ns> <duration ns>", CLOCK_MONOTONIC (the clock of
 *   Python's time.perf_counter on Linux, so a run's token times can be matched to the calls).
 * Build: gcc -O2 -shared -fPIC -o tools/cudnn_timing_shim.so tools/cudnn_timing_shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define NT 64
#define NSLOT 263
static int64_t g[NSLOT];
#define MAPN 65536
static void *map_k[MAPN];
static int map_t[MAPN];

/* torch's libcudnn is in its extension's local scope, not the global one: RTLD_NEXT may not see it */
static void *real(const char *name) {
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) {
        void *h = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_NOLOAD);
        if (!h) h = dlopen("libcudnn.so.9", RTLD_NOW);
        if (h) p = dlsym(h, name);
    }
    return p;
}
static __thread int t_depth;   /* only the outermost call is timed (cuDNN may call its own API) */
#define ENTER t_depth++
#define LEAVE t_depth--
#define OUTER (t_depth == 1)

static int64_t now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
static int log_fd = -2;   /* -2: not looked up yet, -1: off */
static void log_line(const char *buf, int n) {
    if (log_fd == -2) {
        const char *p = getenv("CUDNN_SHIM_LOG");
        int fd = -1;
        if (p && *p) {
            char path[4096];
            snprintf(path, sizeof path, "%s.%d", p, (int)getpid());
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        }
        log_fd = fd;
    }
    if (log_fd >= 0 && write(log_fd, buf, n) < 0) log_fd = -1;
}
static void add(int i, int64_t v) { __atomic_fetch_add(&g[i], v, __ATOMIC_RELAXED); }
static unsigned h(void *p) { return (unsigned)(((uintptr_t)p >> 4) * 2654435761u) & (MAPN - 1); }
static void put(void *p, int t) {
    unsigned i = h(p);
    for (int n = 0; n < 64; n++, i = (i + 1) & (MAPN - 1))
        if (!map_k[i] || map_k[i] == p) { map_k[i] = p; map_t[i] = t; return; }
}
static int type_of(void *p) {
    unsigned i = h(p);
    for (int n = 0; n < 64; n++, i = (i + 1) & (MAPN - 1)) {
        if (map_k[i] == p) return map_t[i];
        if (!map_k[i]) break;
    }
    return NT - 1;
}

typedef int (*create_fn)(int, void **);
typedef int (*fin_fn)(void *);
typedef int (*get_fn)(void *, int, int, int64_t, int64_t *, void *);
typedef int (*set_fn)(void *, int, int, int64_t, const void *);
typedef int (*exe_fn)(void *, void *, void *);

int cudnnBackendCreateDescriptor(int type, void **d) {
    static create_fn f;
    if (!f) f = (create_fn)real("cudnnBackendCreateDescriptor");
    int r = f(type, d);
    if (r == 0 && d) put(*d, type >= 0 && type < NT ? type : NT - 1);
    add(260, 1);
    return r;
}
int cudnnBackendDestroyDescriptor(void *d) {
    static fin_fn f;
    if (!f) f = (fin_fn)real("cudnnBackendDestroyDescriptor");
    ENTER; int64_t t = now();
    int r = f(d);
    if (OUTER) { add(261, now() - t); add(262, 1); } LEAVE;
    return r;
}
int cudnnBackendFinalize(void *d) {
    static fin_fn f;
    if (!f) f = (fin_fn)real("cudnnBackendFinalize");
    int ty = type_of(d);
    ENTER; int64_t t = now();
    int r = f(d);
    if (OUTER) {
        int64_t d = now() - t;
        add(ty, d); add(64 + ty, 1);
        char b[96]; int n = snprintf(b, sizeof b, "F %d %lld %lld\n", ty, (long long)t, (long long)d);
        log_line(b, n);
    } LEAVE;
    return r;
}
int cudnnBackendGetAttribute(void *d, int name, int type, int64_t req, int64_t *cnt, void *out) {
    static get_fn f;
    if (!f) f = (get_fn)real("cudnnBackendGetAttribute");
    int ty = type_of(d);
    ENTER; int64_t t = now();
    int r = f(d, name, type, req, cnt, out);
    if (OUTER) { add(128 + ty, now() - t); add(192 + ty, 1); } LEAVE;
    return r;
}
int cudnnBackendSetAttribute(void *d, int name, int type, int64_t cnt, const void *in) {
    static set_fn f;
    if (!f) f = (set_fn)real("cudnnBackendSetAttribute");
    ENTER; int64_t t = now();
    int r = f(d, name, type, cnt, in);
    if (OUTER) { add(258, now() - t); add(259, 1); } LEAVE;
    return r;
}
int cudnnBackendExecute(void *hdl, void *plan, void *vp) {
    static exe_fn f;
    if (!f) f = (exe_fn)real("cudnnBackendExecute");
    ENTER; int64_t t = now();
    int r = f(hdl, plan, vp);
    if (OUTER) {
        int64_t d = now() - t;
        add(256, d); add(257, 1);
        char b[96]; int n = snprintf(b, sizeof b, "E %lld %lld\n", (long long)t, (long long)d);
        log_line(b, n);
    } LEAVE;
    return r;
}
int cudnn_shim_snapshot(int64_t *buf) {
    for (int i = 0; i < NSLOT; i++) buf[i] = __atomic_load_n(&g[i], __ATOMIC_RELAXED);
    return NSLOT;
}
