/* Fake CUDA runtime (libcudart): devices, memory, streams, events, launches, graphs and the nvcc
 * registration entry points, all on the core's virtual devices and timeline. */
#define _GNU_SOURCE
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "revati.h"

#if RV_CUDA_MAJOR < 13
/* CUDA 12 headers rename these two to the _v2 that 12-built callers link; libcudart.so.12 also exports
 * the unversioned (CUDA 11 ABI) entry points, reached by dlsym/ctypes: both are defined below. */
#undef cudaGetDeviceProperties
#undef cudaStreamGetCaptureInfo
#endif

#define STR2(x) #x
#define STR(x) STR2(x)
#define LIB "libcudart.so." STR(RV_CUDA_MAJOR)
#define API RV_API(LIB)

static __thread cudaError_t t_last;

static cudaError_t fail(cudaError_t e) {
    t_last = e;
    return e;
}

static int attr(int a) {
    int v = 0;
    rv_hw_attr(a, &v);
    return v;
}

/* A stream handle as the caller passed it (NULL = legacy default stream for these entry points). */
static rv_stream *S(cudaStream_t h) { return rv_stream_resolve((void *)h, false); }
static rv_stream *S_pt(cudaStream_t h) { return rv_stream_resolve((void *)h, true); }
#define STREAM_OR_FAIL(var, h) rv_stream *var = S(h); if (!var) return fail(cudaErrorInvalidResourceHandle)

/* ---------------- versions and errors ---------------- */
/* The runtime is the version of the headers built against (13000; 12090 for the 12.9 wheel the CUDA 12
 * ABI lists come from); the driver is the r580 one both configurations model, which reports 13000
 * under a CUDA 12 runtime too (measured: predictors/hardware/measured/h200-cu12-props.json). */
cudaError_t cudaRuntimeGetVersion(int *v) { API; *v = CUDART_VERSION; return cudaSuccess; }
cudaError_t cudaDriverGetVersion(int *v) { API; *v = 13000; return cudaSuccess; }
cudaError_t cudaGetLastError(void) { API; cudaError_t e = t_last; t_last = cudaSuccess; return e; }
cudaError_t cudaPeekAtLastError(void) { API; return t_last; }

static const char *err_name(cudaError_t e) {
    switch (e) {
#define E(x) case x: return #x;
    E(cudaSuccess) E(cudaErrorInvalidValue) E(cudaErrorMemoryAllocation) E(cudaErrorInitializationError)
    E(cudaErrorInvalidDevice) E(cudaErrorInvalidResourceHandle) E(cudaErrorNotReady) E(cudaErrorNotSupported)
    E(cudaErrorInvalidDevicePointer) E(cudaErrorInvalidSymbol) E(cudaErrorPeerAccessAlreadyEnabled)
    E(cudaErrorPeerAccessNotEnabled) E(cudaErrorStreamCaptureUnsupported) E(cudaErrorStreamCaptureInvalidated)
    E(cudaErrorIllegalState) E(cudaErrorHostMemoryAlreadyRegistered) E(cudaErrorHostMemoryNotRegistered)
    E(cudaErrorInvalidDeviceFunction) E(cudaErrorSymbolNotFound) E(cudaErrorNoDevice) E(cudaErrorUnknown)
    E(cudaErrorCudartUnloading) E(cudaErrorStreamCaptureWrongThread) E(cudaErrorInvalidConfiguration)
#undef E
    default: return "cudaErrorUnknown";
    }
}
const char *cudaGetErrorName(cudaError_t e) { API; return err_name(e); }
const char *cudaGetErrorString(cudaError_t e) {
    API;
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorNotSupported: return "operation not supported";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    default: return err_name(e);
    }
}

/* ---------------- devices ---------------- */
cudaError_t cudaGetDeviceCount(int *n) { API; *n = rv_device_count(); return cudaSuccess; }
cudaError_t cudaGetDevice(int *d) { API; *d = rv_current_device(); return cudaSuccess; }
cudaError_t cudaSetDevice(int d) {
    API;
    if (!rv_device_valid(d)) return fail(cudaErrorInvalidDevice);
    rv_set_current_device(d);
    return cudaSuccess;
}
cudaError_t cudaInitDevice(int d, unsigned int df, unsigned int f) {
    API; (void)df; (void)f;
    return rv_device_valid(d) ? cudaSuccess : fail(cudaErrorInvalidDevice);
}
cudaError_t cudaSetDeviceFlags(unsigned int f) { API; (void)f; return cudaSuccess; }
cudaError_t cudaGetDeviceFlags(unsigned int *f) { API; *f = cudaDeviceScheduleAuto | cudaDeviceMapHost; return cudaSuccess; }
cudaError_t cudaDeviceReset(void) { API; return cudaSuccess; }
cudaError_t cudaDeviceSynchronize(void) { API; rv_device_sync(rv_current_device()); return cudaSuccess; }
cudaError_t cudaSetValidDevices(int *d, int n) { API; (void)d; (void)n; return cudaSuccess; }
cudaError_t cudaChooseDevice(int *d, const struct cudaDeviceProp *p) { API; (void)p; *d = 0; return cudaSuccess; }

cudaError_t cudaDeviceGetAttribute(int *v, enum cudaDeviceAttr a, int d) {
    API;
    if (!rv_device_valid(d)) return fail(cudaErrorInvalidDevice);
    if (a == cudaDevAttrPciBusId) { *v = rv_device_physical(d); return cudaSuccess; }  /* one bus per device */
    if (rv_hw_attr(a, v)) return fail(cudaErrorInvalidValue);
    return cudaSuccess;
}

