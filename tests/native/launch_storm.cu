// N back-to-back kernel launches on one stream; prints the host's virtual time and CPU time in the
// loop (CHECK lines), the GPU never holding the host back (no queue limit, no sync in the loop).
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <cuda_runtime.h>

__global__ void tick(float *out) { out[threadIdx.x] += 1.0f; }

static long long ns(clockid_t clock) {
    timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    float *d;
    if (cudaMalloc(&d, 256 * sizeof(float)) != cudaSuccess) return 1;
    for (int i = 0; i < 100; i++) tick<<<1, 256>>>(d);   // warm: first launches register the kernel
    long long v0 = ns(CLOCK_MONOTONIC), c0 = ns(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i < n; i++) tick<<<1, 256>>>(d);
    long long v1 = ns(CLOCK_MONOTONIC), c1 = ns(CLOCK_THREAD_CPUTIME_ID);
    if (cudaDeviceSynchronize() != cudaSuccess) return 1;
    printf("CHECK launch_host_ns %lld\nCHECK launch_cpu_ns %lld\n", v1 - v0, c1 - c0);
    return 0;
}
