/* Fake NCCL (libnccl.so.2): communicators and collectives on virtual GPUs.
 *
 * What torch.distributed's NCCL backend and vLLM's pynccl call: version, unique ids, communicator
 * creation (InitRank/InitRankConfig/InitRankScalable/InitAll/Split/Shrink), queries, teardown,
 * groups, every collective and point-to-point call, NCCL's allocator and buffer registration.
 *
 * A collective becomes one RV_OP_COLLECTIVE op on its stream (name all_reduce, all_gather,
 * reduce_scatter, broadcast, reduce, send, recv or all_to_all; bytes as predictors.ops.CollectiveOp
 * defines them: the largest buffer of the call on this rank), lasting its predicted duration.
 * Data moves only where it is real and local: the rank's own part (a 1-rank all_reduce, the root's
 * broadcast, a rank's own chunk of all_gather/all_to_all); the other ranks' contributions live in
 * other processes, and values do not matter (DESIGN.md, split-state memory).
 *
 * When a collective ends is decided in one place, launch(): in an emulation run with a shared clock
 * the ranks of each collective (the two ends of a send/recv) meet in virtual time through
 * rv_rendezvous and start together at the latest arrival; without one, ranks complete on their own.
 * Communicator creation needs no exchange; ncclCommSplit does (each rank must learn who shares its
 * color) and exchanges through small files on this host (what NCCL's bootstrap network does).
 */
#define _GNU_SOURCE
#include "revati.h"
#include "abi/nccl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LIB "libnccl.so.2"
#define API() RV_API(LIB)

#define COMM_MAGIC 0x6e63636cU
#define COMM_DEAD 0x64656164U
#define REG_MAGIC 0x6e636772U

struct ncclComm {
    uint32_t magic;
    int nranks, rank, dev;
    uint64_t id;         /* names the communicator in every process (hash of its unique id) */
    uint64_t seq;        /* splits/shrinks so far: names each one's exchange */
    uint64_t ops;        /* collectives so far: every rank issues them in the same order */
    uint64_t *sent;      /* per peer: sends to it so far (a send meets the peer's recv of that number) */
    uint64_t *received;  /* per peer: receives from it so far */
    int blocking;
    char name[128];
};

/* ---------- errors ---------- */

static __thread char t_err[512];

static ncclResult_t fail(ncclResult_t r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static ncclResult_t fail(ncclResult_t r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_err, sizeof t_err, fmt, ap);
    va_end(ap);
    return r;
}

#define CHECK_COMM(c)                                                                  \
    do {                                                                               \
        if (!(c) || (c)->magic != COMM_MAGIC)                                          \
            return fail(ncclInvalidArgument, "%s: invalid communicator %p", __func__, (void *)(c)); \
    } while (0)

/* ---------- data types ---------- */

static const struct { const char *name; int size; } k_types[ncclNumTypes] = {
    [ncclInt8] = {"i8", 1},       [ncclUint8] = {"u8", 1},         [ncclInt32] = {"i32", 4},
    [ncclUint32] = {"u32", 4},    [ncclInt64] = {"i64", 8},        [ncclUint64] = {"u64", 8},
    [ncclFloat16] = {"f16", 2},   [ncclFloat32] = {"f32", 4},      [ncclFloat64] = {"f64", 8},
    [ncclBfloat16] = {"bf16", 2}, [ncclFloat8e4m3] = {"f8e4m3", 1}, [ncclFloat8e5m2] = {"f8e5m2", 1},
};

static bool type_ok(ncclDataType_t t) { return (unsigned)t < ncclNumTypes; }

/* ---------- ids ---------- */

static uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t id_hash(const ncclUniqueId *id) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < NCCL_UNIQUE_ID_BYTES; i++) h = (h ^ (unsigned char)id->internal[i]) * 1099511628211ull;
    return h;
}

static void random_bytes(void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom((char *)buf + got, n - got, 0);
        if (r > 0) { got += (size_t)r; continue; }
        if (r < 0 && errno == EINTR) continue;
        /* no getrandom: mix the clock and pid (ids must only differ between communicators) */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t s = mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 48));
        for (; got < n; got++) { s = mix64(s); ((unsigned char *)buf)[got] = (unsigned char)s; }
    }
}

/* ---------- communicators ---------- */

static ncclComm_t comm_new(int nranks, int rank, int dev, uint64_t id, int blocking, const char *name) {
    ncclComm_t c = calloc(1, sizeof *c);
    c->magic = COMM_MAGIC;
    c->nranks = nranks;
    c->rank = rank;
    c->dev = dev;
    c->id = id;
    c->blocking = blocking;
    if (name) snprintf(c->name, sizeof c->name, "%s", name);
    return c;
}

/* Settings of a user config (NULL: defaults). Only fields inside config->size are read. */
static ncclResult_t read_config(const ncclConfig_t *cfg, int *blocking, const char **name) {
    if (!cfg) return ncclSuccess;
    if (cfg->magic != NCCL_API_MAGIC || cfg->size < offsetof(ncclConfig_t, blocking) + sizeof(int))
        return fail(ncclInvalidArgument, "ncclConfig_t not initialized with NCCL_CONFIG_INITIALIZER");
    if (cfg->blocking != NCCL_CONFIG_UNDEF_INT) *blocking = cfg->blocking;
    if (cfg->size >= offsetof(ncclConfig_t, commName) + sizeof(char *) && cfg->commName) *name = cfg->commName;
    return ncclSuccess;
}

