/* NCCL on virtual GPUs, built against the real nccl.h of the nvidia-nccl wheel and the CUDA runtime
 * headers. Prints `CHECK name value` lines for tests/test_nccl_nvml.py (run with fixed:1ms, so every
 * collective lasts 1 ms).
 *
 *   nccl_ops single   one rank: every call, the bytes they report, local data effects, group
 *                     fusion, CUDA-graph capture, memory, errors
 *   nccl_ops multi    ncclCommInitAll over 2 devices in one process; grouped split
 *   nccl_ops fork     2 processes (a fork), one rank each: InitRank with a shared id, split
 *   nccl_ops skew     2 processes; rank 1's stream is 5 ms behind when both call all_reduce: on a
 *                     shared clock rank 0's all_reduce starts when rank 1 arrives (then send/recv
 *                     both ways in a group, and one way ungrouped, which must not deadlock)
 *   nccl_ops storm N  2 processes, N back-to-back all_reduces (a tensor-parallel engine's pace): each
 *                     rank leaves a rendezvous and arrives at the next one while the other is still
 *                     leaving; every one of them must meet. A thread of each rank sleeps with a
 *                     far deadline; prints each rank's virtual and CPU time in the loop
 */
#include <nccl.h>
#include <cuda_runtime.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NK(x)                                                                                          \
    do {                                                                                               \
        ncclResult_t r_ = (x);                                                                         \
        if (r_ != ncclSuccess) {                                                                       \
            printf("FAIL %s: %s (%s)\n", #x, ncclGetErrorString(r_), ncclGetLastError(NULL));          \
            exit(1);                                                                                   \
        }                                                                                              \
    } while (0)
#define CK(x)                                                                       \
    do {                                                                            \
        cudaError_t e_ = (x);                                                       \
        if (e_ != cudaSuccess) { printf("FAIL %s: %d\n", #x, (int)e_); exit(1); }   \
    } while (0)

static cudaEvent_t ev_a, ev_b;

/* The stream is kept busy by a warm-up op, so `a` lands exactly where the measured work starts. */
static void begin(ncclComm_t c, cudaStream_t s, void *buf) {
    NK(ncclAllReduce(buf, buf, 1, ncclFloat32, ncclSum, c, s));
    CK(cudaEventRecord(ev_a, s));
}

static float end(cudaStream_t s) {
    float ms = -1;
    CK(cudaEventRecord(ev_b, s));
    CK(cudaEventSynchronize(ev_b));
    CK(cudaEventElapsedTime(&ms, ev_a, ev_b));
    return ms;
}

static int single(void) {
    int v = 0;
    NK(ncclGetVersion(&v));
    printf("CHECK version %d\n", v);
    ncclUniqueId id1, id2;
    NK(ncclGetUniqueId(&id1));
    NK(ncclGetUniqueId(&id2));
    printf("CHECK ids_differ %d\n", memcmp(&id1, &id2, sizeof id1) != 0);

    CK(cudaSetDevice(0));
    ncclComm_t c;
    ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
    cfg.blocking = 0;
    cfg.commName = "test-comm";
    NK(ncclCommInitRankConfig(&c, 1, id1, 0, &cfg));
    ncclResult_t async = ncclInProgress;
    NK(ncclCommGetAsyncError(c, &async));
    printf("CHECK async %d\n", (int)async);
    int n = -1, dev = -1, rank = -1;
    NK(ncclCommCount(c, &n));
    NK(ncclCommCuDevice(c, &dev));
    NK(ncclCommUserRank(c, &rank));
    printf("CHECK count %d\nCHECK cudevice %d\nCHECK rank %d\n", n, dev, rank);

    /* small ncclMemAlloc buffers are real memory: a 1-rank all_gather copies */
    float *send, *recv;
    NK(ncclMemAlloc((void **)&send, 4096));
    NK(ncclMemAlloc((void **)&recv, 4096));
    for (int i = 0; i < 1024; i++) { send[i] = (float)i; recv[i] = -1; }
    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    CK(cudaEventCreate(&ev_a));
    CK(cudaEventCreate(&ev_b));
    NK(ncclAllGather(send, recv, 1024, ncclFloat32, c, s));
    CK(cudaStreamSynchronize(s));
    int same = 1;
    for (int i = 0; i < 1024; i++) same &= recv[i] == (float)i;
    printf("CHECK allgather_copy %d\n", same);

    /* every collective once, on one stream: the trace carries their bytes */
    NK(ncclAllReduce(send, recv, 1000, ncclFloat32, ncclSum, c, s));          /* 4000 */
    NK(ncclBroadcast(send, recv, 100, ncclBfloat16, 0, c, s));                /* 200 */
    NK(ncclBcast(recv, 7, ncclInt8, 0, c, s));                                /* 7 */
    NK(ncclReduce(send, recv, 16, ncclFloat64, ncclMax, 0, c, s));            /* 128 */
    NK(ncclReduceScatter(send, recv, 8, ncclInt64, ncclSum, c, s));           /* 64 */
    NK(ncclAlltoAll(send, recv, 4, ncclFloat16, c, s));                       /* 8 */
    NK(ncclSend(send, 16, ncclUint8, 0, c, s));                               /* 16 */
    NK(ncclRecv(recv, 16, ncclUint8, 0, c, s));                               /* 16 */
    NK(ncclAllReduce(send, recv, 0, ncclFloat32, ncclSum, c, s));             /* empty: nothing */

    /* timing with fixed:1ms: ungrouped send + recv run one after the other, grouped together */
    begin(c, s, send);
    NK(ncclSend(send, 256, ncclFloat32, 0, c, s));
    NK(ncclRecv(recv, 256, ncclFloat32, 0, c, s));
    printf("CHECK p2p_serial_ms %.3f\n", end(s));
    begin(c, s, send);
    NK(ncclGroupStart());
    NK(ncclSend(send, 256, ncclFloat32, 0, c, s));
    NK(ncclRecv(recv, 256, ncclFloat32, 0, c, s));
    NK(ncclGroupEnd());
    printf("CHECK p2p_grouped_ms %.3f\n", end(s));
    begin(c, s, send);
    NK(ncclGroupStart());
    NK(ncclGroupStart());   /* nested */
    NK(ncclAllReduce(send, send, 64, ncclFloat32, ncclSum, c, s));
    NK(ncclGroupEnd());
    NK(ncclAllReduce(recv, recv, 64, ncclFloat32, ncclSum, c, s));
    NK(ncclGroupEnd());
    printf("CHECK coll_grouped_ms %.3f\n", end(s));

    ncclSimInfo_t sim = NCCL_SIM_INFO_INITIALIZER;
    NK(ncclGroupStart());
    NK(ncclAllReduce(send, send, 64, ncclFloat32, ncclSum, c, s));
    NK(ncclGroupSimulateEnd(&sim));
    printf("CHECK simulate_us %.1f\n", sim.estimatedTime);

    /* CUDA graphs: a captured collective runs at each replay */
    cudaStream_t cs;
    CK(cudaStreamCreateWithFlags(&cs, cudaStreamNonBlocking));
    CK(cudaStreamBeginCapture(cs, cudaStreamCaptureModeThreadLocal));
    NK(ncclAllReduce(send, send, 32, ncclFloat32, ncclSum, c, cs));
    cudaGraph_t g;
    CK(cudaStreamEndCapture(cs, &g));
    cudaGraphExec_t ge;
    CK(cudaGraphInstantiate(&ge, g, 0));
    begin(c, cs, send);
    CK(cudaGraphLaunch(ge, cs));
    CK(cudaGraphLaunch(ge, cs));
    printf("CHECK graph_replay_ms %.3f\n", end(cs));

    /* NCCL's allocator takes from the device's memory */
    size_t free0, free1, total;
    CK(cudaMemGetInfo(&free0, &total));
    void *big;
    NK(ncclMemAlloc(&big, 1ull << 30));
    CK(cudaMemGetInfo(&free1, &total));
    printf("CHECK memalloc_charged %llu\n", (unsigned long long)(free0 - free1));
    NK(ncclMemFree(big));
    CK(cudaMemGetInfo(&free1, &total));
    printf("CHECK memfree_returned %d\n", free1 == free0);

    /* registration and reduction operators */
    void *h;
    NK(ncclCommRegister(c, send, 4096, &h));
    NK(ncclCommDeregister(c, h));
    ncclWindow_t w;
    void *user = NULL;
    NK(ncclCommWindowRegister(c, recv, 4096, &w, NCCL_WIN_DEFAULT));
    NK(ncclWinGetUserPtr(c, w, &user));
    printf("CHECK window_ptr %d\n", user == recv);
    NK(ncclCommWindowDeregister(c, w));
    ncclRedOp_t op;
    float scale = 0.5f;
    NK(ncclRedOpCreatePreMulSum(&op, &scale, ncclFloat32, ncclScalarHostImmediate, c));
    printf("CHECK premulsum_op %d\n", (int)op >= (int)ncclNumOps);
    NK(ncclAllReduce(send, send, 8, ncclFloat32, op, c, s));
    NK(ncclRedOpDestroy(op, c));

    /* errors */
    printf("CHECK null_comm %d\n", (int)ncclAllReduce(send, recv, 1, ncclFloat32, ncclSum, NULL, s));
    printf("CHECK last_error_set %d\n", strlen(ncclGetLastError(NULL)) > 0);
    printf("CHECK bad_type %d\n", (int)ncclAllReduce(send, recv, 1, (ncclDataType_t)99, ncclSum, c, s));
    printf("CHECK bad_root %d\n", (int)ncclBroadcast(send, recv, 1, ncclFloat32, 3, c, s));
    printf("CHECK bad_init_rank %d\n", (int)ncclCommInitRank(&(ncclComm_t){0}, 2, id2, 2));
    printf("CHECK group_end_alone %d\n", (int)ncclGroupEnd());
    printf("CHECK error_string %s\n", ncclGetErrorString(ncclInvalidArgument));

    NK(ncclMemFree(send));
    NK(ncclMemFree(recv));
    NK(ncclCommFinalize(c));
    NK(ncclCommDestroy(c));
    printf("CHECK after_destroy %d\n", (int)ncclCommCount(c, &n));
    printf("CHECK done 1\n");
    return 0;
}

static int multi(void) {
    ncclComm_t comms[2];
    int devs[2] = {0, 1};
    NK(ncclCommInitAll(comms, 2, devs));
    cudaStream_t s[2];
    void *buf[2];
    for (int i = 0; i < 2; i++) {
        int d = -1, r = -1, n = -1;
        NK(ncclCommCuDevice(comms[i], &d));
        NK(ncclCommUserRank(comms[i], &r));
        NK(ncclCommCount(comms[i], &n));
        printf("CHECK comm%d %d/%d@%d\n", i, r, n, d);
        CK(cudaSetDevice(i));
        CK(cudaStreamCreate(&s[i]));
        CK(cudaMalloc(&buf[i], 1 << 20));
    }
    NK(ncclGroupStart());
    for (int i = 0; i < 2; i++) NK(ncclAllReduce(buf[i], buf[i], 1 << 18, ncclFloat32, ncclSum, comms[i], s[i]));
    NK(ncclGroupEnd());
    for (int i = 0; i < 2; i++) CK(cudaStreamSynchronize(s[i]));

    /* one thread drives both ranks: the split must be grouped (as with real NCCL) */
    ncclComm_t swapped[2], alone[2];
    NK(ncclGroupStart());
    for (int i = 0; i < 2; i++) NK(ncclCommSplit(comms[i], 0, -i, &swapped[i], NULL));
    NK(ncclGroupEnd());
    NK(ncclGroupStart());
    for (int i = 0; i < 2; i++) NK(ncclCommSplit(comms[i], i == 0 ? 5 : NCCL_SPLIT_NOCOLOR, 0, &alone[i], NULL));
    NK(ncclGroupEnd());
    for (int i = 0; i < 2; i++) {
        int r = -1, n = -1;
        NK(ncclCommUserRank(swapped[i], &r));
        NK(ncclCommCount(swapped[i], &n));
        printf("CHECK swapped%d %d/%d\n", i, r, n);
    }
    int n = -1;
    NK(ncclCommCount(alone[0], &n));
    printf("CHECK alone0 %d\nCHECK nocolor_null %d\n", n, alone[1] == NULL);
    int excl = 0;
    ncclComm_t shrunk;
    NK(ncclCommShrink(comms[1], &excl, 1, &shrunk, NULL, 0));
    int r = -1;
    NK(ncclCommUserRank(shrunk, &r));
    NK(ncclCommCount(shrunk, &n));
    printf("CHECK shrunk %d/%d\n", r, n);
    for (int i = 0; i < 2; i++) {
        NK(ncclCommDestroy(swapped[i]));
        NK(ncclCommDestroy(comms[i]));
    }
    printf("CHECK done 1\n");
    return 0;
}

static int fork_ranks(void) {
    ncclUniqueId id;
    NK(ncclGetUniqueId(&id));
    fflush(stdout);
    pid_t child = fork();
    int rank = child == 0 ? 1 : 0;
    CK(cudaSetDevice(rank));
    ncclComm_t c;
    NK(ncclCommInitRank(&c, 2, id, rank));
    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    void *buf;
    CK(cudaMalloc(&buf, 8 << 20));
    NK(ncclAllReduce(buf, buf, 2 << 20, ncclBfloat16, ncclSum, c, s));   /* 4 MiB */
    NK(ncclAllGather(buf, buf, 1 << 20, ncclBfloat16, c, s));            /* 4 MiB gathered, 2 MiB from each rank */
    CK(cudaStreamSynchronize(s));
    ncclComm_t sw, solo;
    NK(ncclCommSplit(c, 0, -rank, &sw, NULL));
    NK(ncclCommSplit(c, rank, 0, &solo, NULL));
    int r = -1, n = -1, n2 = -1;
    NK(ncclCommUserRank(sw, &r));
    NK(ncclCommCount(sw, &n));
    NK(ncclCommCount(solo, &n2));
    printf("CHECK fork_rank%d_split %d/%d\nCHECK fork_rank%d_solo %d\n", rank, r, n, rank, n2);
    NK(ncclCommDestroy(sw));
    NK(ncclCommDestroy(solo));
    NK(ncclCommDestroy(c));
    fflush(stdout);
    if (child == 0) exit(0);   /* atexit: the child writes its own trace */
    int status = 0;
    waitpid(child, &status, 0);
    printf("CHECK child_ok %d\n", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    printf("CHECK done 1\n");
    return 0;
}

static int skew(void) {
    ncclUniqueId id;
    NK(ncclGetUniqueId(&id));
    fflush(stdout);
    pid_t child = fork();
    int rank = child == 0 ? 1 : 0;
    CK(cudaSetDevice(rank));
    ncclComm_t c;
    NK(ncclCommInitRank(&c, 2, id, rank));
    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    CK(cudaEventCreate(&ev_a));
    CK(cudaEventCreate(&ev_b));
    void *buf;
    CK(cudaMalloc(&buf, 1 << 20));
    if (rank == 1)
        for (int i = 0; i < 5; i++) CK(cudaMemsetAsync(buf, 0, 4, s));   /* 5 ms of work first */
    CK(cudaEventRecord(ev_a, s));
    NK(ncclAllReduce(buf, buf, 1024, ncclFloat32, ncclSum, c, s));
    printf("CHECK skew_rank%d_ms %.3f\n", rank, end(s));
    int peer = 1 - rank;
    CK(cudaEventRecord(ev_a, s));
    NK(ncclGroupStart());
    NK(ncclSend(buf, 256, ncclFloat32, peer, c, s));
    NK(ncclRecv((char *)buf + 4096, 256, ncclFloat32, peer, c, s));
    NK(ncclGroupEnd());
    if (rank == 0) NK(ncclSend(buf, 256, ncclFloat32, 1, c, s));
    else NK(ncclRecv(buf, 256, ncclFloat32, 0, c, s));
    printf("CHECK p2p_rank%d_ms %.3f\n", rank, end(s));
    NK(ncclCommDestroy(c));
    fflush(stdout);
    if (child == 0) exit(0);
    int status = 0;
    waitpid(child, &status, 0);
    printf("CHECK child_ok %d\n", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    printf("CHECK done 1\n");
    return 0;
}

static void *sleep_long(void *unused) {
    (void)unused;
    struct timespec ts = {10, 0};
    nanosleep(&ts, NULL);
    return NULL;
}

static long long ns_between(const struct timespec *a, const struct timespec *b) {
    return (long long)(b->tv_sec - a->tv_sec) * 1000000000LL + (b->tv_nsec - a->tv_nsec);
}

static int storm(int count) {
    ncclUniqueId id;
    NK(ncclGetUniqueId(&id));
    fflush(stdout);
    pid_t child = fork();
    int rank = child == 0 ? 1 : 0;
    CK(cudaSetDevice(rank));
    ncclComm_t c;
    NK(ncclCommInitRank(&c, 2, id, rank));
    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    void *buf;
    CK(cudaMalloc(&buf, 1 << 20));
    pthread_t watchdog;   /* a thread with a far deadline, as torch's NCCL watchdog has */
    pthread_create(&watchdog, NULL, sleep_long, NULL);
    pthread_detach(watchdog);
    struct timespec v0, v1, c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &v0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    for (int i = 0; i < count; i++) NK(ncclAllReduce(buf, buf, 1024, ncclBfloat16, ncclSum, c, s));
    clock_gettime(CLOCK_MONOTONIC, &v1);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    CK(cudaStreamSynchronize(s));
    printf("CHECK storm_rank%d %d\n", rank, count);
    printf("CHECK storm_host_ns_rank%d %lld\n", rank, ns_between(&v0, &v1));
    printf("CHECK storm_cpu_ns_rank%d %lld\n", rank, ns_between(&c0, &c1));
    NK(ncclCommDestroy(c));
    fflush(stdout);
    if (child == 0) exit(0);
    int status = 0;
    waitpid(child, &status, 0);
    printf("CHECK child_ok %d\n", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    printf("CHECK done 1\n");
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "single";
    if (!strcmp(mode, "single")) return single();
    if (!strcmp(mode, "multi")) return multi();
    if (!strcmp(mode, "fork")) return fork_ranks();
    if (!strcmp(mode, "skew")) return skew();
    if (!strcmp(mode, "storm")) return storm(argc > 2 ? atoi(argv[2]) : 10000);
    fprintf(stderr, "usage: nccl_ops single|multi|fork|skew|storm [N]\n");
    return 2;
}