/* cudaDeviceProp from the catalog's attribute table (the same table the real device reports). */
static void fill_props(struct cudaDeviceProp *p, int d) {
    const rv_hw *hw = &rv_cfg()->hw;
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", hw->name);
    rv_device_uuid(d, (unsigned char *)p->uuid.bytes);
    p->totalGlobalMem = hw->total_memory;
    p->sharedMemPerBlock = attr(cudaDevAttrMaxSharedMemoryPerBlock);
    p->regsPerBlock = attr(cudaDevAttrMaxRegistersPerBlock);
    p->warpSize = attr(cudaDevAttrWarpSize);
    p->memPitch = attr(cudaDevAttrMaxPitch) < 0 ? 0x7fffffff : (size_t)(unsigned)attr(cudaDevAttrMaxPitch);
    p->maxThreadsPerBlock = attr(cudaDevAttrMaxThreadsPerBlock);
    p->maxThreadsDim[0] = attr(cudaDevAttrMaxBlockDimX);
    p->maxThreadsDim[1] = attr(cudaDevAttrMaxBlockDimY);
    p->maxThreadsDim[2] = attr(cudaDevAttrMaxBlockDimZ);
    p->maxGridSize[0] = attr(cudaDevAttrMaxGridDimX);
    p->maxGridSize[1] = attr(cudaDevAttrMaxGridDimY);
    p->maxGridSize[2] = attr(cudaDevAttrMaxGridDimZ);
    p->totalConstMem = attr(cudaDevAttrTotalConstantMemory);
    p->major = attr(cudaDevAttrComputeCapabilityMajor);
    p->minor = attr(cudaDevAttrComputeCapabilityMinor);
    p->textureAlignment = attr(cudaDevAttrTextureAlignment);
    p->texturePitchAlignment = attr(cudaDevAttrTexturePitchAlignment);
    p->multiProcessorCount = attr(cudaDevAttrMultiProcessorCount);
    p->integrated = attr(cudaDevAttrIntegrated);
    p->canMapHostMemory = attr(cudaDevAttrCanMapHostMemory);
    p->maxTexture1D = attr(cudaDevAttrMaxTexture1DWidth);
    p->maxTexture1DMipmap = attr(cudaDevAttrMaxTexture1DMipmappedWidth);
    p->maxTexture2D[0] = attr(cudaDevAttrMaxTexture2DWidth);
    p->maxTexture2D[1] = attr(cudaDevAttrMaxTexture2DHeight);
    p->maxTexture2DMipmap[0] = attr(cudaDevAttrMaxTexture2DMipmappedWidth);
    p->maxTexture2DMipmap[1] = attr(cudaDevAttrMaxTexture2DMipmappedHeight);
    p->maxTexture2DLinear[0] = attr(cudaDevAttrMaxTexture2DLinearWidth);
    p->maxTexture2DLinear[1] = attr(cudaDevAttrMaxTexture2DLinearHeight);
    p->maxTexture2DLinear[2] = attr(cudaDevAttrMaxTexture2DLinearPitch);
    p->maxTexture2DGather[0] = attr(cudaDevAttrMaxTexture2DGatherWidth);
    p->maxTexture2DGather[1] = attr(cudaDevAttrMaxTexture2DGatherHeight);
    p->maxTexture3D[0] = attr(cudaDevAttrMaxTexture3DWidth);
    p->maxTexture3D[1] = attr(cudaDevAttrMaxTexture3DHeight);
    p->maxTexture3D[2] = attr(cudaDevAttrMaxTexture3DDepth);
    p->maxTexture3DAlt[0] = attr(cudaDevAttrMaxTexture3DWidthAlt);
    p->maxTexture3DAlt[1] = attr(cudaDevAttrMaxTexture3DHeightAlt);
    p->maxTexture3DAlt[2] = attr(cudaDevAttrMaxTexture3DDepthAlt);
    p->maxTextureCubemap = attr(cudaDevAttrMaxTextureCubemapWidth);
    p->maxTexture1DLayered[0] = attr(cudaDevAttrMaxTexture1DLayeredWidth);
    p->maxTexture1DLayered[1] = attr(cudaDevAttrMaxTexture1DLayeredLayers);
    p->maxTexture2DLayered[0] = attr(cudaDevAttrMaxTexture2DLayeredWidth);
    p->maxTexture2DLayered[1] = attr(cudaDevAttrMaxTexture2DLayeredHeight);
    p->maxTexture2DLayered[2] = attr(cudaDevAttrMaxTexture2DLayeredLayers);
    p->maxTextureCubemapLayered[0] = attr(cudaDevAttrMaxTextureCubemapLayeredWidth);
    p->maxTextureCubemapLayered[1] = attr(cudaDevAttrMaxTextureCubemapLayeredLayers);
    p->maxSurface1D = attr(cudaDevAttrMaxSurface1DWidth);
    p->maxSurface2D[0] = attr(cudaDevAttrMaxSurface2DWidth);
    p->maxSurface2D[1] = attr(cudaDevAttrMaxSurface2DHeight);
    p->maxSurface3D[0] = attr(cudaDevAttrMaxSurface3DWidth);
    p->maxSurface3D[1] = attr(cudaDevAttrMaxSurface3DHeight);
    p->maxSurface3D[2] = attr(cudaDevAttrMaxSurface3DDepth);
    p->maxSurface1DLayered[0] = attr(cudaDevAttrMaxSurface1DLayeredWidth);
    p->maxSurface1DLayered[1] = attr(cudaDevAttrMaxSurface1DLayeredLayers);
    p->maxSurface2DLayered[0] = attr(cudaDevAttrMaxSurface2DLayeredWidth);
    p->maxSurface2DLayered[1] = attr(cudaDevAttrMaxSurface2DLayeredHeight);
    p->maxSurface2DLayered[2] = attr(cudaDevAttrMaxSurface2DLayeredLayers);
    p->maxSurfaceCubemap = attr(cudaDevAttrMaxSurfaceCubemapWidth);
    p->maxSurfaceCubemapLayered[0] = attr(cudaDevAttrMaxSurfaceCubemapLayeredWidth);
    p->maxSurfaceCubemapLayered[1] = attr(cudaDevAttrMaxSurfaceCubemapLayeredLayers);
    p->surfaceAlignment = attr(cudaDevAttrSurfaceAlignment);
    p->concurrentKernels = attr(cudaDevAttrConcurrentKernels);
    p->ECCEnabled = attr(cudaDevAttrEccEnabled);
    p->pciBusID = rv_device_physical(d);
    p->pciDeviceID = attr(cudaDevAttrPciDeviceId);
    p->pciDomainID = attr(cudaDevAttrPciDomainId);
    p->tccDriver = attr(cudaDevAttrTccDriver);
    p->asyncEngineCount = attr(cudaDevAttrAsyncEngineCount);
    p->unifiedAddressing = attr(cudaDevAttrUnifiedAddressing);
    p->memoryBusWidth = attr(cudaDevAttrGlobalMemoryBusWidth);
    p->l2CacheSize = attr(cudaDevAttrL2CacheSize);
    p->persistingL2CacheMaxSize = attr(cudaDevAttrMaxPersistingL2CacheSize);
    p->maxThreadsPerMultiProcessor = attr(cudaDevAttrMaxThreadsPerMultiProcessor);
    p->streamPrioritiesSupported = attr(cudaDevAttrStreamPrioritiesSupported);
    p->globalL1CacheSupported = attr(cudaDevAttrGlobalL1CacheSupported);
    p->localL1CacheSupported = attr(cudaDevAttrLocalL1CacheSupported);
    p->sharedMemPerMultiprocessor = attr(cudaDevAttrMaxSharedMemoryPerMultiprocessor);
    p->regsPerMultiprocessor = attr(cudaDevAttrMaxRegistersPerMultiprocessor);
    p->managedMemory = attr(cudaDevAttrManagedMemory);
    p->isMultiGpuBoard = attr(cudaDevAttrIsMultiGpuBoard);
    p->multiGpuBoardGroupID = attr(cudaDevAttrMultiGpuBoardGroupID);
    p->hostNativeAtomicSupported = attr(cudaDevAttrHostNativeAtomicSupported);
    p->pageableMemoryAccess = attr(cudaDevAttrPageableMemoryAccess);
    p->concurrentManagedAccess = attr(cudaDevAttrConcurrentManagedAccess);
    p->computePreemptionSupported = attr(cudaDevAttrComputePreemptionSupported);
    p->canUseHostPointerForRegisteredMem = attr(cudaDevAttrCanUseHostPointerForRegisteredMem);
    p->cooperativeLaunch = attr(cudaDevAttrCooperativeLaunch);
    p->sharedMemPerBlockOptin = attr(cudaDevAttrMaxSharedMemoryPerBlockOptin);
    p->pageableMemoryAccessUsesHostPageTables = attr(cudaDevAttrPageableMemoryAccessUsesHostPageTables);
    p->directManagedMemAccessFromHost = attr(cudaDevAttrDirectManagedMemAccessFromHost);
    p->maxBlocksPerMultiProcessor = attr(cudaDevAttrMaxBlocksPerMultiprocessor);
    p->accessPolicyMaxWindowSize = attr(cudaDevAttrMaxAccessPolicyWindowSize);
    p->reservedSharedMemPerBlock = attr(cudaDevAttrReservedSharedMemoryPerBlock);
    p->hostRegisterSupported = attr(cudaDevAttrHostRegisterSupported);
    p->sparseCudaArraySupported = attr(cudaDevAttrSparseCudaArraySupported);
    p->hostRegisterReadOnlySupported = attr(cudaDevAttrHostRegisterReadOnlySupported);
    p->timelineSemaphoreInteropSupported = attr(cudaDevAttrTimelineSemaphoreInteropSupported);
    p->memoryPoolsSupported = attr(cudaDevAttrMemoryPoolsSupported);
    p->gpuDirectRDMASupported = attr(cudaDevAttrGPUDirectRDMASupported);
    p->gpuDirectRDMAFlushWritesOptions = attr(cudaDevAttrGPUDirectRDMAFlushWritesOptions);
    p->gpuDirectRDMAWritesOrdering = attr(cudaDevAttrGPUDirectRDMAWritesOrdering);
    p->memoryPoolSupportedHandleTypes = attr(cudaDevAttrMemoryPoolSupportedHandleTypes);
    p->deferredMappingCudaArraySupported = attr(cudaDevAttrDeferredMappingCudaArraySupported);
    p->ipcEventSupported = attr(cudaDevAttrIpcEventSupport);
    p->clusterLaunch = attr(cudaDevAttrClusterLaunch);
    p->unifiedFunctionPointers = attr(129) /* CU_DEVICE_ATTRIBUTE_UNIFIED_FUNCTION_POINTERS */;
#if RV_CUDA_MAJOR < 13   /* fields CUDA 13 removed from cudaDeviceProp */
    p->clockRate = attr(cudaDevAttrClockRate);
    p->deviceOverlap = attr(cudaDevAttrGpuOverlap);
    p->kernelExecTimeoutEnabled = attr(cudaDevAttrKernelExecTimeout);
    p->computeMode = attr(cudaDevAttrComputeMode);
    p->maxTexture1DLinear = attr(cudaDevAttrMaxTexture1DLinearWidth);
    p->memoryClockRate = attr(cudaDevAttrMemoryClockRate);
    p->singleToDoublePrecisionPerfRatio = attr(cudaDevAttrSingleToDoublePrecisionPerfRatio);
    p->cooperativeMultiDeviceLaunch = attr(cudaDevAttrCooperativeMultiDeviceLaunch);
#else                    /* fields new in CUDA 13 */
    p->deviceNumaConfig = attr(cudaDevAttrNumaConfig);
    p->deviceNumaId = attr(cudaDevAttrNumaId);
    p->mpsEnabled = attr(cudaDevAttrMpsEnabled);
    p->hostNumaId = attr(cudaDevAttrHostNumaId);
    p->gpuPciDeviceID = (unsigned)attr(cudaDevAttrGpuPciDeviceId);
    p->gpuPciSubsystemID = (unsigned)attr(cudaDevAttrGpuPciSubsystemId);
    p->hostNumaMultinodeIpcSupported = attr(cudaDevAttrHostNumaMultinodeIpcSupported);
#endif
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int d) {
    API;
    if (!rv_device_valid(d)) return fail(cudaErrorInvalidDevice);
#if RV_CUDA_MAJOR < 13
    /* the CUDA 11 struct: the real 12 runtime writes only the fields before hostRegisterSupported */
    struct cudaDeviceProp full;
    fill_props(&full, d);
    memcpy(p, &full, offsetof(struct cudaDeviceProp, hostRegisterSupported));
#else
    fill_props(p, d);
#endif
    return cudaSuccess;
}
#if RV_CUDA_MAJOR < 13
cudaError_t cudaGetDeviceProperties_v2(struct cudaDeviceProp *p, int d) {
    API;
    if (!rv_device_valid(d)) return fail(cudaErrorInvalidDevice);
    fill_props(p, d);
    return cudaSuccess;
}
#endif