static ncclResult_t init_rank(ncclComm_t *out, int nranks, const ncclUniqueId *id, int rank, const ncclConfig_t *cfg) {
    if (!out) return fail(ncclInvalidArgument, "ncclCommInitRank: comm is NULL");
    *out = NULL;
    if (nranks < 1) return fail(ncclInvalidArgument, "ncclCommInitRank: nranks %d < 1", nranks);
    if (rank < 0 || rank >= nranks) return fail(ncclInvalidArgument, "ncclCommInitRank: rank %d not in 0..%d", rank, nranks - 1);
    int dev = rv_current_device();
    if (!rv_device_valid(dev)) return fail(ncclInvalidUsage, "ncclCommInitRank: current device %d is not a virtual GPU", dev);
    int blocking = 1;
    const char *name = NULL;
    ncclResult_t r = read_config(cfg, &blocking, &name);
    if (r != ncclSuccess) return r;
    *out = comm_new(nranks, rank, dev, id_hash(id), blocking, name);
    return ncclSuccess;
}

RV_EXPORT ncclResult_t ncclGetVersion(int *version) {
    API();
    if (!version) return fail(ncclInvalidArgument, "ncclGetVersion: version is NULL");
    *version = NCCL_VERSION_CODE;
    return ncclSuccess;
}

RV_EXPORT ncclResult_t ncclGetUniqueId(ncclUniqueId *uniqueId) {
    API();
    if (!uniqueId) return fail(ncclInvalidArgument, "ncclGetUniqueId: uniqueId is NULL");
    random_bytes(uniqueId->internal, sizeof uniqueId->internal);
    return ncclSuccess;
}

RV_EXPORT ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank) {
    API();
    return init_rank(comm, nranks, &commId, rank, NULL);
}

RV_EXPORT ncclResult_t ncclCommInitRankConfig(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank,
                                              ncclConfig_t *config) {
    API();
    return init_rank(comm, nranks, &commId, rank, config);
}

RV_EXPORT ncclResult_t ncclCommInitRankScalable(ncclComm_t *comm, int nranks, int myrank, int nId,
                                                ncclUniqueId *commIds, ncclConfig_t *config) {
    API();
    if (nId < 1 || !commIds) return fail(ncclInvalidArgument, "ncclCommInitRankScalable: no unique ids");
    return init_rank(comm, nranks, &commIds[0], myrank, config);
}

RV_EXPORT ncclResult_t ncclCommInitAll(ncclComm_t *comms, int ndev, const int *devlist) {
    API();
    if (!comms || ndev < 1) return fail(ncclInvalidArgument, "ncclCommInitAll: %d devices", ndev);
    for (int i = 0; i < ndev; i++) {
        int d = devlist ? devlist[i] : i;
        if (!rv_device_valid(d)) return fail(ncclInvalidArgument, "ncclCommInitAll: device %d is not a virtual GPU", d);
    }
    ncclUniqueId id;
    random_bytes(id.internal, sizeof id.internal);
    for (int i = 0; i < ndev; i++) comms[i] = comm_new(ndev, i, devlist ? devlist[i] : i, id_hash(&id), 1, NULL);
    return ncclSuccess;
}

RV_EXPORT ncclResult_t ncclCommFinalize(ncclComm_t comm) {
    API();
    CHECK_COMM(comm);
    return ncclSuccess;   /* nothing in flight outlives its stream's timeline */
}

/* The handle stays allocated (marked dead): a late query fails cleanly instead of reading freed memory. */
static ncclResult_t comm_release(ncclComm_t comm) {
    if (!comm) return ncclSuccess;
    CHECK_COMM(comm);
    comm->magic = COMM_DEAD;
    return ncclSuccess;
}

RV_EXPORT ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    API();
    return comm_release(comm);
}

RV_EXPORT ncclResult_t ncclCommAbort(ncclComm_t comm) {
    API();
    return comm_release(comm);
}

RV_EXPORT ncclResult_t ncclCommRevoke(ncclComm_t comm, int revokeFlags) {
    API();
    CHECK_COMM(comm);
    if (revokeFlags != 0) return fail(ncclInvalidArgument, "ncclCommRevoke: flags must be 0");
    return ncclSuccess;
}

RV_EXPORT ncclResult_t ncclCommSuspend(ncclComm_t comm, int flags) {
    API();
    (void)flags;
    CHECK_COMM(comm);
    return ncclSuccess;
}

RV_EXPORT ncclResult_t ncclCommResume(ncclComm_t comm) {
    API();
    CHECK_COMM(comm);
    return ncclSuccess;
}

RV_EXPORT ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *asyncError) {
    API();
    CHECK_COMM(comm);
    if (!asyncError) return fail(ncclInvalidArgument, "ncclCommGetAsyncError: asyncError is NULL");
    *asyncError = ncclSuccess;
    return ncclSuccess;
}

RV_EXPORT ncclResult_t ncclCommCount(const ncclComm_t comm, int *count) {
    API();
    CHECK_COMM(comm);
    if (!count) return fail(ncclInvalidArgument, "ncclCommCount: count is NULL");
    *count = comm->nranks;
    return ncclSuccess;
}

RV_EXPORT ncclResult_t ncclCommCuDevice(const ncclComm_t comm, int *device) {
    API();
    CHECK_COMM(comm);
    if (!device) return fail(ncclInvalidArgument, "ncclCommCuDevice: device is NULL");
    *device = comm->dev;
    return ncclSuccess;
}

