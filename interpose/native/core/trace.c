/* Per-process Chrome trace (JSON array format; opens in Perfetto) of every stream in virtual time,
 * written to $REVATI_TRACE_DIR/trace-<pid>.json, plus the API call counts at exit.
 *
 * The engine's host thread records each op as it launches it, and that thread's CPU time is the
 * emulated host's time: formatting JSON there (1-2 us a launch of a C loop, more with an engine's
 * long kernel names) made traced runs slower than untraced ones (an eager 8B decode run's TPOT
 * 104-122 ms traced, 88 ms untraced). So the run appends fixed-size binary records to an unlinked
 * scratch file, and the JSON is written from them at exit. A process killed without exiting leaves
 * no trace. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    rv_op op;              /* strings in it are static or interned: still valid at exit */
    const char *host;      /* non-NULL: a host wait of this name, not an op */
    uint64_t lane;
    rv_ns start, dur;
    int32_t lane_device;   /* name_lane: the lane's thread_name comes first */
    bool name_lane, lane_legacy;
} record;

/* The records so far: an unlinked file, gone with the process, and a buffer of our own (not stdio:
 * a forked child's exit would flush a stdio buffer of the parent's records into the shared file). */
#define RECORD_BUF (1 << 20)
static int g_rec = -1;
static char *g_buf;
static size_t g_len;
static pid_t g_pid;
static int g_state;   /* 0 unknown, 1 on, -1 off */

/* Also called by _exit(), which skips atexit handlers (os._exit, forked workers). */
void rv_trace_at_exit(void) {
    const char *dir = getenv("REVATI_TRACE_DIR");   /* not rv_cfg(): a process may never touch CUDA */
    if (!dir || !*dir) return;
    pthread_mutex_lock(&rv_tl_lock);
    rv_trace_close();
    pthread_mutex_unlock(&rv_tl_lock);
    rv_counters_dump(dir);
}

static bool open_trace(void) {
    const rv_config *c = rv_cfg();
    if (!c->trace_dir[0]) return false;
    char path[1200];
    snprintf(path, sizeof path, "%s/trace-%d.records", c->trace_dir, (int)getpid());
    g_rec = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (g_rec < 0) { rv_log("cannot write the trace's records %s", path); return false; }
    unlink(path);
    if (!g_buf) g_buf = malloc(RECORD_BUF);
    return g_buf != NULL;
}

bool rv_trace_on(void) {
    if (RV_LIKELY(g_state != 0 && g_pid == getpid())) return g_state > 0;
    /* first use in this process (or first after fork: the child writes its own file) */
    if (g_rec >= 0) close(g_rec);   /* the parent's */
    g_rec = -1;
    g_len = 0;
    g_state = open_trace() ? 1 : -1;
    g_pid = getpid();
    return g_state > 0;
}

static void flush_records(void) {
    for (size_t off = 0; off < g_len;) {
        ssize_t w = write(g_rec, g_buf + off, g_len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { rv_log("the trace's records: %s; the trace stops here", strerror(errno)); break; }
        off += (size_t)w;
    }
    g_len = 0;
}

static void put_record(const record *r) {
    if (g_len + sizeof *r > RECORD_BUF) flush_records();
    memcpy(g_buf + g_len, r, sizeof *r);
    g_len += sizeof *r;
}

void rv_trace_op(const rv_op *op, rv_stream *lane_stream, uint64_t lane, rv_ns start, rv_ns dur) {
    record r = {.op = *op, .lane = lane, .start = start, .dur = dur};
    if (lane_stream && !lane_stream->trace_named) {
        lane_stream->trace_named = true;
        r.name_lane = true;
        r.lane_device = lane_stream->device;
        r.lane_legacy = lane_stream->legacy;
    }
    put_record(&r);
}

void rv_trace_host(const char *what, rv_ns start, rv_ns dur) {
    record r = {.host = what, .start = start, .dur = dur};
    put_record(&r);
}

/* ---- the JSON, at exit ---- */
static void put_name(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if ((unsigned char)*s >= 0x20) fputc(*s, f);
    }
    fputc('"', f);
}