cudaError_t cudaDeviceCanAccessPeer(int *can, int d, int peer) {
    API;
    *can = rv_device_valid(d) && rv_device_valid(peer) && d != peer;
    return cudaSuccess;
}
cudaError_t cudaDeviceEnablePeerAccess(int peer, unsigned int f) {
    API; (void)f;
    return rv_device_valid(peer) ? cudaSuccess : fail(cudaErrorInvalidDevice);
}
cudaError_t cudaDeviceDisablePeerAccess(int peer) { API; (void)peer; return cudaSuccess; }
cudaError_t cudaDeviceGetP2PAttribute(int *v, enum cudaDeviceP2PAttr a, int s, int d) {
    API; (void)s; (void)d;
    *v = a == cudaDevP2PAttrPerformanceRank ? 0 : 1;
    return cudaSuccess;
}
cudaError_t cudaDeviceGetPCIBusId(char *buf, int len, int d) {
    API;
    if (!rv_device_valid(d)) return fail(cudaErrorInvalidDevice);
    snprintf(buf, len, "00000000:%02X:00.0", rv_device_physical(d));
    return cudaSuccess;
}
cudaError_t cudaDeviceGetByPCIBusId(int *d, const char *id) {
    API;
    unsigned dom, bus;
    int dev;
    if (sscanf(id, "%x:%x", &dom, &bus) != 2 || (dev = rv_device_by_pci_bus((int)bus)) < 0) return fail(cudaErrorInvalidValue);
    *d = dev;
    return cudaSuccess;
}
cudaError_t cudaDeviceGetStreamPriorityRange(int *least, int *greatest) {
    API;
    if (least) *least = 0;
    if (greatest) *greatest = -5;
    return cudaSuccess;
}
static size_t g_limits[16] = {[cudaLimitStackSize] = 1024, [cudaLimitPrintfFifoSize] = 1 << 20,
                              [cudaLimitMallocHeapSize] = 8 << 20, [cudaLimitDevRuntimeSyncDepth] = 2,
                              [cudaLimitDevRuntimePendingLaunchCount] = 2048, [cudaLimitMaxL2FetchGranularity] = 32};
cudaError_t cudaDeviceGetLimit(size_t *v, enum cudaLimit l) {
    API;
    if ((unsigned)l >= 16) return fail(cudaErrorInvalidValue);
    *v = g_limits[l];
    return cudaSuccess;
}
cudaError_t cudaDeviceSetLimit(enum cudaLimit l, size_t v) {
    API;
    if ((unsigned)l >= 16) return fail(cudaErrorInvalidValue);
    g_limits[l] = v;
    return cudaSuccess;
}
cudaError_t cudaDeviceGetCacheConfig(enum cudaFuncCache *c) { API; *c = cudaFuncCachePreferNone; return cudaSuccess; }
cudaError_t cudaDeviceSetCacheConfig(enum cudaFuncCache c) { API; (void)c; return cudaSuccess; }
cudaError_t cudaDeviceFlushGPUDirectRDMAWrites(enum cudaFlushGPUDirectRDMAWritesTarget t, enum cudaFlushGPUDirectRDMAWritesScope s) {
    API; (void)t; (void)s; return cudaSuccess;
}
cudaError_t cudaProfilerStart(void) { API; return cudaSuccess; }
cudaError_t cudaProfilerStop(void) { API; return cudaSuccess; }

/* ---------------- memory ---------------- */
cudaError_t cudaMalloc(void **p, size_t size) {
    API;
    *p = rv_dev_alloc(rv_current_device(), size, false);
    return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}
cudaError_t cudaFree(void *p) {
    API;
    if (!p) return cudaSuccess;
    return rv_dev_free(p) ? fail(cudaErrorInvalidDevicePointer) : cudaSuccess;
}
cudaError_t cudaMallocAsync(void **p, size_t size, cudaStream_t s) { API; (void)s; *p = rv_dev_alloc(rv_current_device(), size, false); return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation); }
cudaError_t cudaFreeAsync(void *p, cudaStream_t s) { API; (void)s; return !p || !rv_dev_free(p) ? cudaSuccess : fail(cudaErrorInvalidDevicePointer); }
cudaError_t cudaMallocManaged(void **p, size_t size, unsigned int f) {
    API; (void)f;
    *p = rv_dev_alloc(rv_current_device(), size, true);   /* the host may touch managed memory */
    return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}
