/* Fake CUDA driver (libcuda): contexts, modules and launches (Triton), memory, streams and events on
 * the core's virtual devices, and cuGetProcAddress, through which torch finds every driver call. */
#define _GNU_SOURCE
#include <cuda.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "revati.h"

/* cuda.h maps these base names to their _v2; the real driver exports both. */
#undef cuDeviceGetUuid
#undef cuEventElapsedTime

#define LIB "libcuda.so.1"
#define API RV_API(LIB)

static int attr(int a) {
    int v = 0;
    rv_hw_attr(a, &v);
    return v;
}

static rv_stream *S(CUstream h) { return rv_stream_resolve((void *)h, false); }
#define STREAM_OR_FAIL(var, h) rv_stream *var = S(h); if (!var) return CUDA_ERROR_INVALID_HANDLE

/* ---------------- init, versions, errors ---------------- */
CUresult cuInit(unsigned int f) { API; (void)f; return CUDA_SUCCESS; }
/* the r580 driver: 13000 in both configurations (a CUDA 12 runtime runs on it too) */
CUresult cuDriverGetVersion(int *v) { API; *v = 13000; return CUDA_SUCCESS; }

static const char *err_name(CUresult r) {
    switch (r) {
#define E(x) case x: return #x;
    E(CUDA_SUCCESS) E(CUDA_ERROR_INVALID_VALUE) E(CUDA_ERROR_OUT_OF_MEMORY) E(CUDA_ERROR_NOT_INITIALIZED)
    E(CUDA_ERROR_INVALID_DEVICE) E(CUDA_ERROR_INVALID_CONTEXT) E(CUDA_ERROR_INVALID_HANDLE) E(CUDA_ERROR_NOT_FOUND)
    E(CUDA_ERROR_NOT_READY) E(CUDA_ERROR_NOT_SUPPORTED) E(CUDA_ERROR_INVALID_IMAGE) E(CUDA_ERROR_UNKNOWN)
#undef E
    default: return "CUDA_ERROR_UNKNOWN";
    }
}
CUresult cuGetErrorName(CUresult r, const char **s) { API; *s = err_name(r); return CUDA_SUCCESS; }
CUresult cuGetErrorString(CUresult r, const char **s) {
    API;
    switch (r) {
    case CUDA_SUCCESS: *s = "no error"; break;
    case CUDA_ERROR_OUT_OF_MEMORY: *s = "out of memory"; break;
    case CUDA_ERROR_NOT_SUPPORTED: *s = "operation not supported"; break;
    case CUDA_ERROR_INVALID_VALUE: *s = "invalid argument"; break;
    default: *s = err_name(r);
    }
    return CUDA_SUCCESS;
}

/* Driver log callbacks: the fake driver logs nothing, so a registration only needs a handle. */
CUresult cuLogsRegisterCallback(CUlogsCallback cb, void *data, CUlogsCallbackHandle *h) {
    API; (void)cb; (void)data;
    if (h) *h = (CUlogsCallbackHandle)0x1;
    return CUDA_SUCCESS;
}
CUresult cuLogsUnregisterCallback(CUlogsCallbackHandle h) { API; (void)h; return CUDA_SUCCESS; }

/* ---------------- devices ---------------- */
CUresult cuDeviceGetCount(int *n) { API; *n = rv_device_count(); return CUDA_SUCCESS; }
CUresult cuDeviceGet(CUdevice *d, int ordinal) {
    API;
    if (!rv_device_valid(ordinal)) return CUDA_ERROR_INVALID_DEVICE;
    *d = ordinal;
    return CUDA_SUCCESS;
}
CUresult cuDeviceGetName(char *name, int len, CUdevice d) {
    API;
    if (!rv_device_valid(d)) return CUDA_ERROR_INVALID_DEVICE;
    snprintf(name, len, "%s", rv_cfg()->hw.name);
    return CUDA_SUCCESS;
}
static void uuid_of(CUdevice d, char out[16]) { rv_device_uuid(d, (unsigned char *)out); }
CUresult cuDeviceGetUuid(CUuuid *u, CUdevice d) { API; uuid_of(d, u->bytes); return CUDA_SUCCESS; }
CUresult cuDeviceGetUuid_v2(CUuuid *u, CUdevice d) { API; uuid_of(d, u->bytes); return CUDA_SUCCESS; }
CUresult cuDeviceTotalMem_v2(size_t *b, CUdevice d) { API; (void)d; *b = rv_cfg()->hw.total_memory; return CUDA_SUCCESS; }
CUresult cuDeviceGetAttribute(int *v, CUdevice_attribute a, CUdevice d) {
    API;
    if (!rv_device_valid(d)) return CUDA_ERROR_INVALID_DEVICE;
    if (a == CU_DEVICE_ATTRIBUTE_PCI_BUS_ID) { *v = rv_device_physical(d); return CUDA_SUCCESS; }
    return rv_hw_attr(a, v) ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}
