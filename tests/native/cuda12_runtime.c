/* A plain C program built by gcc against the CUDA 12 headers and linked to the CUDA 12 fakes
 * (libcudart.so.12): device identity, the entry points whose names or signatures CUDA 12 and 13
 * differ in, and kernel-free stream work (copies, a memset) timed by events. Prints CHECK lines. */
#define _GNU_SOURCE
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if CUDART_VERSION / 1000 != 12
#error "build this against the CUDA 12 headers"
#endif

#define CK(x)                                                                          \
    do {                                                                               \
        cudaError_t e_ = (x);                                                          \
        if (e_ != cudaSuccess) {                                                       \
            printf("FAIL %s = %d (line %d)\n", #x, (int)e_, __LINE__);                 \
            return 1;                                                                  \
        }                                                                              \
    } while (0)

typedef cudaError_t (*props_fn)(void *, int);
typedef cudaError_t (*capture_info_legacy_fn)(cudaStream_t, enum cudaStreamCaptureStatus *, unsigned long long *);

/* How far a props call writes: bytes that differ from either of two fill patterns. */
static int props_extent(props_fn f, unsigned char *out, size_t size) {
    unsigned char *b = malloc(size);
    memset(out, 0xAB, size);
    memset(b, 0x54, size);
    if (f(out, 0) != cudaSuccess || f(b, 0) != cudaSuccess) return -1;
    int last = -1;
    for (size_t i = 0; i < size; i++)
        if (out[i] != 0xAB || b[i] != 0x54) last = (int)i;
    free(b);
    return last + 1;
}

static void print_hex(const char *name, const unsigned char *b, int n) {
    printf("CHECK %s ", name);
    for (int i = 0; i < n; i++) printf("%02x", b[i]);
    printf("\n");
}

int main(void) {
    printf("CHECK headers %d\n", CUDART_VERSION);
    int v, n;
    CK(cudaRuntimeGetVersion(&v));
    printf("CHECK runtime_version %d\n", v);
    CK(cudaGetDeviceCount(&n));
    printf("CHECK device_count %d\n", n);

    struct cudaDeviceProp p;
    CK(cudaGetDeviceProperties(&p, 0));   /* the CUDA 12 header makes this cudaGetDeviceProperties_v2 */
    printf("CHECK name %s\n", p.name);
    printf("CHECK total_memory %zu\n", p.totalGlobalMem);
    printf("CHECK sm_count %d\n", p.multiProcessorCount);
    printf("CHECK cc %d.%d\n", p.major, p.minor);
    printf("CHECK clock_khz %d\n", p.clockRate);            /* fields CUDA 13 removed */
    printf("CHECK mem_clock_khz %d\n", p.memoryClockRate);
    size_t free_b, total_b;
    CK(cudaMemGetInfo(&free_b, &total_b));
    printf("CHECK mem_total %zu\n", total_b);

    /* the raw structs: _v2 (CUDA 12 layout) and the unversioned legacy entry point (CUDA 11 layout) */
    static unsigned char raw[4096];
    int ext = props_extent((props_fn)dlsym(RTLD_DEFAULT, "cudaGetDeviceProperties_v2"), raw, sizeof raw);
    printf("CHECK v2_extent %d\n", ext);
    print_hex("v2_hex", raw, ext > 0 ? ext : 0);
    ext = props_extent((props_fn)dlsym(RTLD_DEFAULT, "cudaGetDeviceProperties"), raw, sizeof raw);
    printf("CHECK legacy_extent %d\n", ext);
    print_hex("legacy_hex", raw, ext > 0 ? ext : 0);

    /* kernel-free stream work between two events: H2D copy, memset, D2H copy. Pinned host memory
     * makes the copies asynchronous; an untimed first pass has every duration asked of the predictor
     * (then cached), and warm-up memsets keep the stream busy for 5 ms, so the start event lands at
     * their end and the timed three run back to back whatever the host's speed. */
    const size_t N = 1 << 20;
    unsigned char *h, *back;
    CK(cudaMallocHost((void **)&h, N));
    CK(cudaMallocHost((void **)&back, N));
    for (size_t i = 0; i < N; i++) h[i] = (unsigned char)(i * 31 + 1);
    void *d;
    CK(cudaMalloc(&d, N));
    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            for (int i = 0; i < 5; i++) CK(cudaMemsetAsync(d, 0, N, s));
        CK(cudaEventRecord(a, s));
        CK(cudaMemcpyAsync(d, h, N, cudaMemcpyHostToDevice, s));
        CK(cudaMemsetAsync(d, 7, 16, s));
        CK(cudaMemcpyAsync(back, d, N, cudaMemcpyDeviceToHost, s));
        CK(cudaEventRecord(b, s));
        CK(cudaEventSynchronize(b));
    }
    float ms, ms2;
    CK(cudaEventElapsedTime(&ms, a, b));
    CK(cudaEventElapsedTime_v2(&ms2, a, b));
    printf("CHECK elapsed_ms %.3f\n", ms);
    printf("CHECK elapsed_v2_ms %.3f\n", ms2);
    int ok = 1;
    for (size_t i = 0; i < N; i++) ok &= back[i] == (i < 16 ? 7 : h[i]);
    printf("CHECK memcpy_roundtrip %d\n", ok);

    /* prefetch: CUDA 12's unversioned form takes a device ordinal, _v2 a location */
    CK(cudaMemPrefetchAsync(d, N, 0, s));
    struct cudaMemLocation loc = {cudaMemLocationTypeDevice, 0};
    CK(cudaMemPrefetchAsync_v2(d, N, loc, 0, s));

    /* capture info: the header's name is _v2 (6 arguments); _v3 adds edge data; the legacy has 3 */
    cudaStream_t c;
    CK(cudaStreamCreateWithFlags(&c, cudaStreamNonBlocking));
    CK(cudaStreamBeginCapture(c, cudaStreamCaptureModeGlobal));
    enum cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    unsigned long long id = 0;
    cudaGraph_t g = NULL;
    const cudaGraphNode_t *deps = NULL;
    const cudaGraphEdgeData *edges = NULL;
    size_t nd = 99;
    CK(cudaStreamGetCaptureInfo(c, &st, &id, &g, &deps, &nd));
    printf("CHECK capture_v2 %d\n", st == cudaStreamCaptureStatusActive && g != NULL && nd == 0);
    st = cudaStreamCaptureStatusNone;
    CK(cudaStreamGetCaptureInfo_v3(c, &st, &id, &g, &deps, &edges, &nd));
    printf("CHECK capture_v3 %d\n", st == cudaStreamCaptureStatusActive);
    capture_info_legacy_fn legacy = (capture_info_legacy_fn)dlsym(RTLD_DEFAULT, "cudaStreamGetCaptureInfo");
    st = cudaStreamCaptureStatusNone;
    CK(legacy(c, &st, &id));
    printf("CHECK capture_legacy %d\n", st == cudaStreamCaptureStatusActive);
    CK(cudaStreamEndCapture(c, &g));
    CK(cudaGraphDestroy(g));

    /* which libcudart this process runs on */
    char line[4096];
    FILE *maps = fopen("/proc/self/maps", "r");
    while (maps && fgets(line, sizeof line, maps))
        if (strstr(line, "libcudart.so")) {
            line[strcspn(line, "\n")] = 0;
            printf("CHECK cudart %s\n", strrchr(line, ' ') + 1);
            break;
        }
    if (maps) fclose(maps);

    CK(cudaFree(d));
    CK(cudaFreeHost(h));
    CK(cudaFreeHost(back));
    printf("CHECK done 1\n");
    return 0;
}