cudaError_t cudaMallocPitch(void **p, size_t *pitch, size_t w, size_t h) {
    API;
    *pitch = (w + 511) & ~(size_t)511;
    *p = rv_dev_alloc(rv_current_device(), *pitch * h, false);
    return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}
cudaError_t cudaMallocHost(void **p, size_t size) {
    API;
    *p = rv_host_alloc(size);
    return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}
cudaError_t cudaHostAlloc(void **p, size_t size, unsigned int f) {
    API; (void)f;
    *p = rv_host_alloc(size);
    return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}
cudaError_t cudaFreeHost(void *p) { API; return !p || !rv_host_free(p) ? cudaSuccess : fail(cudaErrorInvalidValue); }
cudaError_t cudaHostRegister(void *p, size_t size, unsigned int f) { API; (void)f; rv_host_register(p, size); return cudaSuccess; }
cudaError_t cudaHostUnregister(void *p) { API; return rv_host_unregister(p) ? fail(cudaErrorHostMemoryNotRegistered) : cudaSuccess; }
cudaError_t cudaHostGetDevicePointer(void **d, void *h, unsigned int f) { API; (void)f; *d = h; return cudaSuccess; }
cudaError_t cudaHostGetFlags(unsigned int *f, void *h) { API; (void)h; *f = cudaHostAllocDefault; return cudaSuccess; }
cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b) {
    API;
    uint64_t f, t;
    rv_mem_info(rv_current_device(), &f, &t);
    *free_b = f;
    *total_b = t;
    return cudaSuccess;
}

cudaError_t cudaPointerGetAttributes(struct cudaPointerAttributes *a, const void *p) {
    API;
    memset(a, 0, sizeof *a);
    rv_alloc al;
    a->device = rv_current_device();
    if (!rv_alloc_find(p, &al)) { a->type = cudaMemoryTypeUnregistered; return cudaSuccess; }
    if (al.kind == RV_MEM_DEVICE) {
        a->type = cudaMemoryTypeDevice;
        a->device = al.device;
        a->devicePointer = (void *)p;
    } else if (al.kind == RV_MEM_MANAGED) {
        a->type = cudaMemoryTypeManaged;
        a->devicePointer = a->hostPointer = (void *)p;
    } else {
        a->type = cudaMemoryTypeHost;
        a->devicePointer = a->hostPointer = (void *)p;
    }
    return cudaSuccess;
}

static rv_ns copy(void *dst, const void *src, size_t n, rv_stream *s) { return rv_enqueue_copy(s, dst, src, n); }
static void fill(void *dst, int value, size_t count, size_t elem, rv_stream *s) { rv_enqueue_memset(s, dst, value, count, elem); }

/* Synchronous copies: the host waits unless it is device-to-device (CUDA returns early then). */
static cudaError_t copy_sync(void *dst, const void *src, size_t n, rv_stream *s) {
    copy(dst, src, n, s);
    if (strcmp(rv_copy_direction(dst, src, NULL), "d2d")) rv_stream_sync(s);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *d, const void *s, size_t n, enum cudaMemcpyKind k) { API; (void)k; return copy_sync(d, s, n, S(0)); }