CUresult cuDeviceComputeCapability(int *major, int *minor, CUdevice d) {
    API; (void)d;
    *major = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
    *minor = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    return CUDA_SUCCESS;
}
CUresult cuDeviceGetPCIBusId(char *buf, int len, CUdevice d) {
    API;
    if (!rv_device_valid(d)) return CUDA_ERROR_INVALID_DEVICE;
    snprintf(buf, len, "00000000:%02X:00.0", rv_device_physical(d));
    return CUDA_SUCCESS;
}
CUresult cuDeviceCanAccessPeer(int *can, CUdevice d, CUdevice peer) { API; *can = d != peer && rv_device_valid(peer); return CUDA_SUCCESS; }

/* ---------------- contexts: one primary context per device, always active ---------------- */
struct CUctx_st { int device; };
static struct CUctx_st g_ctx[RV_MAX_DEVICES];
static __thread bool t_ctx_cleared;

static CUcontext ctx_of(int d) { g_ctx[d].device = d; return &g_ctx[d]; }
CUresult cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice d) { API; *c = ctx_of(d); return CUDA_SUCCESS; }
CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) { API; (void)d; return CUDA_SUCCESS; }
CUresult cuDevicePrimaryCtxReset_v2(CUdevice d) { API; (void)d; return CUDA_SUCCESS; }
CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice d, unsigned int f) { API; (void)d; (void)f; return CUDA_SUCCESS; }
CUresult cuDevicePrimaryCtxGetState(CUdevice d, unsigned int *flags, int *active) {
    API; (void)d;
    *flags = 0;
    *active = 1;
    return CUDA_SUCCESS;
}
CUresult cuCtxGetCurrent(CUcontext *c) { API; *c = t_ctx_cleared ? NULL : ctx_of(rv_current_device()); return CUDA_SUCCESS; }
CUresult cuCtxSetCurrent(CUcontext c) {
    API;
    t_ctx_cleared = c == NULL;
    if (c) rv_set_current_device(c->device);
    return CUDA_SUCCESS;
}
CUresult cuCtxPushCurrent_v2(CUcontext c) { API; t_ctx_cleared = false; if (c) rv_set_current_device(c->device); return CUDA_SUCCESS; }
CUresult cuCtxPopCurrent_v2(CUcontext *c) { API; if (c) *c = ctx_of(rv_current_device()); return CUDA_SUCCESS; }
CUresult cuCtxGetDevice(CUdevice *d) { API; *d = rv_current_device(); return CUDA_SUCCESS; }
CUresult cuCtxSynchronize(void) { API; rv_device_sync(rv_current_device()); return CUDA_SUCCESS; }
CUresult cuCtxGetApiVersion(CUcontext c, unsigned int *v) { API; (void)c; *v = 3020; return CUDA_SUCCESS; }
CUresult cuCtxGetFlags(unsigned int *f) { API; *f = 0; return CUDA_SUCCESS; }
CUresult cuCtxGetStreamPriorityRange(int *least, int *greatest) { API; *least = 0; *greatest = -5; return CUDA_SUCCESS; }
CUresult cuCtxGetLimit(size_t *v, CUlimit l) { API; (void)l; *v = 0; return CUDA_SUCCESS; }
CUresult cuCtxSetLimit(CUlimit l, size_t v) { API; (void)l; (void)v; return CUDA_SUCCESS; }
CUresult cuCtxGetId(CUcontext c, unsigned long long *id) { API; *id = c ? (unsigned long long)c->device + 1 : 1; return CUDA_SUCCESS; }