RV_EXPORT ncclResult_t ncclCommUserRank(const ncclComm_t comm, int *rank) {
    API();
    CHECK_COMM(comm);
    if (!rank) return fail(ncclInvalidArgument, "ncclCommUserRank: rank is NULL");
    *rank = comm->rank;
    return ncclSuccess;
}

RV_EXPORT ncclResult_t ncclCommMemStats(ncclComm_t comm, ncclCommMemStat_t stat, uint64_t *value) {
    API();
    CHECK_COMM(comm);
    if (!value || (unsigned)stat > ncclStatGpuMemTotal) return fail(ncclInvalidArgument, "ncclCommMemStats: bad arguments");
    *value = 0;   /* no NCCL-internal device buffers are modelled */
    return ncclSuccess;
}

RV_EXPORT const char *ncclGetErrorString(ncclResult_t result) {
    API();
    switch (result) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
    case ncclSystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
    case ncclInternalError: return "internal error - please report this issue to the NCCL developers";
    case ncclInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
    case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
    case ncclRemoteError: return "remote process exited or there was a network error";
    case ncclInProgress: return "NCCL operation in progress";
    case ncclTimeout: return "NCCL operation timed out";
    default: return "unknown result code";
    }
}

RV_EXPORT const char *ncclGetLastError(ncclComm_t comm) {
    API();
    (void)comm;
    return t_err;
}

/* ---------- host-side exchange among a communicator's ranks (ncclCommSplit) ----------
 * Every rank posts a small record as a file $REVATI_NCCL_DIR (default $TMPDIR/revati-nccl-<uid>)
 * /<comm id>-<seq>/r<rank> and reads every rank's; the last rank to finish reading removes the folder.
 * Posting and collecting are separate so that one thread can drive several ranks in a group. */

static int xchg_timeout_ms(void) {
    const char *t = getenv("REVATI_NCCL_TIMEOUT_S");
    long s = t && *t ? strtol(t, NULL, 10) : 600;
    return (int)((s > 0 ? s : 600) * 1000);
}

static void xchg_dir(uint64_t id, uint64_t seq, char *out, size_t size) {
    const char *base = getenv("REVATI_NCCL_DIR");
    char root[512];
    if (base && *base) snprintf(root, sizeof root, "%s", base);
    else {
        const char *tmp = getenv("TMPDIR");
        snprintf(root, sizeof root, "%s/revati-nccl-%d", tmp && *tmp ? tmp : "/tmp", (int)getuid());
    }
    mkdir(root, 0700);
    snprintf(out, size, "%s/%016llx-%llu", root, (unsigned long long)id, (unsigned long long)seq);
    mkdir(out, 0700);
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static ncclResult_t xchg_post(uint64_t id, uint64_t seq, int rank, const void *data, size_t n) {
    char dir[700], tmp[800], path[800];
    xchg_dir(id, seq, dir, sizeof dir);
    snprintf(tmp, sizeof tmp, "%s/.r%d.%d", dir, rank, (int)getpid());
    snprintf(path, sizeof path, "%s/r%d", dir, rank);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, data, n) != (ssize_t)n) {
        if (fd >= 0) close(fd);
        return fail(ncclSystemError, "NCCL exchange: cannot write %s: %s", tmp, strerror(errno));
    }
    close(fd);
    if (rename(tmp, path) != 0) return fail(ncclSystemError, "NCCL exchange: cannot publish %s: %s", path, strerror(errno));
    return ncclSuccess;
}

static bool read_exact(const char *path, void *buf, size_t n) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t r = read(fd, buf, n);
    close(fd);
    return r == (ssize_t)n;
}

/* Every rank's record into all[rank * n]. */
static ncclResult_t xchg_collect(uint64_t id, uint64_t seq, int nranks, int rank, void *all, size_t n) {
    char dir[700], path[800];
    xchg_dir(id, seq, dir, sizeof dir);
    int waited = 0, limit = xchg_timeout_ms();
    for (int r = 0; r < nranks; r++) {
        snprintf(path, sizeof path, "%s/r%d", dir, r);
        while (!read_exact(path, (char *)all + (size_t)r * n, n)) {
            if (waited >= limit) {
                rv_log("NCCL communicator %016llx: rank %d of %d never arrived (waited %d s in %s)",
                       (unsigned long long)id, r, nranks, limit / 1000, dir);
                return fail(ncclSystemError, "NCCL exchange: rank %d of %d never arrived (%s)", r, nranks, dir);
            }
            sleep_ms(1);
            waited++;
        }
    }
    /* done: whoever finds every rank done (each has read everything) removes the folder */
    snprintf(path, sizeof path, "%s/d%d", dir, rank);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) close(fd);
    bool all_done = true;
    for (int r = 0; r < nranks && all_done; r++) {
        snprintf(path, sizeof path, "%s/d%d", dir, r);
        all_done = access(path, F_OK) == 0;
    }
    if (all_done) {
        for (int r = 0; r < nranks; r++) {
            snprintf(path, sizeof path, "%s/r%d", dir, r);
            unlink(path);
            snprintf(path, sizeof path, "%s/d%d", dir, r);
            unlink(path);
        }
        rmdir(dir);
    }
    return ncclSuccess;
}

/* ---------- groups ---------- */

