/* revati core: the one shared state behind every fake CUDA library of a process.
 *
 * Each fake library (libcudart, libcuda, libcublas, ...) is a thin file of API behaviour on top of
 * this core; the core owns devices, memory, streams, events, graphs, the virtual timeline, the
 * predictor client, traces and API counters. Exported core symbols are prefixed rv_.
 */
#ifndef REVATI_H
#define REVATI_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef int64_t rv_ns; /* virtual nanoseconds since the process's clock origin */

#define RV_EXPORT __attribute__((visibility("default")))
#define RV_LIKELY(x) __builtin_expect(!!(x), 1)
#define RV_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---------- configuration (environment + hardware file written by the launcher) ---------- */
#define RV_MAX_DEVICES 16
#define RV_MAX_ATTR 512

typedef struct rv_hw {
    char name[256];
    char key[32];
    char uuid[33];              /* 32 hex digits */
    uint64_t total_memory;
    uint64_t reserved_memory;   /* taken by the context: free = total - reserved - used */
    int attr[RV_MAX_ATTR];      /* CUdevice_attribute / cudaDeviceAttr -> value */
    bool attr_known[RV_MAX_ATTR];
    rv_ns launch_latency_ns;
    rv_ns sync_latency_ns;
    /* host time the real cuDNN spends building what torch asks for (measured on the target host,
     * predictors/hardware/measured/library-host.json): charged to the calling thread */
    rv_ns cudnn_plan_build_ns;   /* cudnnBackendFinalize of an execution plan built from a graph */
    rv_ns cudnn_heuristics_ns;   /* an engine heuristics query (finalize + reading its results) */
    rv_ns cudnn_opgraph_ns;      /* cudnnBackendFinalize of an operation graph */
    /* host time the real driver spends on a CUDA graph, per node: instantiating it, and uploading
     * it at its first launch (same file) */
    rv_ns graph_instantiate_ns_per_node;
    rv_ns graph_upload_ns_per_node;
} rv_hw;

typedef struct rv_config {
    int gpus;
    rv_hw hw;                    /* every virtual device is this hardware */
    uint64_t real_alloc_max;     /* device allocations up to this size are backed by real memory */
    bool strict;                 /* every stub hit is fatal */
    char trace_dir[1024];        /* empty: no trace */
    char predictor[1024];        /* unix socket path of the predictor service */
} rv_config;

const rv_config *rv_cfg(void);

/* ---------- logging, errors, API counters ---------- */
void rv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rv_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

typedef struct rv_api_counter {
    const char *name;
    const char *lib;
    int stub;
    int registered;
    uint64_t calls;
    struct rv_api_counter *next;
} rv_api_counter;

void rv_counter_register(rv_api_counter *c);
static inline void rv_count(rv_api_counter *c) {
    if (RV_UNLIKELY(!__atomic_load_n(&c->registered, __ATOMIC_ACQUIRE))) rv_counter_register(c);
    __atomic_fetch_add(&c->calls, 1, __ATOMIC_RELAXED);
}
/* First statement of every hand-written API function: counts the call under its own name. */
#define RV_API(libname) \
    static rv_api_counter _rv_counter = {__func__, libname, 0, 0, 0, 0}; \
    rv_count(&_rv_counter)

/* A generated stub was hit: count it, name it once on stderr (fatal in strict mode), and return
 * the library's "not supported" code so a caller that checks the result fails naming the call. */
long rv_stub_hit(rv_api_counter *c, long not_supported);

/* ---------- devices ---------- */
int rv_device_count(void);           /* visible devices (CUDA_VISIBLE_DEVICES applies) */
int rv_device_physical(int dev);     /* the machine's device behind a visible one (NVML's index) */
void rv_device_uuid(int dev, unsigned char out[16]);   /* per physical device: catalog uuid + index */
int rv_device_by_pci_bus(int bus);   /* visible device on that PCI bus (= physical index), or -1 */
int rv_current_device(void);          /* thread-local, cheap */
void rv_set_current_device(int dev);
bool rv_device_valid(int dev);
int rv_hw_attr(int attr, int *value);  /* 0 on success, -1 unknown attribute */

/* ---------- memory (split state) ---------- */
typedef enum { RV_MEM_DEVICE = 1, RV_MEM_HOST_PINNED = 2, RV_MEM_HOST_REGISTERED = 3, RV_MEM_MANAGED = 4 } rv_mem_kind;

typedef struct rv_alloc {
    uintptr_t base;
    size_t size;
    int device;     /* -1 for host memory */
    rv_mem_kind kind;
    bool real;      /* backed by memory the interposer reads and writes */
} rv_alloc;