/* ---------------- modules and functions (Triton, nvrtc users) ---------------- */
typedef struct fn_entry { char *name; rv_kernel *k; struct fn_entry *next; } fn_entry;
struct CUmod_st { fn_entry *fns; };

static CUresult new_module(CUmodule *m) {
    *m = calloc(1, sizeof **m);
    return CUDA_SUCCESS;
}
CUresult cuModuleLoad(CUmodule *m, const char *path) { API; (void)path; return new_module(m); }
CUresult cuModuleLoadData(CUmodule *m, const void *image) { API; (void)image; return new_module(m); }
CUresult cuModuleLoadDataEx(CUmodule *m, const void *image, unsigned int n, CUjit_option *o, void **v) {
    API; (void)image; (void)n; (void)o; (void)v;
    return new_module(m);
}
CUresult cuModuleLoadFatBinary(CUmodule *m, const void *image) { API; (void)image; return new_module(m); }
CUresult cuModuleUnload(CUmodule m) {
    API;
    for (fn_entry *e = m->fns, *n; e; e = n) { n = e->next; free(e->name); free(e); }
    free(m);   /* the kernel records stay: a launch in flight may still name them */
    return CUDA_SUCCESS;
}
CUresult cuModuleGetFunction(CUfunction *f, CUmodule m, const char *name) {
    API;
    for (fn_entry *e = m->fns; e; e = e->next)
        if (!strcmp(e->name, name)) { *f = (CUfunction)e->k; return CUDA_SUCCESS; }
    fn_entry *e = malloc(sizeof *e);
    e->name = strdup(name);
    e->k = rv_kernel_new(name);
    e->next = m->fns;
    m->fns = e;
    *f = (CUfunction)e->k;
    return CUDA_SUCCESS;
}

/* cuLibrary*: a library is a module; its kernels are functions. */
CUresult cuLibraryLoadData(CUlibrary *l, const void *code, CUjit_option *jo, void **jv, unsigned int jn,
                           CUlibraryOption *lo, void **lv, unsigned int ln) {
    API; (void)code; (void)jo; (void)jv; (void)jn; (void)lo; (void)lv; (void)ln;
    return new_module((CUmodule *)l);
}
CUresult cuLibraryUnload(CUlibrary l) { API; return cuModuleUnload((CUmodule)l); }
CUresult cuLibraryGetKernel(CUkernel *k, CUlibrary l, const char *name) { API; return cuModuleGetFunction((CUfunction *)k, (CUmodule)l, name); }
CUresult cuLibraryGetModule(CUmodule *m, CUlibrary l) { API; *m = (CUmodule)l; return CUDA_SUCCESS; }
CUresult cuKernelGetFunction(CUfunction *f, CUkernel k) { API; *f = (CUfunction)k; return CUDA_SUCCESS; }

CUresult cuFuncGetAttribute(int *v, CUfunction_attribute a, CUfunction f) {
    API;
    rv_kernel *k = (rv_kernel *)f;
    switch (a) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *v = k->max_threads; break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *v = (int)k->shared_static; break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *v = k->num_regs ? k->num_regs : 32; break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION:
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION:
        *v = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) * 10 + attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
        *v = k->max_dynamic_shared ? k->max_dynamic_shared : 48 * 1024 - (int)k->shared_static;
        break;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: *v = -1; break;
    default: *v = 0;
    }
    return CUDA_SUCCESS;
}
CUresult cuFuncSetAttribute(CUfunction f, CUfunction_attribute a, int v) {
    API;
    if (a == CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) ((rv_kernel *)f)->max_dynamic_shared = v;
    return CUDA_SUCCESS;
}
CUresult cuFuncSetCacheConfig(CUfunction f, CUfunc_cache c) { API; (void)f; (void)c; return CUDA_SUCCESS; }
CUresult cuFuncGetName(const char **name, CUfunction f) { API; *name = ((rv_kernel *)f)->name; return CUDA_SUCCESS; }
CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *n, CUfunction f, int block, size_t smem) {
    API; (void)f;
    int t = attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR) / (block > 0 ? block : 1);
    int b = attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR);
    int s = smem ? (int)(attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR) / smem) : b;
    *n = t < b ? t : b;
    if (s < *n) *n = s;
    return CUDA_SUCCESS;
}