/* One collective or point-to-point call, from the call to its launch. `meet` names its rendezvous
 * in every process: the communicator and the call's number among the communicator's collectives,
 * or among the sends from `src` to `dst` (both ends count the same calls). `order` sorts the
 * meetings of one launch the same way in every process, so that ranks that meet several times in
 * one group never wait for each other crosswise. */
typedef struct {
    ncclComm_t comm;
    rv_stream *stream;
    rv_op op;
    rv_effect effect;
    bool has_effect;
    bool p2p;
    int parties;
    uint64_t meet;
    uint64_t order[5];
    rv_ns dur, arrival, start;
} pending_op;

typedef struct { int color, key, rank; } split_rec;

typedef struct {
    ncclComm_t parent;
    uint64_t seq;
    int color, key, blocking;
    ncclComm_t *out;
    char name[128];
} pending_split;

static __thread int t_depth;
static __thread pending_op *t_ops;
static __thread size_t t_nops, t_capops;
static __thread pending_split *t_splits;
static __thread size_t t_nsplits, t_capsplits;

static int order_cmp(const pending_op *a, const pending_op *b) {
    for (int i = 0; i < 5; i++)
        if (a->order[i] != b->order[i]) return a->order[i] < b->order[i] ? -1 : 1;
    return 0;
}

/* ---- when collectives complete: the one place that decides it ----
 * The calls of a group launch together at ncclGroupEnd (an ungrouped call is a group of one), as
 * one fused kernel per stream: each arrives when its stream and host could start it. With a shared
 * clock, the ranks of each collective meet and the op starts at the latest rank's arrival, so all
 * ranks end together after the transfer time. The rendezvous blocks this host thread until the last
 * rank arrives, where real NCCL would return at once; the GPU timeline is the same. A thread that
 * drives several ranks of one communicator (ncclCommInitAll + groups) meets them locally. Captured
 * collectives do not meet here (the graph's replay would have to). Point-to-point calls of a group
 * run concurrently (both directions of the links): on each stream they take max(sum of sends, sum
 * of receives), shared among them in proportion to their predictions. */
static void launch(pending_op *ops, size_t n) {
    bool shared = rv_shared_clock();
    for (size_t i = 0; i < n; i++) {
        ops[i].dur = rv_predict(&ops[i].op);
        ops[i].arrival = shared ? rv_stream_earliest(ops[i].stream) : 0;
        ops[i].start = -1;
    }
    if (shared) {
        for (;;) {   /* meetings in `order`, each once */
            pending_op *first = NULL;
            for (size_t i = 0; i < n; i++)
                if (ops[i].start < 0 && (!first || order_cmp(&ops[i], first) < 0)) first = &ops[i];
            if (!first) break;
            rv_ns latest = 0;
            int here = 0;
            bool capturing = false;
            for (size_t i = 0; i < n; i++) {
                if (ops[i].meet != first->meet) continue;
                here++;
                if (ops[i].arrival > latest) latest = ops[i].arrival;
                capturing |= rv_stream_capturing(ops[i].stream);
            }
            if (!capturing && here < first->parties) {
                if (here == 1) latest = rv_rendezvous(first->meet, first->parties, latest, first->op.name);
                else {
                    static int warned;
                    if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
                        rv_log("NCCL: one thread drives %d of the %d ranks of a %s; the others are elsewhere: "
                               "not supported in virtual time, its ranks here complete without them",
                               here, first->parties, first->op.name);
                }
            }
            for (size_t i = 0; i < n; i++)
                if (ops[i].meet == first->meet) ops[i].start = latest;
        }
    }
    for (size_t i = 0; i < n; i++) {
        pending_op *p = &ops[i];
        rv_ns dur = p->dur;
        if (p->p2p) {
            rv_ns send = 0, recv = 0;
            for (size_t j = 0; j < n; j++) {
                if (!ops[j].p2p || ops[j].stream != p->stream) continue;
                if (!strcmp(ops[j].op.name, "send")) send += ops[j].dur;
                else recv += ops[j].dur;
            }
            rv_ns both = send + recv, fused = send > recv ? send : recv;
            if (both > 0) dur = (rv_ns)((double)dur * (double)fused / (double)both + 0.5);
        }
        rv_enqueue_after(p->stream, &p->op, dur, p->has_effect ? &p->effect : NULL, shared ? p->start : 0);
    }
}

static void flush_ops(void) {
    size_t n = t_nops;
    t_nops = 0;   /* before launching: a rendezvous may take long, nothing else may see these */
    launch(t_ops, n);
}

static ncclResult_t split_finish(const pending_split *ps);

static ncclResult_t flush_splits(void) {
    ncclResult_t first = ncclSuccess;
    for (size_t i = 0; i < t_nsplits; i++) {
        ncclResult_t r = split_finish(&t_splits[i]);
        if (r != ncclSuccess && first == ncclSuccess) first = r;
    }
    t_nsplits = 0;
    return first;
}

RV_EXPORT ncclResult_t ncclGroupStart(void) {
    API();
    t_depth++;
    return ncclSuccess;
}

RV_EXPORT ncclResult_t ncclGroupEnd(void) {
    API();
    if (t_depth <= 0) return fail(ncclInvalidUsage, "ncclGroupEnd: not in a group");
    if (--t_depth > 0) return ncclSuccess;
    ncclResult_t r = flush_splits();
    flush_ops();
    return r;
}

