// CPU cost of a faked kernel launch: N launches of an empty kernel through <<<>>>, timed on the host.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <cuda_runtime.h>

__global__ void empty(int *p) {}

static double now_ns() {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 200000;
    int reps = argc > 2 ? atoi(argv[2]) : 7;
    int *d;
    cudaMalloc(&d, 4);
    cudaStream_t s;
    cudaStreamCreate(&s);
    for (int i = 0; i < 1000; i++) empty<<<1, 32, 0, s>>>(d);   // warm: prediction cached
    for (int r = 0; r < reps; r++) {
        double t0 = now_ns();
        for (int i = 0; i < n; i++) empty<<<1, 32, 0, s>>>(d);
        double t1 = now_ns();
        printf("launch_ns %.1f\n", (t1 - t0) / n);
    }
    cudaStreamSynchronize(s);
    return 0;
}
