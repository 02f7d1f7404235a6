// Exercises the CUDA runtime surface under the interposer. Prints "CHECK <name> <value>" lines that
// tests/test_native_cuda.py compares with what the fixed-duration predictor implies.
#include <cstdio>
#include <cuda_runtime.h>

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { printf("FAIL %s: %s\n", #x, cudaGetErrorName(e_)); return 1; } } while (0)

__device__ int dev_counter;
__constant__ float coeffs[16];

__global__ void plain(float *out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = coeffs[i % 16] + dev_counter;
}

template <typename T, int K>
__global__ void templated(T *out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = out[i] * K;
}

static void CUDART_CB mark(void *flag) { *(volatile int *)flag = 1; }

int main() {
    int n = 1 << 10;
    float *d, *h;
    CK(cudaMalloc(&d, n * sizeof(float)));
    CK(cudaMallocHost(&h, n * sizeof(float)));
    for (int i = 0; i < n; i++) h[i] = (float)i;

    // memcpy round trip through (small, real) device memory
    float *back = (float *)malloc(n * sizeof(float));
    CK(cudaMemcpy(d, h, n * sizeof(float), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(back, d, n * sizeof(float), cudaMemcpyDeviceToHost));
    int same = 1;
    for (int i = 0; i < n; i++) same &= back[i] == h[i];
    printf("CHECK memcpy_roundtrip %d\n", same);

    // __constant__ and __device__ variables round trip
    float c[16], c2[16];
    for (int i = 0; i < 16; i++) c[i] = 0.5f * i;
    CK(cudaMemcpyToSymbol(coeffs, c, sizeof c));
    CK(cudaMemcpyFromSymbol(c2, coeffs, sizeof c2));
    int v = 41, v2 = 0;
    CK(cudaMemcpyToSymbol(dev_counter, &v, sizeof v));
    CK(cudaMemcpyFromSymbol(&v2, dev_counter, sizeof v2));
    printf("CHECK symbol_roundtrip %d\n", c2[15] == c[15] && v2 == 41);

    // stream timing: a warm-up keeps the stream busy, so the start event lands exactly at its end
    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    plain<<<4, 256, 0, s>>>(d, n);
    CK(cudaEventRecord(a, s));
    plain<<<4, 256, 0, s>>>(d, n);
    templated<float, 3><<<8, 128, 0, s>>>(d, n);
    templated<double, 2><<<dim3(2, 2), dim3(64, 2), 0, s>>>((double *)d, n / 2);
    CK(cudaMemcpyAsync(h, d, n * sizeof(float), cudaMemcpyDeviceToHost, s));
    CK(cudaMemsetAsync(d, 0, n * sizeof(float), s));
    CK(cudaEventRecord(b, s));
    CK(cudaEventSynchronize(b));
    float ms;
    CK(cudaEventElapsedTime(&ms, a, b));
    printf("CHECK stream_ops_ms %.6f\n", ms);   // 3 kernels + memcpy + memset

    // cross-stream wait: s2's kernel starts after s's pending work
    cudaStream_t s2;
    CK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
    cudaEvent_t c0, c1;
    CK(cudaEventCreate(&c0));
    CK(cudaEventCreate(&c1));
    plain<<<1, 32, 0, s>>>(d, n);
    CK(cudaEventRecord(c0, s));
    plain<<<1, 32, 0, s>>>(d, n);
    plain<<<1, 32, 0, s>>>(d, n);
    cudaEvent_t joined;
    CK(cudaEventCreate(&joined));
    CK(cudaEventRecord(joined, s));
    CK(cudaStreamWaitEvent(s2, joined, 0));
    plain<<<1, 32, 0, s2>>>(d, n);
    CK(cudaEventRecord(c1, s2));
    CK(cudaStreamSynchronize(s2));
    CK(cudaEventElapsedTime(&ms, c0, c1));
    printf("CHECK cross_stream_ms %.6f\n", ms);   // 2 on s, then 1 on s2

    // CUDA graph: capture (with a fork onto s2), instantiate, replay twice
    cudaGraph_t g;
    cudaGraphExec_t x;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    cudaStreamCaptureStatus st;
    CK(cudaStreamIsCapturing(s, &st));
    printf("CHECK capturing %d\n", st == cudaStreamCaptureStatusActive);
    plain<<<4, 256, 0, s>>>(d, n);
    cudaEvent_t fork, join;
    CK(cudaEventCreateWithFlags(&fork, cudaEventDisableTiming));
    CK(cudaEventCreateWithFlags(&join, cudaEventDisableTiming));
    CK(cudaEventRecord(fork, s));
    CK(cudaStreamWaitEvent(s2, fork, 0));
    templated<float, 2><<<4, 256, 0, s2>>>(d, n);   // parallel branch
    plain<<<4, 256, 0, s>>>(d, n);                   // parallel branch
    CK(cudaEventRecord(join, s2));
    CK(cudaStreamWaitEvent(s, join, 0));
    CK(cudaMemsetAsync(d, 7, 16, s));
    CK(cudaStreamEndCapture(s, &g));
    size_t nodes = 0;
    CK(cudaGraphGetNodes(g, NULL, &nodes));
    printf("CHECK graph_nodes %zu\n", nodes);
    CK(cudaGraphInstantiate(&x, g, 0));
    CK(cudaGraphDestroy(g));   // as torch does: the executable keeps its own copy
    plain<<<1, 32, 0, s>>>(d, n);   // keep the stream busy before timing
    CK(cudaEventRecord(a, s));
    CK(cudaGraphLaunch(x, s));
    CK(cudaGraphLaunch(x, s));
    CK(cudaEventRecord(b, s));
    CK(cudaStreamSynchronize(s));
    CK(cudaEventElapsedTime(&ms, a, b));
    printf("CHECK graph_replay_ms %.6f\n", ms);   // per replay: kernel, 2 parallel, memset = 3 deep
    unsigned char first = 0;
    CK(cudaMemcpy(&first, d, 1, cudaMemcpyDeviceToHost));
    printf("CHECK graph_memset_effect %d\n", first == 7);

    // default (legacy) stream waits for blocking streams' earlier work
    cudaStream_t s3;
    CK(cudaStreamCreate(&s3));
    plain<<<1, 32>>>(d, n);   // legacy stream busy: the start event lands at its end
    CK(cudaEventRecord(a, 0));
    plain<<<1, 32, 0, s3>>>(d, n);
    plain<<<1, 32, 0, s3>>>(d, n);
    plain<<<1, 32>>>(d, n);   // legacy stream: after s3's two kernels
    CK(cudaEventRecord(b, 0));
    CK(cudaDeviceSynchronize());
    CK(cudaEventElapsedTime(&ms, a, b));
    printf("CHECK legacy_stream_ms %.6f\n", ms);

    // a host function runs when the stream reaches it; a sync waits for it
    volatile int flag = 0;
    plain<<<1, 32, 0, s>>>(d, n);
    CK(cudaLaunchHostFunc(s, mark, (void *)&flag));
    CK(cudaStreamSynchronize(s));
    printf("CHECK host_fn_ran %d\n", flag);

    size_t free_b, total_b;
    CK(cudaMemGetInfo(&free_b, &total_b));
    printf("CHECK total_memory %zu\n", total_b);
    int count;
    CK(cudaGetDeviceCount(&count));
    printf("CHECK device_count %d\n", count);
    cudaDeviceProp p;
    CK(cudaGetDeviceProperties(&p, 0));
    printf("CHECK name %s\n", p.name);
    printf("CHECK sm_count %d\n", p.multiProcessorCount);
    CK(cudaFree(d));
    CK(cudaFreeHost(h));
    printf("CHECK done 1\n");
    return 0;
}