static CUresult launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                       unsigned smem, CUstream h, void **params) {
    STREAM_OR_FAIL(s, h);
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    unsigned grid[3] = {gx, gy, gz}, block[3] = {bx, by, bz};
    rv_launch_kernel((rv_kernel *)f, grid, block, smem, s, params);
    return CUDA_SUCCESS;
}
CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned smem, CUstream h, void **params, void **extra) {
    API; (void)extra;   /* arguments packed in `extra` instead are not read */
    return launch(f, gx, gy, gz, bx, by, bz, smem, h, params);
}
CUresult cuLaunchKernelEx(const CUlaunchConfig *c, CUfunction f, void **params, void **extra) {
    API; (void)extra;
    return launch(f, c->gridDimX, c->gridDimY, c->gridDimZ, c->blockDimX, c->blockDimY, c->blockDimZ,
                  c->sharedMemBytes, c->hStream, params);
}
CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                   unsigned bz, unsigned smem, CUstream h, void **params) {
    API;
    return launch(f, gx, gy, gz, bx, by, bz, smem, h, params);
}
/* TMA descriptors are opaque 128-byte blobs consumed only by kernels, which never run. */
CUresult cuTensorMapEncodeTiled(CUtensorMap *m, CUtensorMapDataType t, cuuint32_t rank, void *addr, const cuuint64_t *dims,
                                const cuuint64_t *strides, const cuuint32_t *box, const cuuint32_t *es,
                                CUtensorMapInterleave il, CUtensorMapSwizzle sw, CUtensorMapL2promotion l2,
                                CUtensorMapFloatOOBfill oob) {
    API; (void)t; (void)rank; (void)addr; (void)dims; (void)strides; (void)box; (void)es; (void)il; (void)sw; (void)l2; (void)oob;
    memset(m, 0, sizeof *m);
    return CUDA_SUCCESS;
}

/* ---------------- memory ---------------- */
CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) {
    API;
    void *a = rv_dev_alloc(rv_current_device(), n, false);
    *p = (CUdeviceptr)a;
    return a ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}
CUresult cuMemFree_v2(CUdeviceptr p) { API; return !p || !rv_dev_free((void *)p) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE; }
CUresult cuMemAllocHost_v2(void **p, size_t n) { API; *p = rv_host_alloc(n); return *p ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY; }
CUresult cuMemHostAlloc(void **p, size_t n, unsigned int f) { API; (void)f; *p = rv_host_alloc(n); return *p ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY; }
CUresult cuMemFreeHost(void *p) { API; return rv_host_free(p) ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS; }
CUresult cuMemHostRegister_v2(void *p, size_t n, unsigned int f) { API; (void)f; rv_host_register(p, n); return CUDA_SUCCESS; }
CUresult cuMemHostUnregister(void *p) { API; return rv_host_unregister(p) ? CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED : CUDA_SUCCESS; }
CUresult cuMemGetInfo_v2(size_t *free_b, size_t *total_b) {
    API;
    uint64_t f, t;
    rv_mem_info(rv_current_device(), &f, &t);
    *free_b = f;
    *total_b = t;
    return CUDA_SUCCESS;
}
CUresult cuMemGetAddressRange_v2(CUdeviceptr *base, size_t *size, CUdeviceptr p) {
    API;
    rv_alloc a;
    if (!rv_alloc_find((void *)p, &a)) return CUDA_ERROR_NOT_FOUND;
    if (base) *base = a.base;
    if (size) *size = a.size;
    return CUDA_SUCCESS;
}
CUresult cuPointerGetAttribute(void *data, CUpointer_attribute a, CUdeviceptr p) {
    API;
    rv_alloc al;
    bool known = rv_alloc_find((void *)p, &al);
    switch (a) {
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
        if (!known) return CUDA_ERROR_INVALID_VALUE;
        *(unsigned *)data = al.kind == RV_MEM_DEVICE ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_HOST;
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: *(int *)data = known && al.device >= 0 ? al.device : rv_current_device(); return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_CONTEXT: *(CUcontext *)data = ctx_of(known && al.device >= 0 ? al.device : 0); return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
    case CU_POINTER_ATTRIBUTE_HOST_POINTER: *(void **)data = (void *)p; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: *(CUdeviceptr *)data = known ? al.base : p; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: *(size_t *)data = known ? al.size : 0; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: *(unsigned *)data = known && al.kind == RV_MEM_MANAGED; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: *(unsigned long long *)data = known ? al.base : 0; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_MAPPED: *(unsigned *)data = known; return CUDA_SUCCESS;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
}

static void copy(void *dst, const void *src, size_t n, rv_stream *s) { rv_enqueue_copy(s, dst, src, n); }
static CUresult copy_sync(void *dst, const void *src, size_t n) {
    rv_stream *s = S(0);
    copy(dst, src, n, s);
    rv_stream_sync(s);
    return CUDA_SUCCESS;
}
static CUresult copy_async(void *dst, const void *src, size_t n, CUstream h) {
    STREAM_OR_FAIL(s, h);
    copy(dst, src, n, s);
    return CUDA_SUCCESS;
}
CUresult cuMemcpy(CUdeviceptr d, CUdeviceptr s, size_t n) { API; return copy_sync((void *)d, (void *)s, n); }
CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void *s, size_t n) { API; return copy_sync((void *)d, s, n); }
CUresult cuMemcpyDtoH_v2(void *d, CUdeviceptr s, size_t n) { API; return copy_sync(d, (void *)s, n); }
CUresult cuMemcpyDtoD_v2(CUdeviceptr d, CUdeviceptr s, size_t n) { API; return copy_sync((void *)d, (void *)s, n); }
CUresult cuMemcpyAsync(CUdeviceptr d, CUdeviceptr s, size_t n, CUstream h) { API; return copy_async((void *)d, (void *)s, n, h); }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void *s, size_t n, CUstream h) { API; return copy_async((void *)d, s, n, h); }
CUresult cuMemcpyDtoHAsync_v2(void *d, CUdeviceptr s, size_t n, CUstream h) { API; return copy_async(d, (void *)s, n, h); }
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr d, CUdeviceptr s, size_t n, CUstream h) { API; return copy_async((void *)d, (void *)s, n, h); }
CUresult cuMemcpyPeerAsync(CUdeviceptr d, CUcontext dc, CUdeviceptr s, CUcontext sc, size_t n, CUstream h) {
    API; (void)dc; (void)sc;
    return copy_async((void *)d, (void *)s, n, h);
}

