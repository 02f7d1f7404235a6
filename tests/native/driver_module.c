/* Driver API: module load + function lookup + launch, as Triton does. Prints CHECK lines. */
#include <cuda.h>
#include <stdio.h>

#define CK(x) do { CUresult r_ = (x); if (r_ != CUDA_SUCCESS) { const char *s_; cuGetErrorName(r_, &s_); printf("FAIL %s: %s\n", #x, s_); return 1; } } while (0)

int main(int argc, char **argv) {
    CUdevice dev;
    CUcontext ctx;
    CUmodule mod;
    CUfunction fn;
    CUdeviceptr buf;
    CUstream s;
    CUevent a, b;
    int n = 4096;
    CK(cuInit(0));
    CK(cuDeviceGet(&dev, 0));
    CK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CK(cuCtxSetCurrent(ctx));
    CK(cuModuleLoad(&mod, argv[1]));
    CK(cuModuleGetFunction(&fn, mod, "add_one"));
    const char *name;
    CK(cuFuncGetName(&name, fn));
    printf("CHECK function_name %s\n", name);
    CK(cuMemAlloc(&buf, n * sizeof(float)));
    CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CK(cuEventCreate(&a, CU_EVENT_DEFAULT));
    CK(cuEventCreate(&b, CU_EVENT_DEFAULT));
    void *args[] = {&buf, &n};
    CK(cuLaunchKernel(fn, n / 256, 1, 1, 256, 1, 1, 0, s, args, NULL));
    CK(cuEventRecord(a, s));
    for (int i = 0; i < 4; i++) CK(cuLaunchKernel(fn, n / 256, 1, 1, 256, 1, 1, 0, s, args, NULL));
    CK(cuEventRecord(b, s));
    CK(cuStreamSynchronize(s));
    float ms;
    CK(cuEventElapsedTime(&ms, a, b));
    printf("CHECK driver_launch_ms %.6f\n", ms);
    CK(cuMemFree(buf));
    CK(cuModuleUnload(mod));
    printf("CHECK done 1\n");
    return 0;
}