/* Ends the group without launching it; reports what it would have taken. */
RV_EXPORT ncclResult_t ncclGroupSimulateEnd(ncclSimInfo_t *simInfo) {
    API();
    if (t_depth <= 0) return fail(ncclInvalidUsage, "ncclGroupSimulateEnd: not in a group");
    if (--t_depth > 0) return ncclSuccess;
    rv_ns total = 0;
    for (size_t i = 0; i < t_nops; i++) total += rv_predict(&t_ops[i].op);
    t_nops = 0;
    if (simInfo) simInfo->estimatedTime = (float)((double)total / 1e3);
    return flush_splits();
}

/* ---------- collectives ---------- */

/* The stream handle as the comm's device sees it (the legacy default stream is per device). */
static rv_stream *stream_of(ncclComm_t c, cudaStream_t h) {
    int cur = rv_current_device();
    if (cur != c->dev) rv_set_current_device(c->dev);
    rv_stream *s = rv_stream_resolve((void *)h, false);
    if (cur != c->dev) rv_set_current_device(cur);
    return s;
}

/* A local copy of n bytes as the collective's data effect (applied where both sides are real). */
static rv_effect copy_effect(void *dst, const void *src, size_t n) {
    rv_effect e = {0};
    if (dst && src && dst != src && n) {
        e.kind = 1;
        e.dst = dst;
        e.src = src;
        e.n = n;
    }
    return e;
}

/* One call: `bytes` as CollectiveOp defines it, an optional local data effect; `peer` >= 0 for
 * send/recv. */
static ncclResult_t issue(ncclComm_t c, const char *name, size_t count, ncclDataType_t dt, size_t bytes,
                          cudaStream_t stream, const rv_effect *effect, int peer) {
    if (count == 0) return ncclSuccess;   /* NCCL launches nothing for empty calls */
    rv_stream *s = stream_of(c, stream);
    if (!s) return fail(ncclInvalidArgument, "%s: invalid stream %p", name, (void *)stream);
    rv_op op;
    rv_op_init(&op, RV_OP_COLLECTIVE, c->dev, name);
    op.u.coll.bytes = (int64_t)bytes;
    op.u.coll.ranks = c->nranks;
    op.u.coll.dtype = k_types[dt].name;
    pending_op p;
    memset(&p, 0, sizeof p);
    p.comm = c;
    p.stream = s;
    p.op = op;
    p.has_effect = effect && effect->kind;
    if (p.has_effect) p.effect = *effect;
    p.p2p = peer >= 0;
    if (!p.p2p) {   /* all ranks, in call order */
        uint64_t n = ++c->ops;
        p.parties = c->nranks;
        p.meet = mix64(c->id ^ mix64(n));
        uint64_t ord[5] = {0, c->id, n, 0, 0};
        memcpy(p.order, ord, sizeof ord);
    } else {        /* the two ends: the k-th send from src to dst meets dst's k-th receive from src */
        if (!c->sent) {
            c->sent = calloc((size_t)c->nranks, sizeof *c->sent);
            c->received = calloc((size_t)c->nranks, sizeof *c->received);
        }
        bool send = !strcmp(name, "send");
        uint64_t src = (uint64_t)(send ? c->rank : peer), dst = (uint64_t)(send ? peer : c->rank);
        uint64_t n = send ? ++c->sent[peer] : ++c->received[peer];
        p.parties = src == dst ? 1 : 2;
        p.meet = mix64(c->id ^ mix64((src << 40 | dst << 16 | 0x7032) ^ mix64(n)));
        uint64_t ord[5] = {1, c->id, src < dst ? src << 32 | dst : dst << 32 | src, src, n};
        memcpy(p.order, ord, sizeof ord);
    }
    if (t_depth > 0) {
        if (t_nops == t_capops) {
            t_capops = t_capops ? 2 * t_capops : 16;
            t_ops = realloc(t_ops, t_capops * sizeof *t_ops);
        }
        t_ops[t_nops++] = p;
        return ncclSuccess;
    }
    launch(&p, 1);
    return ncclSuccess;
}

#define CHECK_TYPE(t)                                                                       \
    do {                                                                                    \
        if (!type_ok(t)) return fail(ncclInvalidArgument, "%s: invalid data type %d", __func__, (int)(t)); \
    } while (0)
#define CHECK_ROOT(c, r, what)                                                                         \
    do {                                                                                               \
        if ((r) < 0 || (r) >= (c)->nranks)                                                             \
            return fail(ncclInvalidArgument, "%s: %s %d not in 0..%d", __func__, what, (int)(r), (c)->nranks - 1); \
    } while (0)

static size_t tsize(ncclDataType_t t) { return (size_t)k_types[t].size; }

RV_EXPORT ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                     ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
    API();
    (void)op;
    CHECK_COMM(comm);
    CHECK_TYPE(datatype);
    size_t bytes = count * tsize(datatype);
    rv_effect e = comm->nranks == 1 ? copy_effect(recvbuff, sendbuff, bytes) : (rv_effect){0};
    return issue(comm, "all_reduce", count, datatype, bytes, stream, &e, -1);
}

static ncclResult_t broadcast(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, int root,
                              ncclComm_t comm, cudaStream_t stream) {
    CHECK_COMM(comm);
    CHECK_TYPE(datatype);
    CHECK_ROOT(comm, root, "root");
    size_t bytes = count * tsize(datatype);
    rv_effect e = comm->rank == root ? copy_effect(recvbuff, sendbuff, bytes) : (rv_effect){0};
    return issue(comm, "broadcast", count, datatype, bytes, stream, &e, -1);
}