static void write_op(FILE *f, const record *r) {
    const rv_op *op = &r->op;
    uint64_t lane = r->lane;
    if (r->name_lane)
        fprintf(f, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%llu,\"args\":{\"name\":\"gpu%d %s%llu\"}}",
                g_pid, (unsigned long long)lane, r->lane_device, r->lane_legacy ? "default stream " : "stream ",
                (unsigned long long)lane);
    const char *name = op->name;
    char buf[128];
    if (op->kind == RV_OP_GEMM) { snprintf(buf, sizeof buf, "%s gemm", op->name); name = buf; }
    else if (op->kind == RV_OP_ATTENTION) { snprintf(buf, sizeof buf, "%s attention", op->name); name = buf; }
    else if (op->kind == RV_OP_MEMCPY) { snprintf(buf, sizeof buf, "memcpy %s", op->u.copy.direction); name = buf; }
    else if (op->kind == RV_OP_MEMSET) name = "memset";
    fprintf(f, ",\n{\"ph\":\"X\",\"pid\":%d,\"tid\":%llu,\"ts\":%.3f,\"dur\":%.3f,\"name\":", g_pid,
            (unsigned long long)lane, r->start / 1e3, r->dur / 1e3);
    put_name(f, name);
    fprintf(f, ",\"args\":{\"device\":%lld", (long long)op->device);
    switch (op->kind) {
    case RV_OP_KERNEL:
        fprintf(f, ",\"grid\":[%lld,%lld,%lld],\"block\":[%lld,%lld,%lld],\"shmem\":%lld",
                (long long)op->u.kernel.grid[0], (long long)op->u.kernel.grid[1], (long long)op->u.kernel.grid[2],
                (long long)op->u.kernel.block[0], (long long)op->u.kernel.block[1], (long long)op->u.kernel.block[2],
                (long long)op->u.kernel.shmem);
        if (op->u.kernel.elements > 0)
            fprintf(f, ",\"elements\":%lld,\"outputs\":%lld", (long long)op->u.kernel.elements,
                    (long long)op->u.kernel.outputs);
        break;
    case RV_OP_GEMM:
        /* shapes as the row-major caller wrote them (C = A·B, A is m×k), see abi/cublas.h */
        fprintf(f, ",\"m\":%lld,\"n\":%lld,\"k\":%lld,\"batch\":%lld,\"layout\":\"row-major\",\"trans_a\":%s,"
                   "\"trans_b\":%s,\"dtype\":\"%s/%s->%s\",\"compute\":\"%s\",\"epilogue\":\"%s\"",
                (long long)op->u.gemm.m, (long long)op->u.gemm.n, (long long)op->u.gemm.k, (long long)op->u.gemm.batch,
                op->u.gemm.trans_a ? "true" : "false", op->u.gemm.trans_b ? "true" : "false",
                op->u.gemm.dtype_a ? op->u.gemm.dtype_a : "?", op->u.gemm.dtype_b ? op->u.gemm.dtype_b : "?",
                op->u.gemm.dtype_c ? op->u.gemm.dtype_c : "?", op->u.gemm.compute ? op->u.gemm.compute : "?",
                op->u.gemm.epilogue ? op->u.gemm.epilogue : "none");
        break;
    case RV_OP_ATTENTION:
        fprintf(f, ",\"batch\":%lld,\"heads\":%lld,\"kv_heads\":%lld,\"q_len\":%lld,\"kv_len\":%lld,\"head_dim\":%lld,"
                     "\"head_dim_v\":%lld,\"causal\":%s,\"dtype\":\"%s\"",
                (long long)op->u.attn.batch, (long long)op->u.attn.heads, (long long)op->u.attn.kv_heads,
                (long long)op->u.attn.q_len, (long long)op->u.attn.kv_len, (long long)op->u.attn.head_dim,
                (long long)op->u.attn.head_dim_v,
                op->u.attn.causal ? "true" : "false", op->u.attn.dtype ? op->u.attn.dtype : "?");
        break;
    case RV_OP_MEMCPY:
        fprintf(f, ",\"bytes\":%lld,\"pinned\":%s", (long long)op->u.copy.bytes, op->u.copy.pinned ? "true" : "false");
        break;
    case RV_OP_MEMSET:
        fprintf(f, ",\"bytes\":%lld", (long long)op->u.memset.bytes);
        break;
    case RV_OP_COLLECTIVE:
        fprintf(f, ",\"bytes\":%lld,\"ranks\":%lld", (long long)op->u.coll.bytes, (long long)op->u.coll.ranks);
        break;
    default:
        break;
    }
    fputs("}}", f);
}

static void write_json(FILE *f) {
    fprintf(f, "[\n{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,\"tid\":0,\"args\":{\"name\":\"pid %d (virtual GPU time)\"}},\n"
               "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":0,\"args\":{\"name\":\"host waits\"}}",
            g_pid, g_pid, g_pid);
    flush_records();
    lseek(g_rec, 0, SEEK_SET);
    ssize_t got;
    while ((got = read(g_rec, g_buf, RECORD_BUF / sizeof(record) * sizeof(record))) > 0) {
        for (const record *r = (const record *)g_buf; (const char *)(r + 1) <= g_buf + got; r++) {
            if (r->host)
                fprintf(f, ",\n{\"ph\":\"X\",\"pid\":%d,\"tid\":0,\"ts\":%.3f,\"dur\":%.3f,\"name\":\"%s\"}", g_pid,
                        r->start / 1e3, r->dur / 1e3, r->host);
            else write_op(f, r);
        }
    }
    fputs("\n]\n", f);
}

void rv_trace_close(void) {
    if (g_state > 0 && g_rec >= 0 && g_pid == getpid()) {
        char path[1200];
        snprintf(path, sizeof path, "%s/trace-%d.json", rv_cfg()->trace_dir, (int)g_pid);
        FILE *f = fopen(path, "w");
        if (!f) rv_log("cannot write the trace %s", path);
        else {
            setvbuf(f, NULL, _IOFBF, 1 << 20);
            write_json(f);
            fclose(f);
        }
        close(g_rec);
    }
    g_rec = -1;
    g_len = 0;
    g_state = -1;
}

__attribute__((constructor)) static void trace_init(void) { atexit(rv_trace_at_exit); }