cudaError_t cudaMemcpy_ptds(void *d, const void *s, size_t n, enum cudaMemcpyKind k) { API; (void)k; return copy_sync(d, s, n, S_pt(0)); }
cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, enum cudaMemcpyKind k, cudaStream_t h) {
    API; (void)k;
    STREAM_OR_FAIL(st, h);
    copy(d, s, n, st);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync_ptsz(void *d, const void *s, size_t n, enum cudaMemcpyKind k, cudaStream_t h) {
    API; (void)k;
    rv_stream *st = S_pt(h);
    if (!st) return fail(cudaErrorInvalidResourceHandle);
    copy(d, s, n, st);
    return cudaSuccess;
}
cudaError_t cudaMemcpyPeer(void *d, int dd, const void *s, int sd, size_t n) { API; (void)dd; (void)sd; return copy_sync(d, s, n, S(0)); }
cudaError_t cudaMemcpyPeerAsync(void *d, int dd, const void *s, int sd, size_t n, cudaStream_t h) {
    API; (void)dd; (void)sd;
    STREAM_OR_FAIL(st, h);
    copy(d, s, n, st);
    return cudaSuccess;
}

static void copy2d(void *dst, size_t dp, const void *src, size_t sp, size_t w, size_t h, rv_stream *s) {
    if (dp == w && sp == w) { copy(dst, src, w * h, s); return; }
    rv_op op;
    rv_effect e;
    rv_copy_op(&op, &e, rv_stream_device(s), dst, src, w * h);
    rv_enqueue(s, &op, -1, NULL);   /* rows apart: the effect is row by row */
    for (size_t r = 0; r < h; r++) rv_copy_effect((char *)dst + r * dp, (const char *)src + r * sp, w);
}
cudaError_t cudaMemcpy2D(void *d, size_t dp, const void *s, size_t sp, size_t w, size_t h, enum cudaMemcpyKind k) {
    API; (void)k;
    rv_stream *st = S(0);
    copy2d(d, dp, s, sp, w, h, st);
    rv_stream_sync(st);
    return cudaSuccess;
}
cudaError_t cudaMemcpy2DAsync(void *d, size_t dp, const void *s, size_t sp, size_t w, size_t h, enum cudaMemcpyKind k, cudaStream_t hs) {
    API; (void)k;
    STREAM_OR_FAIL(st, hs);
    copy2d(d, dp, s, sp, w, h, st);
    return cudaSuccess;
}

cudaError_t cudaMemset(void *d, int v, size_t n) { API; rv_stream *s = S(0); fill(d, v, n, 1, s); return cudaSuccess; }
cudaError_t cudaMemset_ptds(void *d, int v, size_t n) { API; fill(d, v, n, 1, S_pt(0)); return cudaSuccess; }
cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t h) {
    API;
    STREAM_OR_FAIL(st, h);
    fill(d, v, n, 1, st);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync_ptsz(void *d, int v, size_t n, cudaStream_t h) {
    API;
    rv_stream *st = S_pt(h);
    if (!st) return fail(cudaErrorInvalidResourceHandle);
    fill(d, v, n, 1, st);
    return cudaSuccess;
}
cudaError_t cudaMemset2DAsync(void *d, size_t pitch, int v, size_t w, size_t h, cudaStream_t hs) {
    API;
    STREAM_OR_FAIL(st, hs);
    rv_op op;
    rv_effect e;
    rv_memset_op(&op, &e, rv_stream_device(st), d, v, w * h, 1);
    rv_enqueue(st, &op, -1, NULL);   /* rows apart: the effect is row by row */
    for (size_t r = 0; r < h; r++) rv_memset_effect((char *)d + r * pitch, v, w, 1);
    return cudaSuccess;
}
#if RV_CUDA_MAJOR >= 13
cudaError_t cudaMemPrefetchAsync(const void *p, size_t n, struct cudaMemLocation loc, unsigned int flags, cudaStream_t s) {
    API; (void)p; (void)n; (void)loc; (void)flags; (void)s; return cudaSuccess;
}
#else   /* CUDA 12: the location form is _v2; the unversioned one takes a device ordinal */
cudaError_t cudaMemPrefetchAsync_v2(const void *p, size_t n, struct cudaMemLocation loc, unsigned int flags, cudaStream_t s) {
    API; (void)p; (void)n; (void)loc; (void)flags; (void)s; return cudaSuccess;
}
cudaError_t cudaMemPrefetchAsync(const void *p, size_t n, int dst, cudaStream_t s) {
    API; (void)p; (void)n; (void)dst; (void)s; return cudaSuccess;
}
#endif

/* ---------------- symbols (__device__ / __constant__ variables) ---------------- */
static void *symbol(const void *sym, size_t *size) { return rv_var_device_ptr(sym, size); }

cudaError_t cudaGetSymbolAddress(void **p, const void *sym) {
    API;
    *p = symbol(sym, NULL);
    return *p ? cudaSuccess : fail(cudaErrorInvalidSymbol);
}
cudaError_t cudaGetSymbolSize(size_t *n, const void *sym) {
    API;
    return symbol(sym, n) ? cudaSuccess : fail(cudaErrorInvalidSymbol);
}
static cudaError_t to_symbol(const void *sym, const void *src, size_t n, size_t off, rv_stream *s, bool sync) {
    size_t size;
    char *dev = symbol(sym, &size);
    if (!dev || off + n > size) return fail(cudaErrorInvalidSymbol);
    copy(dev + off, src, n, s);
    if (sync) rv_stream_sync(s);
    return cudaSuccess;
}
static cudaError_t from_symbol(void *dst, const void *sym, size_t n, size_t off, rv_stream *s, bool sync) {
    size_t size;
    char *dev = symbol(sym, &size);
    if (!dev || off + n > size) return fail(cudaErrorInvalidSymbol);
    copy(dst, dev + off, n, s);
    if (sync) rv_stream_sync(s);
    return cudaSuccess;
}
cudaError_t cudaMemcpyToSymbol(const void *sym, const void *src, size_t n, size_t off, enum cudaMemcpyKind k) { API; (void)k; return to_symbol(sym, src, n, off, S(0), true); }
cudaError_t cudaMemcpyFromSymbol(void *dst, const void *sym, size_t n, size_t off, enum cudaMemcpyKind k) { API; (void)k; return from_symbol(dst, sym, n, off, S(0), true); }
cudaError_t cudaMemcpyToSymbolAsync(const void *sym, const void *src, size_t n, size_t off, enum cudaMemcpyKind k, cudaStream_t h) {
    API; (void)k;
    STREAM_OR_FAIL(st, h);
    return to_symbol(sym, src, n, off, st, false);
}
cudaError_t cudaMemcpyFromSymbolAsync(void *dst, const void *sym, size_t n, size_t off, enum cudaMemcpyKind k, cudaStream_t h) {
    API; (void)k;
    STREAM_OR_FAIL(st, h);
    return from_symbol(dst, sym, n, off, st, false);
}

/* ---------------- streams ---------------- */
cudaError_t cudaStreamCreate(cudaStream_t *s) { API; *s = (cudaStream_t)rv_stream_create(rv_current_device(), 0, 0); return cudaSuccess; }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned int f) { API; *s = (cudaStream_t)rv_stream_create(rv_current_device(), f, 0); return cudaSuccess; }
cudaError_t cudaStreamCreateWithPriority(cudaStream_t *s, unsigned int f, int prio) { API; *s = (cudaStream_t)rv_stream_create(rv_current_device(), f, prio); return cudaSuccess; }
cudaError_t cudaStreamDestroy(cudaStream_t h) {
    API;
    rv_stream *s = S(h);
    if (!s || (void *)h == NULL || (void *)h == RV_STREAM_LEGACY || (void *)h == RV_STREAM_PER_THREAD) return fail(cudaErrorInvalidResourceHandle);
    rv_stream_destroy(s);
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t h) { API; STREAM_OR_FAIL(s, h); rv_stream_sync(s); return cudaSuccess; }
cudaError_t cudaStreamSynchronize_ptsz(cudaStream_t h) { API; rv_stream *s = S_pt(h); if (!s) return fail(cudaErrorInvalidResourceHandle); rv_stream_sync(s); return cudaSuccess; }
cudaError_t cudaStreamQuery(cudaStream_t h) { API; STREAM_OR_FAIL(s, h); return rv_stream_done(s) ? cudaSuccess : cudaErrorNotReady; }
cudaError_t cudaStreamQuery_ptsz(cudaStream_t h) { API; rv_stream *s = S_pt(h); if (!s) return fail(cudaErrorInvalidResourceHandle); return rv_stream_done(s) ? cudaSuccess : cudaErrorNotReady; }
cudaError_t cudaStreamWaitEvent(cudaStream_t h, cudaEvent_t e, unsigned int f) {
    API; (void)f;
    STREAM_OR_FAIL(s, h);
    if (!rv_event_valid((rv_event *)e)) return fail(cudaErrorInvalidResourceHandle);
    rv_stream_wait_event(s, (rv_event *)e);
    return cudaSuccess;
}
cudaError_t cudaStreamWaitEvent_ptsz(cudaStream_t h, cudaEvent_t e, unsigned int f) {
    API; (void)f;
    rv_stream *s = S_pt(h);
    if (!s || !rv_event_valid((rv_event *)e)) return fail(cudaErrorInvalidResourceHandle);
    rv_stream_wait_event(s, (rv_event *)e);
    return cudaSuccess;
}
cudaError_t cudaStreamGetPriority(cudaStream_t h, int *p) { API; STREAM_OR_FAIL(s, h); *p = rv_stream_priority(s); return cudaSuccess; }
cudaError_t cudaStreamGetFlags(cudaStream_t h, unsigned int *f) { API; STREAM_OR_FAIL(s, h); *f = rv_stream_flags(s); return cudaSuccess; }
cudaError_t cudaStreamGetDevice(cudaStream_t h, int *d) { API; STREAM_OR_FAIL(s, h); *d = rv_stream_device(s); return cudaSuccess; }
cudaError_t cudaStreamGetId(cudaStream_t h, unsigned long long *id) { API; STREAM_OR_FAIL(s, h); *id = rv_stream_id(s); return cudaSuccess; }

typedef struct { cudaStreamCallback_t cb; cudaStream_t h; void *arg; } legacy_cb;
static void run_legacy_cb(void *p) {
    legacy_cb *c = p;
    c->cb(c->h, cudaSuccess, c->arg);
    free(c);
}
cudaError_t cudaStreamAddCallback(cudaStream_t h, cudaStreamCallback_t cb, void *arg, unsigned int f) {
    API; (void)f;
    STREAM_OR_FAIL(s, h);
    legacy_cb *c = malloc(sizeof *c);
    *c = (legacy_cb){cb, h, arg};
    rv_enqueue_host_fn(s, run_legacy_cb, c);
    return cudaSuccess;
}
cudaError_t cudaLaunchHostFunc(cudaStream_t h, cudaHostFn_t fn, void *arg) {
    API;
    STREAM_OR_FAIL(s, h);
    rv_enqueue_host_fn(s, fn, arg);
    return cudaSuccess;
}