/* Device allocation with accounting; NULL when the device is out of memory. */
void *rv_dev_alloc(int dev, size_t size, bool force_real);
int rv_dev_free(void *p);                 /* 0 ok, -1 unknown pointer */
void *rv_host_alloc(size_t size);         /* pinned host memory */
int rv_host_free(void *p);
int rv_host_register(void *p, size_t size);
int rv_host_unregister(void *p);
bool rv_alloc_find(const void *p, rv_alloc *out);  /* allocation containing p */
void rv_mem_info(int dev, uint64_t *free_b, uint64_t *total_b);
/* Host-side effects of copies and memsets: done only where both sides are real memory. */
void rv_copy_effect(void *dst, const void *src, size_t n);
void rv_memset_effect(void *dst, int value, size_t n, size_t elem_size);
/* Direction of a copy as the predictor names it: "h2d", "d2h", "d2d", "h2h", "p2p". */
const char *rv_copy_direction(const void *dst, const void *src, bool *pinned);

/* ---------- operations and prediction ---------- */
typedef enum {
    RV_OP_KERNEL = 1, RV_OP_GEMM, RV_OP_ATTENTION, RV_OP_MEMCPY, RV_OP_MEMSET, RV_OP_COLLECTIVE,
    RV_OP_HOST_FN, RV_OP_EVENT
} rv_op_kind;

/* What the interposer knows about one piece of GPU work. All strings must be static or interned
 * (rv_intern): the struct is hashed as bytes to cache predictions, so build it with rv_op_init. */
typedef struct rv_op {
    int64_t kind;
    int64_t device;
    const char *name;   /* kernel / collective name; for gemm/attention the library */
    union {
        /* elements, outputs: the input elements a reduction reduces into how many outputs, where the
         * launch's arguments tell what its geometry does not (its grid is capped); 0 when unknown */
        struct { int64_t grid[3], block[3], shmem, elements, outputs; } kernel;
        struct {
            int64_t m, n, k, batch, trans_a, trans_b;
            const char *dtype_a, *dtype_b, *dtype_c, *compute, *epilogue;
        } gemm;
        struct {
            int64_t batch, heads, kv_heads, q_len, kv_len, head_dim, head_dim_v, causal;
            const char *dtype;
        } attn;
        struct { int64_t bytes, pinned; const char *direction; } copy;
        struct { int64_t bytes; } memset;
        struct { int64_t bytes, ranks; const char *dtype; } coll;
    } u;
} rv_op;

void rv_op_init(rv_op *op, rv_op_kind kind, int device, const char *name);
const char *rv_intern(const char *s);     /* stable copy of s, one per distinct string */
rv_ns rv_predict(const rv_op *op);        /* predicted duration (cached per distinct op) */

/* ---------- streams, events, timeline ---------- */
typedef struct rv_stream rv_stream;
typedef struct rv_event rv_event;

#define RV_STREAM_LEGACY ((void *)0x1)
#define RV_STREAM_PER_THREAD ((void *)0x2)

rv_stream *rv_stream_create(int dev, unsigned flags, int priority);
void rv_stream_destroy(rv_stream *s);
/* Handle (NULL, 0x1 legacy, 0x2 per-thread, or a created stream) -> stream; NULL if invalid.
 * per_thread_default: the caller is a _ptsz/_ptds entry point, so NULL means the per-thread stream. */
rv_stream *rv_stream_resolve(void *handle, bool per_thread_default);
int rv_stream_device(const rv_stream *s);
unsigned rv_stream_flags(const rv_stream *s);
int rv_stream_priority(const rv_stream *s);
uint64_t rv_stream_id(const rv_stream *s);

/* Enqueue work: predicted (or given, if duration >= 0) duration, scheduled after the stream's
 * previous work and the host's launch; recorded into a graph instead while the stream captures.
 * copy/memset effects are applied now, or at replay when captured (effect may be NULL). */
typedef struct rv_effect {
    int kind;            /* 0 none, 1 copy, 2 memset */
    void *dst;
    const void *src;
    size_t n;
    int value;
    size_t elem_size;
} rv_effect;
rv_ns rv_enqueue(rv_stream *s, const rv_op *op, rv_ns duration, const rv_effect *effect);
/* The same, starting at not_before (a collective's rendezvous: the latest rank's arrival, which
 * includes the launch) or after the stream's earlier work; 0 means now + launch latency. */
rv_ns rv_enqueue_after(rv_stream *s, const rv_op *op, rv_ns duration, const rv_effect *effect, rv_ns not_before);
/* When new work on s could start now: after the stream's work and the host's launch. */
rv_ns rv_stream_earliest(rv_stream *s);
bool rv_stream_capturing(rv_stream *s);
/* Copies and memsets: the op and its effect (also for graph nodes), and enqueueing them. */
void rv_copy_op(rv_op *op, rv_effect *e, int device, void *dst, const void *src, size_t n);
void rv_memset_op(rv_op *op, rv_effect *e, int device, void *dst, int value, size_t count, size_t elem);
rv_ns rv_enqueue_copy(rv_stream *s, void *dst, const void *src, size_t n);
rv_ns rv_enqueue_memset(rv_stream *s, void *dst, int value, size_t count, size_t elem);
/* A host function that runs when the stream reaches it (on the interposer's callback thread). */
int rv_enqueue_host_fn(rv_stream *s, void (*fn)(void *), void *arg);