RV_EXPORT ncclResult_t ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                     int root, ncclComm_t comm, cudaStream_t stream) {
    API();
    return broadcast(sendbuff, recvbuff, count, datatype, root, comm, stream);
}

RV_EXPORT ncclResult_t ncclBcast(void *buff, size_t count, ncclDataType_t datatype, int root, ncclComm_t comm,
                                 cudaStream_t stream) {
    API();
    return broadcast(buff, buff, count, datatype, root, comm, stream);
}

RV_EXPORT ncclResult_t ncclReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                  ncclRedOp_t op, int root, ncclComm_t comm, cudaStream_t stream) {
    API();
    (void)op;
    CHECK_COMM(comm);
    CHECK_TYPE(datatype);
    CHECK_ROOT(comm, root, "root");
    size_t bytes = count * tsize(datatype);
    rv_effect e = comm->nranks == 1 ? copy_effect(recvbuff, sendbuff, bytes) : (rv_effect){0};
    return issue(comm, "reduce", count, datatype, bytes, stream, &e, -1);
}

RV_EXPORT ncclResult_t ncclAllGather(const void *sendbuff, void *recvbuff, size_t sendcount, ncclDataType_t datatype,
                                     ncclComm_t comm, cudaStream_t stream) {
    API();
    CHECK_COMM(comm);
    CHECK_TYPE(datatype);
    size_t chunk = sendcount * tsize(datatype);
    rv_effect e = recvbuff ? copy_effect((char *)recvbuff + (size_t)comm->rank * chunk, sendbuff, chunk) : (rv_effect){0};
    return issue(comm, "all_gather", sendcount, datatype, chunk * (size_t)comm->nranks, stream, &e, -1);
}

RV_EXPORT ncclResult_t ncclReduceScatter(const void *sendbuff, void *recvbuff, size_t recvcount,
                                         ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
    API();
    (void)op;
    CHECK_COMM(comm);
    CHECK_TYPE(datatype);
    size_t chunk = recvcount * tsize(datatype);
    rv_effect e = comm->nranks == 1 ? copy_effect(recvbuff, sendbuff, chunk) : (rv_effect){0};
    return issue(comm, "reduce_scatter", recvcount, datatype, chunk * (size_t)comm->nranks, stream, &e, -1);
}

RV_EXPORT ncclResult_t ncclAlltoAll(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                    ncclComm_t comm, cudaStream_t stream) {
    API();
    CHECK_COMM(comm);
    CHECK_TYPE(datatype);
    size_t chunk = count * tsize(datatype), own = (size_t)comm->rank * chunk;
    rv_effect e = sendbuff && recvbuff ? copy_effect((char *)recvbuff + own, (const char *)sendbuff + own, chunk) : (rv_effect){0};
    return issue(comm, "all_to_all", count, datatype, chunk * (size_t)comm->nranks, stream, &e, -1);
}

/* Gather and scatter move what all_gather and reduce_scatter move through the root's links: they
 * are costed as those (the predictor names no gather/scatter). */
RV_EXPORT ncclResult_t ncclGather(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, int root,
                                  ncclComm_t comm, cudaStream_t stream) {
    API();
    CHECK_COMM(comm);
    CHECK_TYPE(datatype);
    CHECK_ROOT(comm, root, "root");
    size_t chunk = count * tsize(datatype);
    rv_effect e = comm->rank == root && recvbuff ? copy_effect((char *)recvbuff + (size_t)root * chunk, sendbuff, chunk)
                                                 : (rv_effect){0};
    return issue(comm, "all_gather", count, datatype, chunk * (size_t)comm->nranks, stream, &e, -1);
}

RV_EXPORT ncclResult_t ncclScatter(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, int root,
                                   ncclComm_t comm, cudaStream_t stream) {
    API();
    CHECK_COMM(comm);
    CHECK_TYPE(datatype);
    CHECK_ROOT(comm, root, "root");
    size_t chunk = count * tsize(datatype);
    rv_effect e = comm->rank == root && sendbuff ? copy_effect(recvbuff, (const char *)sendbuff + (size_t)root * chunk, chunk)
                                                 : (rv_effect){0};
    return issue(comm, "reduce_scatter", count, datatype, chunk * (size_t)comm->nranks, stream, &e, -1);
}

RV_EXPORT ncclResult_t ncclSend(const void *sendbuff, size_t count, ncclDataType_t datatype, int peer, ncclComm_t comm,
                                cudaStream_t stream) {
    API();
    (void)sendbuff;
    CHECK_COMM(comm);
    CHECK_TYPE(datatype);
    CHECK_ROOT(comm, peer, "peer");
    return issue(comm, "send", count, datatype, count * tsize(datatype), stream, NULL, peer);
}

RV_EXPORT ncclResult_t ncclRecv(void *recvbuff, size_t count, ncclDataType_t datatype, int peer, ncclComm_t comm,
                                cudaStream_t stream) {
    API();
    (void)recvbuff;
    CHECK_COMM(comm);
    CHECK_TYPE(datatype);
    CHECK_ROOT(comm, peer, "peer");
    return issue(comm, "recv", count, datatype, count * tsize(datatype), stream, NULL, peer);
}

/* ---------- reduction operators ---------- */

static int g_next_op = ncclNumOps;