/* ---------------- events ---------------- */
cudaError_t cudaEventCreate(cudaEvent_t *e) { API; *e = (cudaEvent_t)rv_event_create(0); return cudaSuccess; }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned int f) { API; *e = (cudaEvent_t)rv_event_create(f); return cudaSuccess; }
cudaError_t cudaEventDestroy(cudaEvent_t e) {
    API;
    if (!rv_event_valid((rv_event *)e)) return fail(cudaErrorInvalidResourceHandle);
    rv_event_destroy((rv_event *)e);
    return cudaSuccess;
}
static cudaError_t record(cudaEvent_t e, rv_stream *s) {
    if (!s || !rv_event_valid((rv_event *)e)) return fail(cudaErrorInvalidResourceHandle);
    rv_event_record((rv_event *)e, s);
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t h) { API; return record(e, S(h)); }
cudaError_t cudaEventRecord_ptsz(cudaEvent_t e, cudaStream_t h) { API; return record(e, S_pt(h)); }
cudaError_t cudaEventRecordWithFlags(cudaEvent_t e, cudaStream_t h, unsigned int f) { API; (void)f; return record(e, S(h)); }
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
    API;
    if (!rv_event_valid((rv_event *)e)) return fail(cudaErrorInvalidResourceHandle);
    rv_event_sync((rv_event *)e);
    return cudaSuccess;
}
cudaError_t cudaEventQuery(cudaEvent_t e) {
    API;
    if (!rv_event_valid((rv_event *)e)) return fail(cudaErrorInvalidResourceHandle);
    return rv_event_done((rv_event *)e) ? cudaSuccess : cudaErrorNotReady;
}
static cudaError_t elapsed(float *ms, cudaEvent_t a, cudaEvent_t b) {
    if (!rv_event_valid((rv_event *)a) || !rv_event_valid((rv_event *)b)) return fail(cudaErrorInvalidResourceHandle);
    int r = rv_event_elapsed_ms(ms, (rv_event *)a, (rv_event *)b);
    return r == 0 ? cudaSuccess : r == -2 ? fail(cudaErrorNotReady) : fail(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) { API; return elapsed(ms, a, b); }
#if RV_CUDA_MAJOR < 13   /* CUDA 12.8+: same call; CUDA 13 renamed it back to the base name */
cudaError_t cudaEventElapsedTime_v2(float *ms, cudaEvent_t a, cudaEvent_t b) { API; return elapsed(ms, a, b); }
#endif

/* ---------------- kernels: registration and launch ---------------- */
typedef struct { dim3 grid, block; size_t shmem; cudaStream_t stream; } call_config;
static __thread call_config t_cfg[8];
static __thread int t_ncfg;

void **__cudaRegisterFatBinary(void *fatCubin) {
    API;
    void **h = malloc(sizeof(void *));
    *h = fatCubin;
    return h;
}
void __cudaRegisterFatBinaryEnd(void **h) { API; (void)h; }
void __cudaUnregisterFatBinary(void **h) { API; free(h); }
void __cudaRegisterFunction(void **h, const char *hostFun, char *deviceFun, const char *deviceName, int tl,
                            uint3 *tid, uint3 *bid, dim3 *bDim, dim3 *gDim, int *wSize) {
    API; (void)h; (void)deviceName; (void)tl; (void)tid; (void)bid; (void)bDim; (void)gDim; (void)wSize;
    rv_kernel_register(hostFun, deviceFun);
}
void __cudaRegisterVar(void **h, char *hostVar, char *deviceAddress, const char *deviceName, int ext, size_t size,
                       int constant, int global) {
    API; (void)h; (void)deviceAddress; (void)deviceName; (void)ext; (void)constant; (void)global;
    rv_var_register(hostVar, size);
}
void __cudaRegisterManagedVar(void **h, void **hostVarPtrAddress, char *deviceAddress, const char *deviceName, int ext,
                              size_t size, int constant, int global) {
    API; (void)h; (void)deviceAddress; (void)deviceName; (void)ext; (void)constant; (void)global;
    rv_var_register(hostVarPtrAddress, size);
    *hostVarPtrAddress = rv_var_device_ptr(hostVarPtrAddress, NULL);
}
char __cudaInitModule(void **h) { API; (void)h; return 1; }

unsigned __cudaPushCallConfiguration(dim3 grid, dim3 block, size_t shmem, struct CUstream_st *stream) {
    API;
    if (t_ncfg < 8) t_cfg[t_ncfg++] = (call_config){grid, block, shmem, (cudaStream_t)stream};
    return 0;
}
cudaError_t __cudaPopCallConfiguration(dim3 *grid, dim3 *block, size_t *shmem, void *stream) {
    API;
    if (!t_ncfg) return fail(cudaErrorInvalidConfiguration);
    call_config c = t_cfg[--t_ncfg];
    *grid = c.grid;
    *block = c.block;
    *shmem = c.shmem;
    *(cudaStream_t *)stream = c.stream;
    return cudaSuccess;
}

static cudaError_t launch(const void *func, dim3 g, dim3 b, size_t shmem, rv_stream *s, void **args) {
    if (!s) return fail(cudaErrorInvalidResourceHandle);
    rv_kernel *k = rv_kernel_lookup(func);
    if (!k) k = (rv_kernel *)func;   /* a cudaKernel_t from __cudaGetKernel is our record itself */
    unsigned grid[3] = {g.x, g.y, g.z}, block[3] = {b.x, b.y, b.z};
    rv_launch_kernel(k, grid, block, shmem, s, args);
    return cudaSuccess;
}

cudaError_t cudaLaunchKernel(const void *f, dim3 g, dim3 b, void **args, size_t shmem, cudaStream_t h) {
    API;
    if (!rv_kernel_lookup(f)) return fail(cudaErrorInvalidDeviceFunction);
    return launch(f, g, b, shmem, S(h), args);
}
cudaError_t cudaLaunchKernel_ptsz(const void *f, dim3 g, dim3 b, void **args, size_t shmem, cudaStream_t h) {
    API;
    if (!rv_kernel_lookup(f)) return fail(cudaErrorInvalidDeviceFunction);
    return launch(f, g, b, shmem, S_pt(h), args);
}
cudaError_t cudaLaunchCooperativeKernel(const void *f, dim3 g, dim3 b, void **args, size_t shmem, cudaStream_t h) {
    API;
    return launch(f, g, b, shmem, S(h), args);
}
cudaError_t cudaLaunchKernelExC(const cudaLaunchConfig_t *c, const void *f, void **args) {
    API;
    return launch(f, c->gridDim, c->blockDim, c->dynamicSmemBytes, S(c->stream), args);
}
/* CUDA 13 nvcc: <<<>>> resolves a cudaKernel_t once, then launches it. */
cudaError_t __cudaGetKernel(cudaKernel_t *k, const void *f) {
    API;
    rv_kernel *r = rv_kernel_lookup(f);
    if (!r) return fail(cudaErrorInvalidDeviceFunction);
    *k = (cudaKernel_t)r;
    return cudaSuccess;
}
cudaError_t __cudaLaunchKernel(cudaKernel_t k, dim3 g, dim3 b, void **args, size_t shmem, cudaStream_t h) {
    API;
    return launch(k, g, b, shmem, S(h), args);
}
cudaError_t __cudaLaunchKernel_ptsz(cudaKernel_t k, dim3 g, dim3 b, void **args, size_t shmem, cudaStream_t h) {
    API;
    return launch(k, g, b, shmem, S_pt(h), args);
}
cudaError_t cudaGetFuncBySymbol(cudaFunction_t *f, const void *sym) {
    API;
    rv_kernel *k = rv_kernel_lookup(sym);
    if (!k) return fail(cudaErrorInvalidDeviceFunction);
    *f = (cudaFunction_t)k;
    return cudaSuccess;
}
cudaError_t cudaFuncGetName(const char **name, const void *f) {
    API;
    rv_kernel *k = rv_kernel_lookup(f);
    if (!k) return fail(cudaErrorInvalidDeviceFunction);
    *name = k->name;
    return cudaSuccess;
}
cudaError_t cudaFuncGetAttributes(struct cudaFuncAttributes *a, const void *f) {
    API;
    rv_kernel *k = rv_kernel_lookup(f);
    memset(a, 0, sizeof *a);
    a->maxThreadsPerBlock = k ? k->max_threads : 1024;
    a->numRegs = 32;
    a->ptxVersion = a->binaryVersion = attr(cudaDevAttrComputeCapabilityMajor) * 10 + attr(cudaDevAttrComputeCapabilityMinor);
    a->maxDynamicSharedSizeBytes = k && k->max_dynamic_shared ? k->max_dynamic_shared : 48 * 1024;
    a->sharedSizeBytes = k ? k->shared_static : 0;
    return cudaSuccess;
}
cudaError_t cudaFuncSetAttribute(const void *f, enum cudaFuncAttribute at, int v) {
    API;
    rv_kernel *k = rv_kernel_lookup(f);
    if (k && at == cudaFuncAttributeMaxDynamicSharedMemorySize) k->max_dynamic_shared = v;
    return cudaSuccess;
}
cudaError_t cudaFuncSetCacheConfig(const void *f, enum cudaFuncCache c) { API; (void)f; (void)c; return cudaSuccess; }

/* Occupancy from the device's limits: threads, blocks and shared memory per SM. */
static int occupancy(int block, size_t smem) {
    int by_threads = attr(cudaDevAttrMaxThreadsPerMultiProcessor) / (block > 0 ? block : 1);
    int by_blocks = attr(cudaDevAttrMaxBlocksPerMultiprocessor);
    int by_smem = smem ? (int)(attr(cudaDevAttrMaxSharedMemoryPerMultiprocessor) / smem) : by_blocks;
    int n = by_threads < by_blocks ? by_threads : by_blocks;
    return n < by_smem ? n : by_smem;
}
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int *n, const void *f, int block, size_t smem) {
    API; (void)f;
    *n = occupancy(block, smem);
    return cudaSuccess;
}
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int *n, const void *f, int block, size_t smem, unsigned int fl) {
    API; (void)f; (void)fl;
    *n = occupancy(block, smem);
    return cudaSuccess;
}