static CUresult set(CUdeviceptr d, unsigned v, size_t count, size_t elem, CUstream h, bool sync) {
    STREAM_OR_FAIL(s, h);
    rv_enqueue_memset(s, (void *)d, (int)v, count, elem);
    if (sync) rv_stream_sync(s);
    return CUDA_SUCCESS;
}
CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) { API; return set(d, v, n, 1, 0, true); }
CUresult cuMemsetD16_v2(CUdeviceptr d, unsigned short v, size_t n) { API; return set(d, v, n, 2, 0, true); }
CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned int v, size_t n) { API; return set(d, v, n, 4, 0, true); }
CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream h) { API; return set(d, v, n, 1, h, false); }
CUresult cuMemsetD16Async(CUdeviceptr d, unsigned short v, size_t n, CUstream h) { API; return set(d, v, n, 2, h, false); }
CUresult cuMemsetD32Async(CUdeviceptr d, unsigned int v, size_t n, CUstream h) { API; return set(d, v, n, 4, h, false); }

/* ---------------- streams and events (the same objects as the runtime's) ---------------- */
CUresult cuStreamCreate(CUstream *s, unsigned int f) { API; *s = (CUstream)rv_stream_create(rv_current_device(), f, 0); return CUDA_SUCCESS; }
CUresult cuStreamCreateWithPriority(CUstream *s, unsigned int f, int p) { API; *s = (CUstream)rv_stream_create(rv_current_device(), f, p); return CUDA_SUCCESS; }
CUresult cuStreamDestroy_v2(CUstream h) {
    API;
    if (!h || (void *)h == RV_STREAM_LEGACY || (void *)h == RV_STREAM_PER_THREAD) return CUDA_ERROR_INVALID_HANDLE;
    STREAM_OR_FAIL(s, h);
    rv_stream_destroy(s);
    return CUDA_SUCCESS;
}
CUresult cuStreamSynchronize(CUstream h) { API; STREAM_OR_FAIL(s, h); rv_stream_sync(s); return CUDA_SUCCESS; }
CUresult cuStreamQuery(CUstream h) { API; STREAM_OR_FAIL(s, h); return rv_stream_done(s) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY; }
CUresult cuStreamWaitEvent(CUstream h, CUevent e, unsigned int f) {
    API; (void)f;
    STREAM_OR_FAIL(s, h);
    if (!rv_event_valid((rv_event *)e)) return CUDA_ERROR_INVALID_HANDLE;
    rv_stream_wait_event(s, (rv_event *)e);
    return CUDA_SUCCESS;
}
CUresult cuStreamGetCtx(CUstream h, CUcontext *c) { API; STREAM_OR_FAIL(s, h); *c = ctx_of(rv_stream_device(s)); return CUDA_SUCCESS; }
CUresult cuStreamGetPriority(CUstream h, int *p) { API; STREAM_OR_FAIL(s, h); *p = rv_stream_priority(s); return CUDA_SUCCESS; }
CUresult cuStreamGetFlags(CUstream h, unsigned int *f) { API; STREAM_OR_FAIL(s, h); *f = rv_stream_flags(s); return CUDA_SUCCESS; }
CUresult cuStreamGetId(CUstream h, unsigned long long *id) { API; STREAM_OR_FAIL(s, h); *id = rv_stream_id(s); return CUDA_SUCCESS; }

