/* Per-process Chrome trace (JSON array format; opens in Perfetto) of every stream in virtual time,
 * written to $REVATI_TRACE_DIR/trace-<pid>.json, plus the API call counts at exit. */
#define _GNU_SOURCE
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static FILE *g_f;
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
    snprintf(path, sizeof path, "%s/trace-%d.json", c->trace_dir, (int)getpid());
    g_f = fopen(path, "w");
    if (!g_f) { rv_log("cannot write the trace %s", path); return false; }
    setvbuf(g_f, NULL, _IOFBF, 1 << 20);
    g_pid = getpid();
    fprintf(g_f, "[\n{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,\"tid\":0,\"args\":{\"name\":\"pid %d (virtual GPU time)\"}},\n"
                 "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":0,\"args\":{\"name\":\"host waits\"}}",
            g_pid, g_pid, g_pid);
    return true;
}

bool rv_trace_on(void) {
    if (RV_LIKELY(g_state != 0 && g_pid == getpid())) return g_state > 0;
    /* first use in this process (or first after fork: the child writes its own file) */
    g_f = NULL;
    g_state = open_trace() ? 1 : -1;
    g_pid = getpid();
    return g_state > 0;
}

static void put_name(const char *s) {
    fputc('"', g_f);
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', g_f);
        if ((unsigned char)*s >= 0x20) fputc(*s, g_f);
    }
    fputc('"', g_f);
}

void rv_trace_op(const rv_op *op, rv_stream *lane_stream, uint64_t lane, rv_ns start, rv_ns dur) {
    if (lane_stream && !lane_stream->trace_named) {
        lane_stream->trace_named = true;
        fprintf(g_f, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%llu,\"args\":{\"name\":\"gpu%d %s%llu\"}}",
                g_pid, (unsigned long long)lane, lane_stream->device, lane_stream->legacy ? "default stream " : "stream ",
                (unsigned long long)lane);
    }
    const char *name = op->name;
    char buf[128];
    if (op->kind == RV_OP_GEMM) { snprintf(buf, sizeof buf, "%s gemm", op->name); name = buf; }
    else if (op->kind == RV_OP_ATTENTION) { snprintf(buf, sizeof buf, "%s attention", op->name); name = buf; }
    else if (op->kind == RV_OP_MEMCPY) { snprintf(buf, sizeof buf, "memcpy %s", op->u.copy.direction); name = buf; }
    else if (op->kind == RV_OP_MEMSET) name = "memset";
    fprintf(g_f, ",\n{\"ph\":\"X\",\"pid\":%d,\"tid\":%llu,\"ts\":%.3f,\"dur\":%.3f,\"name\":", g_pid,
            (unsigned long long)lane, start / 1e3, dur / 1e3);
    put_name(name);
    fprintf(g_f, ",\"args\":{\"device\":%lld", (long long)op->device);
    switch (op->kind) {
    case RV_OP_KERNEL:
        fprintf(g_f, ",\"grid\":[%lld,%lld,%lld],\"block\":[%lld,%lld,%lld],\"shmem\":%lld",
                (long long)op->u.kernel.grid[0], (long long)op->u.kernel.grid[1], (long long)op->u.kernel.grid[2],
                (long long)op->u.kernel.block[0], (long long)op->u.kernel.block[1], (long long)op->u.kernel.block[2],
                (long long)op->u.kernel.shmem);
        break;
    case RV_OP_GEMM:
        /* shapes as the row-major caller wrote them (C = A·B, A is m×k), see abi/cublas.h */
        fprintf(g_f, ",\"m\":%lld,\"n\":%lld,\"k\":%lld,\"batch\":%lld,\"layout\":\"row-major\",\"trans_a\":%s,"
                     "\"trans_b\":%s,\"dtype\":\"%s/%s->%s\",\"compute\":\"%s\",\"epilogue\":\"%s\"",
                (long long)op->u.gemm.m, (long long)op->u.gemm.n, (long long)op->u.gemm.k, (long long)op->u.gemm.batch,
                op->u.gemm.trans_a ? "true" : "false", op->u.gemm.trans_b ? "true" : "false",
                op->u.gemm.dtype_a ? op->u.gemm.dtype_a : "?", op->u.gemm.dtype_b ? op->u.gemm.dtype_b : "?",
                op->u.gemm.dtype_c ? op->u.gemm.dtype_c : "?", op->u.gemm.compute ? op->u.gemm.compute : "?",
                op->u.gemm.epilogue ? op->u.gemm.epilogue : "none");
        break;
    case RV_OP_ATTENTION:
        fprintf(g_f, ",\"batch\":%lld,\"heads\":%lld,\"kv_heads\":%lld,\"q_len\":%lld,\"kv_len\":%lld,\"head_dim\":%lld,"
                     "\"head_dim_v\":%lld,\"causal\":%s,\"dtype\":\"%s\"",
                (long long)op->u.attn.batch, (long long)op->u.attn.heads, (long long)op->u.attn.kv_heads,
                (long long)op->u.attn.q_len, (long long)op->u.attn.kv_len, (long long)op->u.attn.head_dim,
                (long long)op->u.attn.head_dim_v,
                op->u.attn.causal ? "true" : "false", op->u.attn.dtype ? op->u.attn.dtype : "?");
        break;
    case RV_OP_MEMCPY:
        fprintf(g_f, ",\"bytes\":%lld,\"pinned\":%s", (long long)op->u.copy.bytes, op->u.copy.pinned ? "true" : "false");
        break;
    case RV_OP_MEMSET:
        fprintf(g_f, ",\"bytes\":%lld", (long long)op->u.memset.bytes);
        break;
    case RV_OP_COLLECTIVE:
        fprintf(g_f, ",\"bytes\":%lld,\"ranks\":%lld", (long long)op->u.coll.bytes, (long long)op->u.coll.ranks);
        break;
    default:
        break;
    }
    fputs("}}", g_f);
}

void rv_trace_host(const char *what, rv_ns start, rv_ns dur) {
    fprintf(g_f, ",\n{\"ph\":\"X\",\"pid\":%d,\"tid\":0,\"ts\":%.3f,\"dur\":%.3f,\"name\":\"%s\"}", g_pid, start / 1e3,
            dur / 1e3, what);
}

void rv_trace_close(void) {
    if (g_state > 0 && g_f && g_pid == getpid()) {
        fputs("\n]\n", g_f);
        fclose(g_f);
    }
    g_f = NULL;
    g_state = -1;
}

__attribute__((constructor)) static void trace_init(void) { atexit(rv_trace_at_exit); }