RV_EXPORT ncclResult_t ncclRedOpCreatePreMulSum(ncclRedOp_t *op, void *scalar, ncclDataType_t datatype,
                                                ncclScalarResidence_t residence, ncclComm_t comm) {
    API();
    (void)scalar;
    (void)residence;
    CHECK_COMM(comm);
    CHECK_TYPE(datatype);
    if (!op) return fail(ncclInvalidArgument, "ncclRedOpCreatePreMulSum: op is NULL");
    *op = (ncclRedOp_t)__atomic_fetch_add(&g_next_op, 1, __ATOMIC_RELAXED);
    return ncclSuccess;
}

RV_EXPORT ncclResult_t ncclRedOpDestroy(ncclRedOp_t op, ncclComm_t comm) {
    API();
    CHECK_COMM(comm);
    if ((int)op < ncclNumOps) return fail(ncclInvalidArgument, "ncclRedOpDestroy: %d is a built-in operator", (int)op);
    return ncclSuccess;
}

/* ---------- split and shrink ---------- */

static ncclResult_t split_finish(const pending_split *ps) {
    ncclComm_t p = ps->parent;
    split_rec *all = calloc((size_t)p->nranks, sizeof *all);
    ncclResult_t r = xchg_collect(p->id, ps->seq, p->nranks, p->rank, all, sizeof *all);
    if (r != ncclSuccess) { free(all); *ps->out = NULL; return r; }
    if (ps->color == NCCL_SPLIT_NOCOLOR) { free(all); *ps->out = NULL; return ncclSuccess; }
    /* members: ranks of my color, ordered by (key, parent rank) */
    int n = 0, me = 0;
    for (int i = 0; i < p->nranks; i++) {
        if (all[i].color != ps->color) continue;
        n++;
        if (all[i].key < ps->key || (all[i].key == ps->key && all[i].rank < p->rank)) me++;
    }
    free(all);
    uint64_t id = mix64(p->id ^ mix64(ps->seq * 0x100000001b3ull + (uint64_t)(uint32_t)ps->color));
    *ps->out = comm_new(n, me, p->dev, id, ps->blocking, ps->name[0] ? ps->name : NULL);
    return ncclSuccess;
}

RV_EXPORT ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key, ncclComm_t *newcomm, ncclConfig_t *config) {
    API();
    CHECK_COMM(comm);
    if (!newcomm) return fail(ncclInvalidArgument, "ncclCommSplit: newcomm is NULL");
    if (color < NCCL_SPLIT_NOCOLOR) return fail(ncclInvalidArgument, "ncclCommSplit: color %d", color);
    pending_split ps = {.parent = comm, .seq = ++comm->seq, .color = color, .key = key,
                        .blocking = comm->blocking, .out = newcomm};
    const char *name = NULL;
    ncclResult_t r = read_config(config, &ps.blocking, &name);
    if (r != ncclSuccess) return r;
    if (name) snprintf(ps.name, sizeof ps.name, "%s", name);
    *newcomm = NULL;
    if (comm->nranks == 1) {   /* nobody to ask */
        if (color != NCCL_SPLIT_NOCOLOR)
            *newcomm = comm_new(1, 0, comm->dev, mix64(comm->id ^ ps.seq), ps.blocking, ps.name[0] ? ps.name : NULL);
        return ncclSuccess;
    }
    split_rec mine = {color, key, comm->rank};
    r = xchg_post(comm->id, ps.seq, comm->rank, &mine, sizeof mine);
    if (r != ncclSuccess) return r;
    if (t_depth > 0) {   /* one thread may drive several ranks: collect at ncclGroupEnd */
        if (t_nsplits == t_capsplits) {
            t_capsplits = t_capsplits ? 2 * t_capsplits : 4;
            t_splits = realloc(t_splits, t_capsplits * sizeof *t_splits);
        }
        t_splits[t_nsplits++] = ps;
        return ncclSuccess;
    }
    return split_finish(&ps);
}

/* Every remaining rank passes the same exclusion list: the new communicator follows locally. */
RV_EXPORT ncclResult_t ncclCommShrink(ncclComm_t comm, int *excludeRanksList, int excludeRanksCount, ncclComm_t *newcomm,
                                      ncclConfig_t *config, int shrinkFlags) {
    API();
    (void)shrinkFlags;
    CHECK_COMM(comm);
    if (!newcomm || excludeRanksCount < 0 || (excludeRanksCount > 0 && !excludeRanksList))
        return fail(ncclInvalidArgument, "ncclCommShrink: bad arguments");
    uint64_t seq = ++comm->seq;
    int blocking = comm->blocking;
    const char *name = NULL;
    ncclResult_t r = read_config(config, &blocking, &name);
    if (r != ncclSuccess) return r;
    int below = 0, gone = 0;
    for (int i = 0; i < excludeRanksCount; i++) {
        int x = excludeRanksList[i];
        if (x < 0 || x >= comm->nranks) return fail(ncclInvalidArgument, "ncclCommShrink: rank %d not in the communicator", x);
        bool dup = false;
        for (int j = 0; j < i; j++) dup |= excludeRanksList[j] == x;
        if (dup) continue;
        gone++;
        if (x < comm->rank) below++;
        if (x == comm->rank) { *newcomm = NULL; return ncclSuccess; }
    }
    *newcomm = comm_new(comm->nranks - gone, comm->rank - below, comm->dev, mix64(comm->id ^ mix64(seq ^ 0x5348524bull)),
                        blocking, name);
    return ncclSuccess;
}