/* ---------------- graphs ---------------- */
static cudaError_t begin_capture(rv_stream *s, enum cudaStreamCaptureMode m) {
    if (!s) return fail(cudaErrorInvalidResourceHandle);
    return rv_capture_begin(s, m) ? fail(cudaErrorIllegalState) : cudaSuccess;
}
cudaError_t cudaStreamBeginCapture(cudaStream_t h, enum cudaStreamCaptureMode m) { API; return begin_capture(S(h), m); }
cudaError_t cudaStreamBeginCapture_ptsz(cudaStream_t h, enum cudaStreamCaptureMode m) { API; return begin_capture(S_pt(h), m); }
static cudaError_t end_capture(rv_stream *s, cudaGraph_t *g) {
    if (!s) return fail(cudaErrorInvalidResourceHandle);
    rv_graph *out;
    if (rv_capture_end(s, &out)) return fail(cudaErrorIllegalState);
    *g = (cudaGraph_t)out;
    return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t h, cudaGraph_t *g) { API; return end_capture(S(h), g); }
cudaError_t cudaStreamEndCapture_ptsz(cudaStream_t h, cudaGraph_t *g) { API; return end_capture(S_pt(h), g); }
static cudaError_t is_capturing(rv_stream *s, enum cudaStreamCaptureStatus *st) {
    if (!s) return fail(cudaErrorInvalidResourceHandle);
    *st = rv_capture_status_of(s, NULL, NULL) == RV_CAPTURE_ACTIVE ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone;
    return cudaSuccess;
}
cudaError_t cudaStreamIsCapturing(cudaStream_t h, enum cudaStreamCaptureStatus *st) { API; return is_capturing(S(h), st); }
cudaError_t cudaStreamIsCapturing_ptsz(cudaStream_t h, enum cudaStreamCaptureStatus *st) { API; return is_capturing(S_pt(h), st); }
static cudaError_t capture_info(rv_stream *s, enum cudaStreamCaptureStatus *st, unsigned long long *id, cudaGraph_t *g,
                                const cudaGraphNode_t **deps, const cudaGraphEdgeData **edges, size_t *n) {
    if (!s) return fail(cudaErrorInvalidResourceHandle);
    uint64_t cid;
    rv_graph *graph;
    rv_capture_status cs = rv_capture_status_of(s, &cid, &graph);
    if (st) *st = cs == RV_CAPTURE_ACTIVE ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone;
    if (id) *id = cid;
    if (g) *g = (cudaGraph_t)graph;
    if (deps) *deps = NULL;
    if (edges) *edges = NULL;
    if (n) *n = 0;
    return cudaSuccess;
}
#if RV_CUDA_MAJOR >= 13
cudaError_t cudaStreamGetCaptureInfo(cudaStream_t h, enum cudaStreamCaptureStatus *st, unsigned long long *id, cudaGraph_t *g,
                                     const cudaGraphNode_t **deps, const cudaGraphEdgeData **edges, size_t *n) {
    API;
    return capture_info(S(h), st, id, g, deps, edges, n);
}
cudaError_t cudaStreamGetCaptureInfo_ptsz(cudaStream_t h, enum cudaStreamCaptureStatus *st, unsigned long long *id, cudaGraph_t *g,
                                          const cudaGraphNode_t **deps, const cudaGraphEdgeData **edges, size_t *n) {
    API;
    return capture_info(S_pt(h), st, id, g, deps, edges, n);
}
#else   /* CUDA 12: the form with edge data is _v3, _v2 has none, the unversioned one is CUDA 11's */
cudaError_t cudaStreamGetCaptureInfo_v3(cudaStream_t h, enum cudaStreamCaptureStatus *st, unsigned long long *id, cudaGraph_t *g,
                                        const cudaGraphNode_t **deps, const cudaGraphEdgeData **edges, size_t *n) {
    API;
    return capture_info(S(h), st, id, g, deps, edges, n);
}
cudaError_t cudaStreamGetCaptureInfo_v3_ptsz(cudaStream_t h, enum cudaStreamCaptureStatus *st, unsigned long long *id, cudaGraph_t *g,
                                             const cudaGraphNode_t **deps, const cudaGraphEdgeData **edges, size_t *n) {
    API;
    return capture_info(S_pt(h), st, id, g, deps, edges, n);
}
cudaError_t cudaStreamGetCaptureInfo_v2(cudaStream_t h, enum cudaStreamCaptureStatus *st, unsigned long long *id, cudaGraph_t *g,
                                        const cudaGraphNode_t **deps, size_t *n) {
    API;
    return capture_info(S(h), st, id, g, deps, NULL, n);
}
cudaError_t cudaStreamGetCaptureInfo_v2_ptsz(cudaStream_t h, enum cudaStreamCaptureStatus *st, unsigned long long *id, cudaGraph_t *g,
                                             const cudaGraphNode_t **deps, size_t *n) {
    API;
    return capture_info(S_pt(h), st, id, g, deps, NULL, n);
}
cudaError_t cudaStreamGetCaptureInfo(cudaStream_t h, enum cudaStreamCaptureStatus *st, unsigned long long *id) {
    API;
    return capture_info(S(h), st, id, NULL, NULL, NULL, NULL);
}
cudaError_t cudaStreamGetCaptureInfo_ptsz(cudaStream_t h, enum cudaStreamCaptureStatus *st, unsigned long long *id) {
    API;
    return capture_info(S_pt(h), st, id, NULL, NULL, NULL, NULL);
}
#endif
cudaError_t cudaThreadExchangeStreamCaptureMode(enum cudaStreamCaptureMode *m) {
    API;
    static __thread enum cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
    enum cudaStreamCaptureMode old = mode;
    mode = *m;
    *m = old;
    return cudaSuccess;
}