bool rv_stream_done(rv_stream *s);         /* a query; unfinished work counts as waited for */
void rv_stream_sync(rv_stream *s);         /* host waits for the stream's work */
void rv_device_sync(int dev);
rv_ns rv_stream_ready(rv_stream *s);

rv_event *rv_event_create(unsigned flags);
void rv_event_destroy(rv_event *e);
bool rv_event_valid(const rv_event *e);
int rv_event_record(rv_event *e, rv_stream *s);
int rv_stream_wait_event(rv_stream *s, rv_event *e);
bool rv_event_done(rv_event *e);
void rv_event_sync(rv_event *e);
int rv_event_elapsed_ms(float *ms, rv_event *start, rv_event *end); /* 0 ok, -1 not recorded, -2 not ready */

/* ---------- host clock: the timekeeper's shared virtual clock in an emulation run ---------- */
rv_ns rv_host_now(void);
bool rv_shared_clock(void);   /* an emulation run's timekeeper owns the clock */
/* The calling thread spends ns of host time in a real library's code that the fake does not run
 * (e.g. cuDNN compiling an execution plan): it waits that long in virtual time, so the other
 * threads and processes of the run go on meanwhile, as they would beside a busy thread. */
void rv_host_busy(rv_ns ns, const char *what);

/* Cross-process rendezvous of the n ranks of one collective (key names it in every process): returns
 * the latest rank's arrival. The caller's thread waits, in virtual time, for the last rank. */
rv_ns rv_rendezvous(uint64_t key, int nranks, rv_ns arrival, const char *what);

/* ---------- CUDA graphs ---------- */
typedef struct rv_graph rv_graph;
typedef struct rv_graph_exec rv_graph_exec;
typedef enum { RV_CAPTURE_NONE = 0, RV_CAPTURE_ACTIVE = 1, RV_CAPTURE_INVALIDATED = 2 } rv_capture_status;

int rv_capture_begin(rv_stream *s, int mode);
int rv_capture_end(rv_stream *s, rv_graph **out);
rv_capture_status rv_capture_status_of(rv_stream *s, uint64_t *id, rv_graph **graph);
rv_graph *rv_graph_create(void);
void rv_graph_destroy(rv_graph *g);
size_t rv_graph_node_count(const rv_graph *g);
/* Explicit graph construction: append a node depending on `deps` (indices into the graph). */
int rv_graph_add(rv_graph *g, const rv_op *op, const rv_effect *effect, const size_t *deps, size_t ndeps);
rv_graph_exec *rv_graph_instantiate(rv_graph *g);
void rv_graph_exec_destroy(rv_graph_exec *x);
int rv_graph_launch(rv_graph_exec *x, rv_stream *s);
void rv_graph_upload(rv_graph_exec *x);   /* the driver's upload (host time), once per executable */
bool rv_graph_valid(const rv_graph *g);
bool rv_graph_exec_valid(const rv_graph_exec *x);

/* ---------- kernels (names from registration and driver modules) ---------- */
typedef struct rv_kernel {
    const char *name;   /* interned, mangled as registered */
    int max_threads;
    size_t shared_static;
    int num_regs;
    int max_dynamic_shared;
    int role;           /* rv_kernel_role: what its launch arguments tell (core/kernel_args.c) */
} rv_kernel;

/* Kernels whose launch arguments say what their geometry does not: torch's grouped GEMM (MoE
 * experts) is a persistent cutlass kernel, one grid for any size; the kernel that prepares its
 * problem list just before, on the same stream, carries M, N, K and the group count. torch's
 * reductions (at::native::reduce_kernel) cap their grid: their ReduceOp argument carries the sizes. */
enum { RV_KERNEL_PLAIN = 0, RV_KERNEL_GROUPED_MM_PREPARE, RV_KERNEL_GROUPED_MM, RV_KERNEL_REDUCE };
int rv_kernel_role(const char *name);
/* For a launch of a kernel with a role: true with *op (and its duration) to enqueue in its place. */
bool rv_kernel_args_op(const rv_kernel *k, const unsigned block[3], void **args, rv_stream *s, rv_op *op,
                       rv_ns *duration);
/* For a reduction: the elements it reduces and into how many outputs, from its ReduceOp argument
 * (left 0 if not found, or if k is no reduction). */
void rv_kernel_args_reduction(const rv_kernel *k, const unsigned block[3], void **args, rv_op *op);

void rv_kernel_register(const void *host_fn, const char *name);
rv_kernel *rv_kernel_lookup(const void *host_fn);     /* NULL if never registered */
rv_kernel *rv_kernel_new(const char *name);           /* driver-API functions */
void rv_var_register(const void *host_var, size_t size);
void *rv_var_device_ptr(const void *host_var, size_t *size);
rv_ns rv_launch_kernel(rv_kernel *k, const unsigned grid[3], const unsigned block[3], size_t shmem,
                       rv_stream *s, void **args);   /* args: the launch's argument pointers, or NULL */

/* ---------- library loading ---------- */
const char *rv_lib_dir(void);             /* folder of the fake libraries */
void *rv_fake_lib(const char *soname);    /* dlopen handle of one of our fakes (e.g. "libcuda.so.1") */

#endif