CUresult cuEventCreate(CUevent *e, unsigned int f) { API; *e = (CUevent)rv_event_create(f); return CUDA_SUCCESS; }
CUresult cuEventDestroy_v2(CUevent e) {
    API;
    if (!rv_event_valid((rv_event *)e)) return CUDA_ERROR_INVALID_HANDLE;
    rv_event_destroy((rv_event *)e);
    return CUDA_SUCCESS;
}
CUresult cuEventRecord(CUevent e, CUstream h) {
    API;
    STREAM_OR_FAIL(s, h);
    if (!rv_event_valid((rv_event *)e)) return CUDA_ERROR_INVALID_HANDLE;
    rv_event_record((rv_event *)e, s);
    return CUDA_SUCCESS;
}
CUresult cuEventSynchronize(CUevent e) { API; rv_event_sync((rv_event *)e); return CUDA_SUCCESS; }
CUresult cuEventQuery(CUevent e) { API; return rv_event_done((rv_event *)e) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY; }
static CUresult elapsed(float *ms, CUevent a, CUevent b) {
    int r = rv_event_elapsed_ms(ms, (rv_event *)a, (rv_event *)b);
    return r == 0 ? CUDA_SUCCESS : r == -2 ? CUDA_ERROR_NOT_READY : CUDA_ERROR_INVALID_HANDLE;
}
CUresult cuEventElapsedTime(float *ms, CUevent a, CUevent b) { API; return elapsed(ms, a, b); }
CUresult cuEventElapsedTime_v2(float *ms, CUevent a, CUevent b) { API; return elapsed(ms, a, b); }

/* ---------------- entry points ---------------- */
CUresult cuGetExportTable(const void **table, const CUuuid *id) { API; (void)id; *table = NULL; return CUDA_ERROR_NOT_SUPPORTED; }

/* The newest exported variant of a driver function: name_v3, name_v2, then name (per-thread
 * variants when asked). Callers pass the base name, as in the real driver. */
static void *resolve(const char *sym, unsigned long long flags) {
    static void *self;
    if (!self) self = rv_fake_lib(LIB);
    char buf[256];
    if (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) {
        for (const char *suffix = "_ptsz"; suffix; suffix = strcmp(suffix, "_ptsz") ? NULL : "_ptds") {
            snprintf(buf, sizeof buf, "%s%s", sym, suffix);
            void *f = dlsym(self, buf);
            if (f) return f;
        }
    }
    for (int v = 3; v >= 2; v--) {
        snprintf(buf, sizeof buf, "%s_v%d", sym, v);
        void *f = dlsym(self, buf);
        if (f) return f;
    }
    return dlsym(self, sym);
}
CUresult cuGetProcAddress_v2(const char *sym, void **fn, int version, cuuint64_t flags, CUdriverProcAddressQueryResult *st) {
    API; (void)version;
    *fn = resolve(sym, flags);
    if (st) *st = *fn ? CU_GET_PROC_ADDRESS_SUCCESS : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    return *fn ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}