cudaError_t cudaGraphCreate(cudaGraph_t *g, unsigned int f) { API; (void)f; *g = (cudaGraph_t)rv_graph_create(); return cudaSuccess; }
cudaError_t cudaGraphDestroy(cudaGraph_t g) {
    API;
    if (!rv_graph_valid((rv_graph *)g)) return fail(cudaErrorInvalidValue);
    rv_graph_destroy((rv_graph *)g);
    return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *x, cudaGraph_t g, unsigned long long f) {
    API; (void)f;
    if (!rv_graph_valid((rv_graph *)g)) return fail(cudaErrorInvalidValue);
    *x = (cudaGraphExec_t)rv_graph_instantiate((rv_graph *)g);
    return cudaSuccess;
}
cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t *x, cudaGraph_t g, unsigned long long f) {
    API; (void)f;
    if (!rv_graph_valid((rv_graph *)g)) return fail(cudaErrorInvalidValue);
    *x = (cudaGraphExec_t)rv_graph_instantiate((rv_graph *)g);
    return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t x) {
    API;
    if (!rv_graph_exec_valid((rv_graph_exec *)x)) return fail(cudaErrorInvalidValue);
    rv_graph_exec_destroy((rv_graph_exec *)x);
    return cudaSuccess;
}
static cudaError_t graph_launch(cudaGraphExec_t x, rv_stream *s) {
    if (!s || !rv_graph_exec_valid((rv_graph_exec *)x)) return fail(cudaErrorInvalidResourceHandle);
    return rv_graph_launch((rv_graph_exec *)x, s) ? fail(cudaErrorStreamCaptureUnsupported) : cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t x, cudaStream_t h) { API; return graph_launch(x, S(h)); }
cudaError_t cudaGraphLaunch_ptsz(cudaGraphExec_t x, cudaStream_t h) { API; return graph_launch(x, S_pt(h)); }
cudaError_t cudaGraphUpload(cudaGraphExec_t x, cudaStream_t h) {
    API; (void)h;
    if (!rv_graph_exec_valid((rv_graph_exec *)x)) return fail(cudaErrorInvalidResourceHandle);
    rv_graph_upload((rv_graph_exec *)x);
    return cudaSuccess;
}
cudaError_t cudaGraphGetNodes(cudaGraph_t g, cudaGraphNode_t *nodes, size_t *n) {
    API;
    if (!rv_graph_valid((rv_graph *)g)) return fail(cudaErrorInvalidValue);
    size_t count = rv_graph_node_count((rv_graph *)g);
    if (nodes) /* node handles are 1-based indices: callers only count or pass them back */
        for (size_t i = 0; i < *n && i < count; i++) nodes[i] = (cudaGraphNode_t)(uintptr_t)(i + 1);
    else *n = count;
    return cudaSuccess;
}
cudaError_t cudaGraphDebugDotPrint(cudaGraph_t g, const char *path, unsigned int f) {
    API; (void)f;
    FILE *fp = fopen(path, "w");
    if (!fp) return fail(cudaErrorInvalidValue);
    fprintf(fp, "digraph revati { /* %zu nodes */ }\n", rv_graph_node_count((rv_graph *)g));
    fclose(fp);
    return cudaSuccess;
}

/* explicit construction (graph API): kernel, memcpy, memset and empty nodes */
static size_t *dep_indices(const cudaGraphNode_t *deps, size_t n) {
    size_t *d = malloc((n ? n : 1) * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = (size_t)(uintptr_t)deps[i] - 1;
    return d;
}
static cudaError_t add_node(cudaGraphNode_t *node, cudaGraph_t g, const cudaGraphNode_t *deps, size_t n, const rv_op *op, const rv_effect *e) {
    if (!rv_graph_valid((rv_graph *)g)) return fail(cudaErrorInvalidValue);
    size_t *d = dep_indices(deps, n);
    int idx = rv_graph_add((rv_graph *)g, op, e, d, n);
    free(d);
    if (idx < 0) return fail(cudaErrorInvalidValue);
    *node = (cudaGraphNode_t)(uintptr_t)(idx + 1);
    return cudaSuccess;
}
cudaError_t cudaGraphAddKernelNode(cudaGraphNode_t *node, cudaGraph_t g, const cudaGraphNode_t *deps, size_t n,
                                   const struct cudaKernelNodeParams *p) {
    API;
    rv_kernel *k = rv_kernel_lookup(p->func);
    rv_op op;
    rv_op_init(&op, RV_OP_KERNEL, rv_current_device(), k ? k->name : "unregistered_kernel");
    op.u.kernel.grid[0] = p->gridDim.x; op.u.kernel.grid[1] = p->gridDim.y; op.u.kernel.grid[2] = p->gridDim.z;
    op.u.kernel.block[0] = p->blockDim.x; op.u.kernel.block[1] = p->blockDim.y; op.u.kernel.block[2] = p->blockDim.z;
    op.u.kernel.shmem = p->sharedMemBytes;
    if (k) rv_kernel_args_reduction(k, (const unsigned[3]){p->blockDim.x, p->blockDim.y, p->blockDim.z},
                                    p->kernelParams, &op);
    return add_node(node, g, deps, n, &op, NULL);
}
cudaError_t cudaGraphAddMemcpyNode1D(cudaGraphNode_t *node, cudaGraph_t g, const cudaGraphNode_t *deps, size_t n,
                                     void *dst, const void *src, size_t count, enum cudaMemcpyKind k) {
    API; (void)k;
    rv_op op;
    rv_effect e;
    rv_copy_op(&op, &e, rv_current_device(), dst, src, count);
    return add_node(node, g, deps, n, &op, &e);
}
cudaError_t cudaGraphAddMemsetNode(cudaGraphNode_t *node, cudaGraph_t g, const cudaGraphNode_t *deps, size_t n,
                                   const struct cudaMemsetParams *p) {
    API;
    rv_op op;
    rv_effect e;
    rv_memset_op(&op, &e, rv_current_device(), p->dst, (int)p->value, p->width * p->height, p->elementSize);
    return add_node(node, g, deps, n, &op, p->height == 1 ? &e : NULL);   /* pitched rows: no effect */
}
cudaError_t cudaGraphAddEmptyNode(cudaGraphNode_t *node, cudaGraph_t g, const cudaGraphNode_t *deps, size_t n) {
    API;
    rv_op op;
    rv_op_init(&op, RV_OP_EVENT, rv_current_device(), "empty");
    return add_node(node, g, deps, n, &op, NULL);
}

/* ---------------- driver entry points ---------------- */
typedef int (*cu_get_proc)(const char *, void **, int, unsigned long long, int *);

static cudaError_t entry_point(const char *sym, void **fn, unsigned int version, unsigned long long flags,
                               enum cudaDriverEntryPointQueryResult *status) {
    static cu_get_proc get;
    if (!get) get = (cu_get_proc)dlsym(rv_fake_lib("libcuda.so.1"), "cuGetProcAddress_v2");
    int st = 0;
    int r = get ? get(sym, fn, (int)version, flags, &st) : 500;
    if (status) *status = r == 0 ? cudaDriverEntryPointSuccess : cudaDriverEntryPointSymbolNotFound;
    if (r) { *fn = NULL; return status ? cudaSuccess : fail(cudaErrorSymbolNotFound); }
    return cudaSuccess;
}
cudaError_t cudaGetDriverEntryPoint(const char *sym, void **fn, unsigned long long flags, enum cudaDriverEntryPointQueryResult *st) {
    API;
    return entry_point(sym, fn, RV_CUDA_MAJOR * 1000, flags, st);
}
cudaError_t cudaGetDriverEntryPointByVersion(const char *sym, void **fn, unsigned int version, unsigned long long flags,
                                             enum cudaDriverEntryPointQueryResult *st) {
    API;
    return entry_point(sym, fn, version, flags, st);
}

/* cudart asks the driver for private tables; nothing that links our runtime needs them. */
cudaError_t cudaGetExportTable(const void **table, const cudaUUID_t *id) { API; (void)id; *table = NULL; return fail(cudaErrorNotSupported); }