/* ---------- memory and registration ---------- */

RV_EXPORT ncclResult_t ncclMemAlloc(void **ptr, size_t size) {
    API();
    if (!ptr) return fail(ncclInvalidArgument, "ncclMemAlloc: ptr is NULL");
    *ptr = NULL;
    if (size == 0) return ncclSuccess;
    int dev = rv_current_device();
    void *p = rv_dev_alloc(dev, size, false);
    if (!p) return fail(ncclUnhandledCudaError, "ncclMemAlloc: out of memory allocating %zu bytes on device %d", size, dev);
    *ptr = p;
    return ncclSuccess;
}

RV_EXPORT ncclResult_t ncclMemFree(void *ptr) {
    API();
    if (!ptr) return ncclSuccess;
    if (rv_dev_free(ptr) != 0) return fail(ncclInvalidArgument, "ncclMemFree: %p was not allocated by ncclMemAlloc", ptr);
    return ncclSuccess;
}

typedef struct { uint32_t magic; void *buff; size_t size; } reg_handle;

static reg_handle *reg_new(void *buff, size_t size) {
    reg_handle *h = malloc(sizeof *h);
    h->magic = REG_MAGIC;
    h->buff = buff;
    h->size = size;
    return h;
}

static ncclResult_t reg_free(void *handle, const char *what) {
    reg_handle *h = handle;
    if (!h || h->magic != REG_MAGIC) return fail(ncclInvalidArgument, "%s: invalid handle %p", what, handle);
    h->magic = 0;
    free(h);
    return ncclSuccess;
}

RV_EXPORT ncclResult_t ncclCommRegister(const ncclComm_t comm, void *buff, size_t size, void **handle) {
    API();
    CHECK_COMM(comm);
    if (!handle) return fail(ncclInvalidArgument, "ncclCommRegister: handle is NULL");
    *handle = reg_new(buff, size);
    return ncclSuccess;
}

RV_EXPORT ncclResult_t ncclCommDeregister(const ncclComm_t comm, void *handle) {
    API();
    CHECK_COMM(comm);
    return reg_free(handle, "ncclCommDeregister");
}

RV_EXPORT ncclResult_t ncclCommWindowRegister(ncclComm_t comm, void *buff, size_t size, ncclWindow_t *win, int winFlags) {
    API();
    (void)winFlags;
    CHECK_COMM(comm);
    if (!win) return fail(ncclInvalidArgument, "ncclCommWindowRegister: win is NULL");
    *win = (ncclWindow_t)reg_new(buff, size);
    return ncclSuccess;
}

RV_EXPORT ncclResult_t ncclCommWindowDeregister(ncclComm_t comm, ncclWindow_t win) {
    API();
    CHECK_COMM(comm);
    return reg_free(win, "ncclCommWindowDeregister");
}

RV_EXPORT ncclResult_t ncclWinGetUserPtr(ncclComm_t comm, ncclWindow_t win, void **outUserPtr) {
    API();
    CHECK_COMM(comm);
    reg_handle *h = (reg_handle *)win;
    if (!h || h->magic != REG_MAGIC || !outUserPtr) return fail(ncclInvalidArgument, "ncclWinGetUserPtr: invalid window");
    *outUserPtr = h->buff;
    return ncclSuccess;
}

/* ---------- pncclX: the profiling-interface names of the same functions ---------- */

#define PNCCL(f) RV_EXPORT extern __typeof__(f) p##f __attribute__((alias(#f)));
PNCCL(ncclGetVersion)
PNCCL(ncclGetUniqueId)
PNCCL(ncclCommInitRank)
PNCCL(ncclCommInitRankConfig)
PNCCL(ncclCommInitRankScalable)
PNCCL(ncclCommInitAll)
PNCCL(ncclCommFinalize)
PNCCL(ncclCommDestroy)
PNCCL(ncclCommAbort)
PNCCL(ncclCommRevoke)
PNCCL(ncclCommSuspend)
PNCCL(ncclCommResume)
PNCCL(ncclCommGetAsyncError)
PNCCL(ncclCommCount)
PNCCL(ncclCommCuDevice)
PNCCL(ncclCommUserRank)
PNCCL(ncclCommMemStats)
PNCCL(ncclGetErrorString)
PNCCL(ncclGetLastError)
PNCCL(ncclGroupStart)
PNCCL(ncclGroupEnd)
PNCCL(ncclGroupSimulateEnd)
PNCCL(ncclAllReduce)
PNCCL(ncclBroadcast)
PNCCL(ncclBcast)
PNCCL(ncclReduce)
PNCCL(ncclAllGather)
PNCCL(ncclReduceScatter)
PNCCL(ncclAlltoAll)
PNCCL(ncclGather)
PNCCL(ncclScatter)
PNCCL(ncclSend)
PNCCL(ncclRecv)
PNCCL(ncclRedOpCreatePreMulSum)
PNCCL(ncclRedOpDestroy)
PNCCL(ncclCommSplit)
PNCCL(ncclCommShrink)
PNCCL(ncclMemAlloc)
PNCCL(ncclMemFree)
PNCCL(ncclCommRegister)
PNCCL(ncclCommDeregister)
PNCCL(ncclCommWindowRegister)
PNCCL(ncclCommWindowDeregister)
PNCCL(ncclWinGetUserPtr)
