/* Fake libcudnn.so.9: handles, versions, errors and the backend (graph) API.
 *
 * Torch reaches cuDNN mostly through cudnn-frontend, which builds operation graphs out of backend
 * descriptors: CreateDescriptor / SetAttribute / Finalize, then asks for engine heuristics, builds an
 * execution plan and executes it with a variant pack of device pointers. Here every descriptor is a
 * generic attribute store (attribute -> type, element count, bytes); Get answers what was set, plus
 * what the library itself would compute (heuristic results, engine and plan properties). When an
 * execution plan is finalized its operation graph is walked once and turned into one rv_op:
 *
 *   - a fused attention (SDPA_FWD operation, or the composite matmul -> softmax -> matmul pattern)
 *     becomes RV_OP_ATTENTION with batch, heads, kv_heads, q_len, kv_len, head_dims, causal, dtype;
 *   - an attention backward (SDPA_BWD operation, or the composite pattern with more matmuls) is
 *     recorded as attention named "cudnn bwd", costed 2.5x the matching forward (its 5 matmuls
 *     against the forward's 2);
 *   - a matmul graph or a convolution is recorded as a GEMM (convolutions as their implicit GEMM)
 *     named "cudnn", costed as the same GEMM on cuBLASLt;
 *   - anything else is a kernel named after its operation types, sized by the bytes of its
 *     non-virtual tensors.
 *
 * cudnnBackendExecute only copies that op and enqueues it on the handle's stream (hot path).
 *
 * Host time: the real library spends host CPU where this one spends none. Building an execution
 * plan (finalize) costs tens of milliseconds on the target host -- measured ~39 ms per new SDPA
 * graph on the H100 host, which torch pays at every attention shape it has not cached, e.g. every
 * eager decode step (new kv length) -- plus the heuristics query and the operation graph's
 * finalize. Those figures come with the hardware file (cudnn_*_ns) and are charged to the calling
 * thread as virtual time (rv_host_busy) at the matching finalize.
 * The legacy descriptor API torch still uses (batch norm, v7 convolutions) is at the end.
 *
 * Environment: REVATI_CUDNN_LOG=1 logs every backend call and each recognised graph;
 * REVATI_CUDNN_VERSION=91200 (say) claims an older cuDNN so cudnn-frontend builds the graphs it
 * builds for that version (torch then needs PYTORCH_SKIP_CUDNN_COMPATIBILITY_CHECK=1).
 */
#define _GNU_SOURCE
#include "revati.h"
#include "abi/cudnn.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIB "libcudnn.so.9"
#define API RV_API(LIB)

/* ============================== diagnostics ============================== */

static int g_log = -1;
static bool log_on(void) {
    if (RV_UNLIKELY(g_log < 0)) {
        const char *e = getenv("REVATI_CUDNN_LOG");
        g_log = e && *e && strcmp(e, "0");
    }
    return g_log > 0;
}
#define DLOG(...) do { if (log_on()) rv_log("cudnn: " __VA_ARGS__); } while (0)

static __thread char t_last_error[512];

static cudnnStatus_t fail(cudnnStatus_t st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static cudnnStatus_t fail(cudnnStatus_t st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_last_error, sizeof t_last_error, fmt, ap);
    va_end(ap);
    DLOG("error %d: %s", (int)st, t_last_error);
    return st;
}

/* ============================== library, versions, errors ============================== */

/* The version we claim: the wheel's (9.24.0), or REVATI_CUDNN_VERSION (e.g. 91200) to make
 * cudnn-frontend build the graphs it builds for an older cuDNN (tests of the composite patterns). */
static int g_version = -1;
static int version(void) {
    if (RV_UNLIKELY(g_version < 0)) {
        const char *e = getenv("REVATI_CUDNN_VERSION");
        int v = e && *e ? atoi(e) : 0;
        g_version = v >= 90000 && v < 100000 ? v : RV_CUDNN_VERSION;
    }
    return g_version;
}

size_t cudnnGetVersion(void) { API; return (size_t)version(); }
size_t cudnnGetMaxDeviceVersion(void) { API; return RV_CUDNN_MAX_DEVICE_VERSION; }
size_t cudnnGetCudartVersion(void) { API; return (size_t)RV_CUDA_MAJOR * 1000; }

cudnnStatus_t cudnnGetProperty(libraryPropertyType type, int *value) {
    API;
    if (!value) return fail(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "cudnnGetProperty: value is NULL");
    switch (type) {
    case MAJOR_VERSION: *value = version() / 10000; return CUDNN_STATUS_SUCCESS;
    case MINOR_VERSION: *value = version() / 100 % 100; return CUDNN_STATUS_SUCCESS;
    case PATCH_LEVEL: *value = version() % 100; return CUDNN_STATUS_SUCCESS;
    }
    return fail(CUDNN_STATUS_BAD_PARAM, "cudnnGetProperty: unknown property %d", (int)type);
}

/* The sub-libraries check their version against the graph library's; ours always agree. */
cudnnStatus_t cudnnGraphVersionCheck(void) { API; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnOpsVersionCheck(void) { API; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnCnnVersionCheck(void) { API; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnAdvVersionCheck(void) { API; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnSubquadraticOpsVersionCheck(void) { API; return CUDNN_STATUS_SUCCESS; }

const char *cudnnGetErrorString(cudnnStatus_t status) {
    API;
    switch (status) {
#define S(x) case x: return #x;
    S(CUDNN_STATUS_SUCCESS)
    S(CUDNN_STATUS_NOT_INITIALIZED)
    S(CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH)
    S(CUDNN_STATUS_SERIALIZATION_VERSION_MISMATCH)
    S(CUDNN_STATUS_DEPRECATED)
    S(CUDNN_STATUS_LICENSE_ERROR)
    S(CUDNN_STATUS_RUNTIME_IN_PROGRESS)
    S(CUDNN_STATUS_RUNTIME_FP_OVERFLOW)
    S(CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED)
    S(CUDNN_STATUS_BAD_PARAM)
    S(CUDNN_STATUS_INVALID_VALUE)
    S(CUDNN_STATUS_BAD_PARAM_NULL_POINTER)
    S(CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER)
    S(CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED)
    S(CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND)
    S(CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT)
    S(CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH)
    S(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH)
    S(CUDNN_STATUS_BAD_PARAM_DUPLICATED_ENTRIES)
    S(CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE)
    S(CUDNN_STATUS_BAD_PARAM_CUDA_GRAPH_MISMATCH)
    S(CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE)
    S(CUDNN_STATUS_NOT_SUPPORTED)
    S(CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN)
    S(CUDNN_STATUS_NOT_SUPPORTED_SHAPE)
    S(CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE)
    S(CUDNN_STATUS_NOT_SUPPORTED_LAYOUT)
    S(CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER)
    S(CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART)
    S(CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH)
    S(CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING)
    S(CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE)
    S(CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT)
    S(CUDNN_STATUS_NOT_SUPPORTED_PADDING)
    S(CUDNN_STATUS_NOT_SUPPORTED_BAD_LAUNCH_PARAM)
    S(CUDNN_STATUS_NOT_SUPPORTED_CUDA_GRAPH_NATIVE_API)
    S(CUDNN_STATUS_NOT_SUPPORTED_INVALID_DYNAMIC_SHAPE)
    S(CUDNN_STATUS_INTERNAL_ERROR)
    S(CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED)
    S(CUDNN_STATUS_INTERNAL_ERROR_UNEXPECTED_VALUE)
    S(CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED)
    S(CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED)
    S(CUDNN_STATUS_INTERNAL_ERROR_BAD_LAUNCH_PARAM)
    S(CUDNN_STATUS_INTERNAL_ERROR_TEXTURE_CREATION_FAILED)
    S(CUDNN_STATUS_EXECUTION_FAILED)
    S(CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER)
    S(CUDNN_STATUS_EXECUTION_FAILED_CUBLAS)
    S(CUDNN_STATUS_EXECUTION_FAILED_CUDART)
    S(CUDNN_STATUS_EXECUTION_FAILED_CURAND)
#undef S
    }
    return "CUDNN_STATUS_UNKNOWN";
}

void cudnnGetLastErrorString(char *message, size_t max_size) {
    API;
    if (!message || !max_size) return;
    snprintf(message, max_size, "%s", t_last_error);
    t_last_error[0] = 0;
}

cudnnStatus_t cudnnQueryRuntimeError(cudnnHandle_t handle, cudnnStatus_t *rstatus, cudnnErrQueryMode_t mode,
                                     cudnnRuntimeTag_t *tag) {
    API;
    (void)handle; (void)mode; (void)tag;
    if (rstatus) *rstatus = CUDNN_STATUS_SUCCESS;   /* kernels never fail on a virtual GPU */
    return CUDNN_STATUS_SUCCESS;
}

/* ============================== handles ============================== */

#define HANDLE_MAGIC 0x72764e48U
struct cudnnContext {
    uint32_t magic;
    int device;
    void *stream;   /* cudaStream_t as the caller gave it; resolved by the core on use */
};

static struct cudnnContext *handle_of(cudnnHandle_t h) {
    return h && h->magic == HANDLE_MAGIC ? h : NULL;
}

cudnnStatus_t cudnnCreate(cudnnHandle_t *handle) {
    API;
    if (!handle) return fail(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "cudnnCreate: handle is NULL");
    int dev = rv_current_device();
    if (!rv_device_valid(dev)) return fail(CUDNN_STATUS_NOT_INITIALIZED, "cudnnCreate: no device %d", dev);
    struct cudnnContext *h = calloc(1, sizeof *h);
    h->magic = HANDLE_MAGIC;
    h->device = dev;
    *handle = h;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) {
    API;
    struct cudnnContext *h = handle_of(handle);
    if (!h) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnDestroy: invalid handle");
    h->magic = 0;
    free(h);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t stream) {
    API;
    struct cudnnContext *h = handle_of(handle);
    if (!h) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetStream: invalid handle");
    h->stream = stream;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetStream(cudnnHandle_t handle, cudaStream_t *stream) {
    API;
    struct cudnnContext *h = handle_of(handle);
    if (!h) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnGetStream: invalid handle");
    if (!stream) return fail(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "cudnnGetStream: stream is NULL");
    *stream = h->stream;
    return CUDNN_STATUS_SUCCESS;
}

/* ============================== backend descriptors ============================== */

typedef struct battr {
    int name;
    int type;        /* cudnnBackendAttributeType_t */
    int64_t count;
    void *data;      /* count elements; descriptor elements hold a reference */
} battr;

/* What an execution plan does when executed (immutable once the plan is finalized). */
typedef struct plan {
    rv_op op;          /* enqueued (device filled at execute) */
    bool priced;       /* duration = scale x predicted price_op instead of predicting op */
    rv_op price_op;
    double scale;
} plan;

#define DESC_MAGIC 0x7276424eU
typedef struct bdesc {
    uint32_t magic;
    int type;          /* cudnnBackendDescriptorType_t */
    int refs;          /* the caller's reference + one per attribute naming it */
    bool finalized;
    battr *attrs;
    int n, cap;
    plan *plan;        /* execution plans only */
} bdesc;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static bdesc *desc_of(const void *p) {
    const bdesc *d = p;
    return d && d->magic == DESC_MAGIC ? (bdesc *)d : NULL;
}

static size_t type_size(int t) {
    switch (t) {
    case CUDNN_TYPE_HANDLE:
    case CUDNN_TYPE_VOID_PTR:
    case CUDNN_TYPE_BACKEND_DESCRIPTOR: return sizeof(void *);
    case CUDNN_TYPE_BOOLEAN: return sizeof(bool);
    case CUDNN_TYPE_INT64:
    case CUDNN_TYPE_DOUBLE: return 8;
    case CUDNN_TYPE_FLOAT:
    case CUDNN_TYPE_INT32: return 4;
    case CUDNN_TYPE_CHAR: return 1;
    case CUDNN_TYPE_FRACTION: return sizeof(cudnnFraction_t);
    case CUDNN_TYPE_DATA_TYPE:
    case CUDNN_TYPE_CONVOLUTION_MODE:
    case CUDNN_TYPE_HEUR_MODE:
    case CUDNN_TYPE_KNOB_TYPE:
    case CUDNN_TYPE_NAN_PROPOGATION:
    case CUDNN_TYPE_NUMERICAL_NOTE:
    case CUDNN_TYPE_LAYOUT_TYPE:
    case CUDNN_TYPE_ATTRIB_NAME:
    case CUDNN_TYPE_POINTWISE_MODE:
    case CUDNN_TYPE_GENSTATS_MODE:
    case CUDNN_TYPE_BN_FINALIZE_STATS_MODE:
    case CUDNN_TYPE_REDUCTION_OPERATOR_TYPE:
    case CUDNN_TYPE_BEHAVIOR_NOTE:
    case CUDNN_TYPE_TENSOR_REORDERING_MODE:
    case CUDNN_TYPE_RESAMPLE_MODE:
    case CUDNN_TYPE_PADDING_MODE:
    case CUDNN_TYPE_SIGNAL_MODE:
    case CUDNN_TYPE_NORM_MODE:
    case CUDNN_TYPE_NORM_FWD_PHASE:
    case CUDNN_TYPE_RNG_DISTRIBUTION:
    case CUDNN_TYPE_MOE_GROUPED_MATMUL_MODE:
    case CUDNN_TYPE_RESHAPE_MODE:
    case CUDNN_TYPE_OPERATIONGRAPH_MODE: return sizeof(int);   /* C enums */
    default: return 0;
    }
}

static bool is_integral(int t) {
    return t != CUDNN_TYPE_FLOAT && t != CUDNN_TYPE_DOUBLE && t != CUDNN_TYPE_HANDLE && t != CUDNN_TYPE_VOID_PTR &&
           t != CUDNN_TYPE_BACKEND_DESCRIPTOR && t != CUDNN_TYPE_FRACTION && type_size(t) != 0;
}

static void desc_release(bdesc *d);

static void attr_clear(battr *a) {
    if (a->type == CUDNN_TYPE_BACKEND_DESCRIPTOR)
        for (int64_t i = 0; i < a->count; i++) desc_release(((bdesc **)a->data)[i]);
    free(a->data);
    a->data = NULL;
    a->count = 0;
}

static void desc_clear(bdesc *d) {
    for (int i = 0; i < d->n; i++) attr_clear(&d->attrs[i]);
    d->n = 0;
    free(d->plan);
    d->plan = NULL;
    d->finalized = false;
}

static void desc_release(bdesc *d) {
    if (!d || --d->refs > 0) return;
    desc_clear(d);
    free(d->attrs);
    d->magic = 0;
    free(d);
}

static bdesc *desc_new(int type) {
    bdesc *d = calloc(1, sizeof *d);
    d->magic = DESC_MAGIC;
    d->type = type;
    d->refs = 1;
    return d;
}

static battr *attr_find(const bdesc *d, int name) {
    for (int i = 0; i < d->n; i++)
        if (d->attrs[i].name == name) return &d->attrs[i];
    return NULL;
}

/* Store count elements (descriptor elements are referenced, never copied). */
static void attr_put(bdesc *d, int name, int type, int64_t count, const void *elems) {
    battr *a = attr_find(d, name);
    if (a) attr_clear(a);
    else {
        if (d->n == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 8;
            d->attrs = realloc(d->attrs, d->cap * sizeof *d->attrs);
        }
        a = &d->attrs[d->n++];
    }
    size_t bytes = (size_t)count * type_size(type);
    a->name = name;
    a->type = type;
    a->count = count;
    a->data = malloc(bytes ? bytes : 1);
    if (bytes) memcpy(a->data, elems, bytes);
    if (type == CUDNN_TYPE_BACKEND_DESCRIPTOR)
        for (int64_t i = 0; i < count; i++) ((bdesc **)a->data)[i]->refs++;
}

static void put_i64(bdesc *d, int name, int64_t v) { attr_put(d, name, CUDNN_TYPE_INT64, 1, &v); }

/* dst becomes a copy of src (attributes share the descriptors src names). */
static void desc_copy(bdesc *dst, const bdesc *src) {
    if (dst == src) return;
    desc_clear(dst);
    dst->type = src->type;
    for (int i = 0; i < src->n; i++)
        attr_put(dst, src->attrs[i].name, src->attrs[i].type, src->attrs[i].count, src->attrs[i].data);
    if (src->plan) {
        dst->plan = malloc(sizeof *dst->plan);
        *dst->plan = *src->plan;
    }
    dst->finalized = src->finalized;
}

/* ---- typed reads of stored attributes ---- */

static int64_t elem_i64(int type, const void *p) {
    switch (type_size(type)) {
    case 1: return type == CUDNN_TYPE_BOOLEAN ? *(const bool *)p : *(const int8_t *)p;
    case 4: return type == CUDNN_TYPE_FLOAT ? (int64_t)*(const float *)p : *(const int32_t *)p;
    case 8: return type == CUDNN_TYPE_DOUBLE ? (int64_t)*(const double *)p : *(const int64_t *)p;
    default: return 0;
    }
}

static double elem_f64(int type, const void *p) {
    if (type == CUDNN_TYPE_FLOAT) return *(const float *)p;
    if (type == CUDNN_TYPE_DOUBLE) return *(const double *)p;
    return (double)elem_i64(type, p);
}

static int64_t attr_i64(const bdesc *d, int name, int64_t dflt) {
    const battr *a = d ? attr_find(d, name) : NULL;
    if (!a || a->count < 1 || a->type == CUDNN_TYPE_BACKEND_DESCRIPTOR) return dflt;
    return elem_i64(a->type, a->data);
}

static int attr_i64s(const bdesc *d, int name, int64_t *out, int max) {
    const battr *a = d ? attr_find(d, name) : NULL;
    if (!a || a->type == CUDNN_TYPE_BACKEND_DESCRIPTOR) return 0;
    int n = a->count < max ? (int)a->count : max;
    size_t es = type_size(a->type);
    for (int i = 0; i < n; i++) out[i] = elem_i64(a->type, (const char *)a->data + i * es);
    return n;
}

static bdesc *attr_desc(const bdesc *d, int name, int64_t i) {
    const battr *a = d ? attr_find(d, name) : NULL;
    if (!a || a->type != CUDNN_TYPE_BACKEND_DESCRIPTOR || i >= a->count) return NULL;
    return ((bdesc **)a->data)[i];
}

static int64_t attr_count(const bdesc *d, int name) {
    const battr *a = d ? attr_find(d, name) : NULL;
    return a ? a->count : 0;
}

/* Convert one element between numeric attribute types (callers sometimes ask an INT32 attribute
 * as INT64 and the like). */
static bool elem_convert(int to, void *dst, int from, const void *src) {
    if (to == from) { memcpy(dst, src, type_size(to)); return true; }
    if (is_integral(to) && (is_integral(from) || from == CUDNN_TYPE_FLOAT || from == CUDNN_TYPE_DOUBLE)) {
        int64_t v = elem_i64(from, src);
        switch (type_size(to)) {
        case 1: if (to == CUDNN_TYPE_BOOLEAN) *(bool *)dst = v != 0; else *(int8_t *)dst = (int8_t)v; return true;
        case 4: *(int32_t *)dst = (int32_t)v; return true;
        case 8: *(int64_t *)dst = v; return true;
        }
        return false;
    }
    if ((to == CUDNN_TYPE_FLOAT || to == CUDNN_TYPE_DOUBLE) &&
        (is_integral(from) || from == CUDNN_TYPE_FLOAT || from == CUDNN_TYPE_DOUBLE)) {
        double v = elem_f64(from, src);
        if (to == CUDNN_TYPE_FLOAT) *(float *)dst = (float)v;
        else *(double *)dst = v;
        return true;
    }
    return false;
}

/* ============================== recognising operation graphs ============================== */

typedef struct tinfo {
    bool ok;
    int dtype;
    int nd;
    int64_t dim[8], stride[8];
    int64_t uid;
    bool virt, by_value;
} tinfo;

static tinfo tensor_info(const bdesc *t) {
    tinfo r;
    memset(&r, 0, sizeof r);
    if (!t || t->type != CUDNN_BACKEND_TENSOR_DESCRIPTOR) return r;
    r.nd = attr_i64s(t, CUDNN_ATTR_TENSOR_DIMENSIONS, r.dim, 8);
    attr_i64s(t, CUDNN_ATTR_TENSOR_STRIDES, r.stride, 8);
    r.dtype = (int)attr_i64(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_DATA_FLOAT);
    r.uid = attr_i64(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, -1);
    r.virt = attr_i64(t, CUDNN_ATTR_TENSOR_IS_VIRTUAL, 0) != 0;
    r.by_value = attr_i64(t, CUDNN_ATTR_TENSOR_IS_BY_VALUE, 0) != 0;
    r.ok = r.nd > 0;
    return r;
}

static int64_t elements(const tinfo *t) {
    int64_t n = 1;
    for (int i = 0; i < t->nd; i++) n *= t->dim[i] > 0 ? t->dim[i] : 1;
    return n;
}

static int dtype_bytes(int dt) {
    switch (dt) {
    case CUDNN_DATA_DOUBLE: case CUDNN_DATA_INT64: case CUDNN_DATA_COMPLEX_FP32: return 8;
    case CUDNN_DATA_FLOAT: case CUDNN_DATA_INT32: case CUDNN_DATA_UINT32: case CUDNN_DATA_INT8x4:
    case CUDNN_DATA_UINT8x4: return 4;
    case CUDNN_DATA_HALF: case CUDNN_DATA_BFLOAT16: return 2;
    case CUDNN_DATA_COMPLEX_FP64: return 16;
    case CUDNN_DATA_INT8x32: return 32;
    default: return 1;
    }
}

/* Element type as the predictor names it (predictors/ops.py Dtype). */
static const char *dtype_name(int dt) {
    switch (dt) {
    case CUDNN_DATA_FLOAT: return "f32";
    case CUDNN_DATA_HALF: return "f16";
    case CUDNN_DATA_BFLOAT16: return "bf16";
    case CUDNN_DATA_FP8_E4M3: return "f8e4m3";
    case CUDNN_DATA_FP8_E5M2: return "f8e5m2";
    case CUDNN_DATA_DOUBLE: return "f64";
    case CUDNN_DATA_INT8: case CUDNN_DATA_UINT8: case CUDNN_DATA_INT8x4: case CUDNN_DATA_INT8x32: return "i8";
    case CUDNN_DATA_INT32: return "i32";
    default: return "f32";
    }
}

static const char *op_type_name(int t) {
    switch (t) {
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR: return "conv_fwd";
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR: return "conv_wgrad";
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR: return "conv_dgrad";
    case CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR: return "pointwise";
    case CUDNN_BACKEND_OPERATION_GEN_STATS_DESCRIPTOR: return "genstats";
    case CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR: return "matmul";
    case CUDNN_BACKEND_OPERATION_BN_FINALIZE_STATISTICS_DESCRIPTOR: return "bn_finalize";
    case CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR: return "reduction";
    case CUDNN_BACKEND_OPERATION_BN_BWD_WEIGHTS_DESCRIPTOR: return "bn_bwd_weights";
    case CUDNN_BACKEND_OPERATION_RESAMPLE_FWD_DESCRIPTOR: return "resample_fwd";
    case CUDNN_BACKEND_OPERATION_RESAMPLE_BWD_DESCRIPTOR: return "resample_bwd";
    case CUDNN_BACKEND_OPERATION_CONCAT_DESCRIPTOR: return "concat";
    case CUDNN_BACKEND_OPERATION_SIGNAL_DESCRIPTOR: return "signal";
    case CUDNN_BACKEND_OPERATION_NORM_FORWARD_DESCRIPTOR: return "norm_fwd";
    case CUDNN_BACKEND_OPERATION_NORM_BACKWARD_DESCRIPTOR: return "norm_bwd";
    case CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR: return "reshape";
    case CUDNN_BACKEND_OPERATION_RNG_DESCRIPTOR: return "rng";
    case CUDNN_BACKEND_OPERATION_PAGED_CACHE_LOAD_DESCRIPTOR: return "paged_cache_load";
    case CUDNN_BACKEND_OPERATION_BLOCK_SCALE_QUANTIZE_DESCRIPTOR: return "block_scale_quantize";
    case CUDNN_BACKEND_OPERATION_BLOCK_SCALE_DEQUANTIZE_DESCRIPTOR: return "block_scale_dequantize";
    case CUDNN_BACKEND_OPERATION_EXPAND_BAND_MATRIX_DESCRIPTOR: return "expand_band_matrix";
    case CUDNN_BACKEND_OPERATION_CONTRACT_BAND_MATRIX_DESCRIPTOR: return "contract_band_matrix";
    case CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR: return "sdpa_fwd";
    case CUDNN_BACKEND_OPERATION_MOE_GROUPED_MATMUL_DESCRIPTOR: return "moe_grouped_matmul";
    case CUDNN_BACKEND_OPERATION_SDPA_BWD_DESCRIPTOR: return "sdpa_bwd";
    case CUDNN_BACKEND_OPERATION_DIAGONAL_BAND_MASK_DESCRIPTOR: return "diagonal_band_mask";
    case CUDNN_BACKEND_OPERATION_SOFTMAX_DESCRIPTOR: return "softmax";
    case CUDNN_BACKEND_OPERATION_TRANSPOSE_DESCRIPTOR: return "transpose";
    case CUDNN_BACKEND_OPERATION_SLICE_DESCRIPTOR: return "slice";
    case CUDNN_BACKEND_OPERATION_MOE_GROUPED_MATMUL_BWD_DESCRIPTOR: return "moe_grouped_matmul_bwd";
    case CUDNN_BACKEND_OPERATION_ROPE_FWD_DESCRIPTOR: return "rope_fwd";
    case CUDNN_BACKEND_OPERATION_ROPE_BWD_DESCRIPTOR: return "rope_bwd";
    default: return "op";
    }
}

#define MAX_OPS 256
typedef struct oplist { bdesc *op[MAX_OPS]; int n; } oplist;

static void ops_of_graph(const bdesc *graph, oplist *out) {
    int64_t n = attr_count(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS);
    for (int64_t i = 0; i < n && out->n < MAX_OPS; i++) {
        bdesc *op = attr_desc(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, i);
        if (op) out->op[out->n++] = op;
    }
}

static int pw_mode(const bdesc *op) {
    if (op->type != CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR) return -1;
    return (int)attr_i64(attr_desc(op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, 0), CUDNN_ATTR_POINTWISE_MODE, -1);
}

static const bdesc *pw_producer(const oplist *ops, int64_t uid) {
    for (int i = 0; i < ops->n; i++) {
        const bdesc *op = ops->op[i];
        if (op->type != CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR) continue;
        tinfo y = tensor_info(attr_desc(op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, 0));
        if (y.ok && y.uid == uid) return op;
    }
    return NULL;
}

/* Axis of the GEN_INDEX a tensor is derived from (through index arithmetic), or -1. */
static int gen_index_axis(const oplist *ops, const bdesc *tensor, int depth) {
    tinfo t = tensor_info(tensor);
    if (!t.ok || depth > 8) return -1;
    const bdesc *p = pw_producer(ops, t.uid);
    if (!p) return -1;
    int mode = pw_mode(p);
    if (mode == CUDNN_POINTWISE_GEN_INDEX)
        return (int)attr_i64(attr_desc(p, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, 0), CUDNN_ATTR_POINTWISE_AXIS, -1);
    if (mode == CUDNN_POINTWISE_ADD || mode == CUDNN_POINTWISE_SUB || mode == CUDNN_POINTWISE_IDENTITY)
        return gen_index_axis(ops, attr_desc(p, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, 0), depth + 1);
    return -1;
}

/* A causal (right-bound diagonal band) mask among ops: a DIAGONAL_BAND_MASK operation without a left
 * bound (cuDNN >= 9.21 graphs), or the composite form "row index >= column index" built from
 * GEN_INDEX pointwise operations (older graphs: cudnn-frontend's causal_mask / diagonal band). */
static bool has_causal_mask(const oplist *ops) {
    for (int i = 0; i < ops->n; i++) {
        const bdesc *op = ops->op[i];
        if (op->type == CUDNN_BACKEND_OPERATION_DIAGONAL_BAND_MASK_DESCRIPTOR &&
            !attr_find(op, CUDNN_ATTR_OPERATION_DIAGONAL_BAND_MASK_LEFT_BOUND_DESC))
            return true;
        int mode = pw_mode(op);
        if (mode >= CUDNN_POINTWISE_CMP_EQ && mode <= CUDNN_POINTWISE_CMP_LE) {
            int a = gen_index_axis(ops, attr_desc(op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, 0), 0);
            int b = gen_index_axis(ops, attr_desc(op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, 0), 0);
            if (a == 2 && b == 3) return true;
        }
    }
    return false;
}

static void add_subgraph_ops(const bdesc *op, int attr, oplist *out) {
    const bdesc *sg = attr_desc(op, attr, 0);
    if (sg) ops_of_graph(sg, out);
}

static void attention_op(rv_op *op, const char *lib, int64_t b, int64_t h, int64_t hk, int64_t sq, int64_t skv,
                         int64_t d, int64_t dv, bool causal, int dtype) {
    rv_op_init(op, RV_OP_ATTENTION, 0, lib);
    op->u.attn.batch = b;
    op->u.attn.heads = h;
    op->u.attn.kv_heads = hk;
    op->u.attn.q_len = sq;
    op->u.attn.kv_len = skv;
    op->u.attn.head_dim = d;
    op->u.attn.head_dim_v = dv;
    op->u.attn.causal = causal;
    op->u.attn.dtype = dtype_name(dtype);
}

/* A backward attention: recorded with the forward's shapes, priced 2.5x the forward. */
static void attention_backward(plan *p) {
    p->price_op = p->op;
    p->op.name = "cudnn bwd";
    p->priced = true;
    p->scale = 2.5;
}

/* The fused SDPA forward/backward operations (cuDNN >= 9.13 / 9.17). */
static bool recognise_sdpa_op(const bdesc *op, plan *p) {
    bool fwd = op->type == CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR;
    tinfo q = tensor_info(attr_desc(op, fwd ? CUDNN_ATTR_OPERATION_SDPA_FWD_QDESC : CUDNN_ATTR_OPERATION_SDPA_BWD_QDESC, 0));
    tinfo k = tensor_info(attr_desc(op, fwd ? CUDNN_ATTR_OPERATION_SDPA_FWD_KDESC : CUDNN_ATTR_OPERATION_SDPA_BWD_KDESC, 0));
    tinfo v = tensor_info(attr_desc(op, fwd ? CUDNN_ATTR_OPERATION_SDPA_FWD_VDESC : CUDNN_ATTR_OPERATION_SDPA_BWD_VDESC, 0));
    if (!q.ok || !k.ok || !v.ok || q.nd != 4 || k.nd != 4 || v.nd != 4) return false;
    int64_t skv = k.dim[2];
    if (fwd) {
        /* paged K: K is [pages, h_k, page_size, d] and the page table [b, 1, pages per sequence, 1] */
        tinfo pt = tensor_info(attr_desc(op, CUDNN_ATTR_OPERATION_SDPA_FWD_PAGE_TABLE_KDESC, 0));
        if (pt.ok && pt.nd == 4) skv = pt.dim[2] * k.dim[2];
    }
    oplist sub = {.n = 0};
    add_subgraph_ops(op, fwd ? CUDNN_ATTR_OPERATION_SDPA_FWD_SUBGRAPH : CUDNN_ATTR_OPERATION_SDPA_BWD_SUBGRAPH, &sub);
    attention_op(&p->op, "cudnn", q.dim[0], q.dim[1], k.dim[1], q.dim[2], skv, q.dim[3], v.dim[3],
                 has_causal_mask(&sub), q.dtype);
    if (!fwd) attention_backward(p);
    return true;
}

/* The composite pattern: S = Q.K^T, masks, softmax (or its reductions), O = P.V; the backward adds
 * the dV, dP, dQ, dK matmuls. */
static bool recognise_composite_attention(const oplist *ops, plan *p) {
    const bdesc *mm[MAX_OPS];
    int nmm = 0;
    bool softmax = false, reduction = false, exp = false;
    for (int i = 0; i < ops->n; i++) {
        const bdesc *op = ops->op[i];
        if (op->type == CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR) mm[nmm++] = op;
        else if (op->type == CUDNN_BACKEND_OPERATION_SOFTMAX_DESCRIPTOR) softmax = true;
        else if (op->type == CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR) reduction = true;
        else if (pw_mode(op) == CUDNN_POINTWISE_EXP) exp = true;
    }
    if (nmm < 2 || !(softmax || (reduction && exp))) return false;
    /* S = Q.K^T: the first matmul whose inputs are both graph inputs and whose output is virtual */
    const bdesc *s_mm = NULL, *o_mm = NULL;
    for (int i = 0; i < nmm && !s_mm; i++) {
        tinfo a = tensor_info(attr_desc(mm[i], CUDNN_ATTR_OPERATION_MATMUL_ADESC, 0));
        tinfo c = tensor_info(attr_desc(mm[i], CUDNN_ATTR_OPERATION_MATMUL_CDESC, 0));
        if (a.ok && c.ok && !a.virt && c.virt) s_mm = mm[i];
    }
    if (!s_mm) s_mm = mm[0];
    tinfo q = tensor_info(attr_desc(s_mm, CUDNN_ATTR_OPERATION_MATMUL_ADESC, 0));
    tinfo kt = tensor_info(attr_desc(s_mm, CUDNN_ATTR_OPERATION_MATMUL_BDESC, 0));
    if (!q.ok || !kt.ok || q.nd != 4 || kt.nd != 4) return false;
    int64_t dv = q.dim[3];   /* the backward's head_dim_v: taken equal to head_dim */
    if (nmm == 2) {
        /* O = P.V: the other matmul */
        o_mm = mm[0] == s_mm ? mm[1] : mm[0];
        tinfo v = tensor_info(attr_desc(o_mm, CUDNN_ATTR_OPERATION_MATMUL_BDESC, 0));
        if (v.ok && v.nd == 4) dv = v.dim[3];
    }
    attention_op(&p->op, "cudnn", q.dim[0], q.dim[1], kt.dim[1], q.dim[2], kt.dim[3], q.dim[3], dv,
                 has_causal_mask(ops), q.dtype);
    if (nmm > 2) attention_backward(p);
    return true;
}

/* A GEMM as the predictor names it; the recorded op says "cudnn", the price is cuBLASLt's. */
static void gemm_op(plan *p, int64_t m, int64_t n, int64_t k, int64_t batch, int dta, int dtb, int dtc,
                    int compute, const char *what) {
    rv_op *op = &p->op;
    rv_op_init(op, RV_OP_GEMM, 0, "cudnn");
    op->u.gemm.m = m;
    op->u.gemm.n = n;
    op->u.gemm.k = k;
    op->u.gemm.batch = batch > 0 ? batch : 1;
    op->u.gemm.dtype_a = dtype_name(dta);
    op->u.gemm.dtype_b = dtype_name(dtb);
    op->u.gemm.dtype_c = dtype_name(dtc);
    op->u.gemm.compute = dtype_name(compute);
    op->u.gemm.epilogue = "none";
    p->price_op = *op;
    p->price_op.name = "cublasLt";
    p->priced = true;
    p->scale = 1.0;
    op->u.gemm.epilogue = what;
}

static bool recognise_matmul(const bdesc *op, plan *p) {
    tinfo a = tensor_info(attr_desc(op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, 0));
    tinfo b = tensor_info(attr_desc(op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, 0));
    tinfo c = tensor_info(attr_desc(op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, 0));
    if (!a.ok || !b.ok || !c.ok || a.nd < 2 || b.nd < 2 || c.nd < 2) return false;
    int64_t batch = 1;
    for (int i = 0; i < c.nd - 2; i++) batch *= c.dim[i];
    int comp = (int)attr_i64(attr_desc(op, CUDNN_ATTR_OPERATION_MATMUL_DESC, 0), CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_DATA_FLOAT);
    gemm_op(p, c.dim[c.nd - 2], c.dim[c.nd - 1], a.dim[a.nd - 1], batch, a.dtype, b.dtype, c.dtype, comp, "matmul");
    return true;
}

/* Convolutions as their implicit GEMM. x: [n, c, spatial...], w: [k, c/groups, filter...],
 * y: [n, k, out spatial...] (dims are logical NCHW order whatever the strides). */
/* what: conv_fwd (y = x * w), conv_dgrad (x = y *T w) or conv_wgrad (w = x *T y); x: [n, c, spatial],
 * w: [k, c/groups, filter], y: [n, k, out spatial] (logical NCHW order whatever the strides). */
static bool conv_gemm(plan *p, const char *what, int xnd, const int64_t *x, int wnd, const int64_t *w, int ynd,
                      const int64_t *y, int xdt, int wdt, int ydt, int compute, int64_t groups) {
    if (xnd < 3 || wnd != xnd || ynd != xnd) return false;
    if (groups < 1) groups = w[1] > 0 && x[1] % w[1] == 0 ? x[1] / w[1] : 1;
    int64_t npq = y[0], nhw = x[0], rs = 1;
    for (int i = 2; i < xnd; i++) { npq *= y[i]; nhw *= x[i]; rs *= w[i]; }
    int64_t kg = y[1] / groups, cg = w[1];
    if (!strcmp(what, "conv_fwd")) gemm_op(p, npq, kg, cg * rs, groups, xdt, wdt, ydt, compute, what);
    else if (!strcmp(what, "conv_dgrad")) gemm_op(p, nhw, cg, kg * rs, groups, ydt, wdt, xdt, compute, what);
    else gemm_op(p, kg, cg * rs, npq, groups, ydt, xdt, wdt, compute, what);
    return true;
}

static bool recognise_conv(const bdesc *op, plan *p) {
    int ax, aw, ay, ac;
    const char *what;
    switch (op->type) {
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR:
        ax = CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X; aw = CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W;
        ay = CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y; ac = CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC;
        what = "conv_fwd"; break;
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR:
        ax = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX; aw = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W;
        ay = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY; ac = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC;
        what = "conv_dgrad"; break;
    default:
        ax = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X; aw = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW;
        ay = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY; ac = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC;
        what = "conv_wgrad"; break;
    }
    tinfo x = tensor_info(attr_desc(op, ax, 0)), w = tensor_info(attr_desc(op, aw, 0)), y = tensor_info(attr_desc(op, ay, 0));
    if (!x.ok || !w.ok || !y.ok) return false;
    int comp = (int)attr_i64(attr_desc(op, ac, 0), CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_DATA_FLOAT);
    return conv_gemm(p, what, x.nd, x.dim, w.nd, w.dim, y.nd, y.dim, x.dtype, w.dtype, y.dtype, comp, 0);
}

/* Anything else: a kernel named after its operations ("cudnn:matmul+pointwise"), sized so the
 * roofline moves the bytes of its non-virtual tensors once (one thread per 8 bytes). */
static void generic_kernel(const oplist *ops, plan *p) {
    char name[256] = "cudnn:";
    size_t len = strlen(name);
    int64_t uids[512];
    int nuid = 0;
    int64_t bytes = 0;
    for (int i = 0; i < ops->n; i++) {
        const bdesc *op = ops->op[i];
        const char *tn = op_type_name(op->type);
        if (!strstr(name, tn) && len + strlen(tn) + 2 < sizeof name)
            len += snprintf(name + len, sizeof name - len, "%s%s", len > 6 ? "+" : "", tn);
        for (int a = 0; a < op->n; a++) {
            const battr *at = &op->attrs[a];
            if (at->type != CUDNN_TYPE_BACKEND_DESCRIPTOR) continue;
            for (int64_t e = 0; e < at->count; e++) {
                tinfo t = tensor_info(((bdesc **)at->data)[e]);
                if (!t.ok || t.virt || t.by_value) continue;
                bool seen = false;
                for (int u = 0; u < nuid && !seen; u++) seen = uids[u] == t.uid;
                if (seen || nuid == 512) continue;
                uids[nuid++] = t.uid;
                bytes += elements(&t) * dtype_bytes(t.dtype);
            }
        }
    }
    if (!ops->n) snprintf(name, sizeof name, "cudnn:empty");
    int64_t threads = (bytes + 7) / 8;
    int64_t block = 256, grid = (threads + block - 1) / block;
    rv_op_init(&p->op, RV_OP_KERNEL, 0, rv_intern(name));
    p->op.u.kernel.grid[0] = grid > 0 ? grid : 1;
    p->op.u.kernel.grid[1] = p->op.u.kernel.grid[2] = 1;
    p->op.u.kernel.block[0] = block;
    p->op.u.kernel.block[1] = p->op.u.kernel.block[2] = 1;
}

static void recognise_ops(const bdesc *graph, plan *p, bool log);

/* engine: the global index of the engine the plan runs (1: the TF32 engine of an f32 GEMM). */
static void recognise(const bdesc *graph, int64_t engine, plan *p) {
    recognise_ops(graph, p, true);
    if (engine == 1 && p->op.kind == RV_OP_GEMM && !strcmp(p->op.u.gemm.compute, "f32")) {
        p->op.u.gemm.compute = "f32_fast_tf32";
        p->price_op.u.gemm.compute = "f32_fast_tf32";
    }
}

/* Engines offered for a graph: engine 0 computes as the graph says. An f32 convolution or matmul
 * also gets engine 1, the TF32 tensor-core engine (numerical note TENSOR_CORE), offered first as
 * cuDNN's heuristics do; torch drops it when torch.backends.cudnn.allow_tf32 is off, so the engine
 * a plan runs tells the math it uses. */
static int engine_count(const bdesc *graph) {
    plan p;
    recognise_ops(graph, &p, false);
    return p.op.kind == RV_OP_GEMM && !strcmp(p.op.u.gemm.dtype_a, "f32") && !strcmp(p.op.u.gemm.dtype_b, "f32") ? 2 : 1;
}

static void recognise_ops(const bdesc *graph, plan *p, bool log) {
    memset(p, 0, sizeof *p);
    oplist ops = {.n = 0};
    ops_of_graph(graph, &ops);
    int nmm = 0, nconv = 0, nother = 0;
    for (int i = 0; i < ops.n; i++) {
        const bdesc *op = ops.op[i];
        if ((op->type == CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR ||
             op->type == CUDNN_BACKEND_OPERATION_SDPA_BWD_DESCRIPTOR) && recognise_sdpa_op(op, p)) {
            if (log) DLOG("graph %p: attention from the %s operation", (const void *)graph, op_type_name(op->type));
            return;
        }
        if (op->type == CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR) nmm++;
        else if (op->type >= CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR &&
                 op->type <= CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR) nconv++;
        else if (op->type != CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR &&
                 op->type != CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR) nother++;
    }
    if (recognise_composite_attention(&ops, p)) {
        if (log) DLOG("graph %p: composite attention (%d matmuls, %d operations)", (const void *)graph, nmm, ops.n);
        return;
    }
    /* one matmul or one convolution, possibly with pointwise prologue/epilogue (bias, activation) */
    for (int i = 0; i < ops.n && nother == 0 && nmm + nconv == 1; i++) {
        const bdesc *op = ops.op[i];
        if (op->type == CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR && recognise_matmul(op, p)) return;
        if (op->type >= CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR &&
            op->type <= CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR && recognise_conv(op, p))
            return;
    }
    generic_kernel(&ops, p);
}

/* ---- plan (de)serialisation: our JSON representation carries the recognised op ---- */

/* Integer fields at the start of the op's union, per kind (the strings follow them). */
static int int_fields(int64_t kind) {
    switch (kind) {
    case RV_OP_ATTENTION: return 8;
    case RV_OP_GEMM: return 6;
    case RV_OP_KERNEL: return 7;
    default: return 0;
    }
}

static int plan_json(const plan *p, char *buf, size_t size) {
    const rv_op *o = &p->op;
    int64_t w[8] = {0};
    memcpy(w, &o->u, int_fields(o->kind) * sizeof(int64_t));
    const char *s1 = "", *s2 = "", *s3 = "", *s4 = "", *s5 = "";
    if (o->kind == RV_OP_ATTENTION) s1 = o->u.attn.dtype;
    if (o->kind == RV_OP_GEMM) {
        s1 = o->u.gemm.dtype_a; s2 = o->u.gemm.dtype_b; s3 = o->u.gemm.dtype_c; s4 = o->u.gemm.compute;
        s5 = o->u.gemm.epilogue;
    }
    return snprintf(buf, size,
                    "{\"engine\":\"revati\",\"plan\":\"%lld|%s|%lld|%lld|%lld|%lld|%lld|%lld|%lld|%lld|%s|%s|%s|%s|%s|%d|%g\"}",
                    (long long)o->kind, o->name, (long long)w[0], (long long)w[1], (long long)w[2], (long long)w[3],
                    (long long)w[4], (long long)w[5], (long long)w[6], (long long)w[7], s1, s2, s3, s4, s5,
                    (int)p->priced, p->scale);
}

static const char *known_str(const char *s) {
    static const char *const known[] = {"f32", "f16", "bf16", "f8e4m3", "f8e5m2", "f64", "i8", "i32", "none",
                                        "matmul", "conv_fwd", "conv_dgrad", "conv_wgrad", "cudnn", "cudnn bwd",
                                        "f32_fast_tf32"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (!strcmp(known[i], s)) return known[i];
    return rv_intern(s);
}

static bool plan_from_json(const char *json, plan *p) {
    const char *s = strstr(json, "\"plan\":\"");
    if (!strstr(json, "\"engine\":\"revati\"") || !s) return false;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", s + 8);
    char *end = strchr(buf, '"');
    if (end) *end = 0;
    char *f[17];
    int n = 0;
    for (char *tok = buf; n < 17; n++) {
        f[n] = tok;
        char *bar = strchr(tok, '|');
        if (!bar) { n++; break; }
        *bar = 0;
        tok = bar + 1;
    }
    if (n != 17) return false;
    memset(p, 0, sizeof *p);
    rv_op_init(&p->op, (rv_op_kind)strtoll(f[0], 0, 10), 0, known_str(f[1]));
    int64_t w[8];
    for (int i = 0; i < 8; i++) w[i] = strtoll(f[2 + i], 0, 10);
    memcpy(&p->op.u, w, int_fields(p->op.kind) * sizeof(int64_t));
    if (p->op.kind == RV_OP_ATTENTION) p->op.u.attn.dtype = known_str(f[10]);
    if (p->op.kind == RV_OP_GEMM) {
        p->op.u.gemm.dtype_a = known_str(f[10]);
        p->op.u.gemm.dtype_b = known_str(f[11]);
        p->op.u.gemm.dtype_c = known_str(f[12]);
        p->op.u.gemm.compute = known_str(f[13]);
        p->op.u.gemm.epilogue = known_str(f[14]);
    }
    p->priced = atoi(f[15]) != 0;
    p->scale = strtod(f[16], 0);
    if (p->priced) {
        p->price_op = p->op;
        if (p->op.kind == RV_OP_ATTENTION) p->price_op.name = "cudnn";
        if (p->op.kind == RV_OP_GEMM) { p->price_op.name = "cublasLt"; p->price_op.u.gemm.epilogue = "none"; }
    }
    return true;
}

/* ============================== the backend API ============================== */

cudnnStatus_t cudnnBackendCreateDescriptor(cudnnBackendDescriptorType_t type, cudnnBackendDescriptor_t *descriptor) {
    API;
    if (!descriptor) return fail(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "cudnnBackendCreateDescriptor: descriptor is NULL");
    if ((int)type < 0 || (int)type > CUDNN_BACKEND_OPERATION_ROPE_BWD_DESCRIPTOR + 64)
        return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendCreateDescriptor: unknown descriptor type %d", (int)type);
    bdesc *d = desc_new(type);
    pthread_mutex_lock(&g_lock);
    *descriptor = d;
    pthread_mutex_unlock(&g_lock);
    DLOG("create %p type %d", (void *)d, (int)type);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBackendDestroyDescriptor(cudnnBackendDescriptor_t descriptor) {
    API;
    pthread_mutex_lock(&g_lock);
    bdesc *d = desc_of(descriptor);
    if (!d) {
        pthread_mutex_unlock(&g_lock);
        return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendDestroyDescriptor: invalid descriptor %p", descriptor);
    }
    DLOG("destroy %p type %d", descriptor, d->type);
    desc_release(d);   /* descriptors still named by others live on until those go */
    pthread_mutex_unlock(&g_lock);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBackendInitialize(cudnnBackendDescriptor_t descriptor) {
    API;
    pthread_mutex_lock(&g_lock);
    bdesc *d = desc_of(descriptor);
    if (d) desc_clear(d);
    pthread_mutex_unlock(&g_lock);
    return d ? CUDNN_STATUS_SUCCESS : fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendInitialize: invalid descriptor");
}

cudnnStatus_t cudnnBackendSetAttribute(cudnnBackendDescriptor_t descriptor, cudnnBackendAttributeName_t name,
                                       cudnnBackendAttributeType_t type, int64_t count, const void *elements) {
    API;
    size_t es = type_size(type);
    if (!es) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendSetAttribute: unknown attribute type %d", (int)type);
    if (count < 0) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendSetAttribute: negative element count");
    if (count > 0 && !elements)
        return fail(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "cudnnBackendSetAttribute: elements is NULL");
    pthread_mutex_lock(&g_lock);
    bdesc *d = desc_of(descriptor);
    cudnnStatus_t st = CUDNN_STATUS_SUCCESS;
    if (!d) st = fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendSetAttribute: invalid descriptor %p", descriptor);
    if (!st && type == CUDNN_TYPE_BACKEND_DESCRIPTOR)
        for (int64_t i = 0; i < count && !st; i++)
            if (!desc_of(((void *const *)elements)[i]))
                st = fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendSetAttribute: attribute %d element %lld is not a descriptor",
                          (int)name, (long long)i);
    if (!st) attr_put(d, name, type, count, elements);
    pthread_mutex_unlock(&g_lock);
    DLOG("set %p attr %d type %d count %lld -> %d", descriptor, (int)name, (int)type, (long long)count, (int)st);
    return st;
}

/* Heuristics: one engine configuration per engine (no knobs), best first. */
static void make_heur_results(bdesc *heur) {
    bdesc *graph = attr_desc(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, 0);
    int n = graph ? engine_count(graph) : 1;
    bdesc *cfgs[2];
    for (int i = 0; i < n; i++) {
        bdesc *engine = desc_new(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
        if (graph) attr_put(engine, CUDNN_ATTR_ENGINE_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph);
        put_i64(engine, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, n - 1 - i);
        engine->finalized = true;
        bdesc *cfg = desc_new(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
        attr_put(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &engine);
        attr_put(cfg, CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, NULL);
        cfg->finalized = true;
        desc_release(engine);   /* now owned by the configuration */
        cfgs[i] = cfg;
    }
    attr_put(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, n, cfgs);
    for (int i = 0; i < n; i++) desc_release(cfgs[i]);
}

/* Attributes the library computes. Returns false when it has no answer. Called under g_lock. */
static bool computed_attr(bdesc *d, int name, int *type, int64_t *count, int64_t *ival, const char **sval) {
    *count = 1;
    *ival = 0;
    *sval = NULL;
    *type = CUDNN_TYPE_INT64;
    switch (name) {
    /* sizes, indices and flags that are zero or false here */
    case CUDNN_ATTR_ENGINE_GLOBAL_INDEX:
    case CUDNN_ATTR_ENGINE_SM_COUNT_TARGET:
    case CUDNN_ATTR_ENGINECFG_WORKSPACE_SIZE:
    case CUDNN_ATTR_ENGINECFG_SHARED_MEMORY_USED:
    case CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE:
    case CUDNN_ATTR_ENGINEHEUR_SM_COUNT_TARGET:
        return true;
    case CUDNN_ATTR_OPERATIONGRAPH_ENGINE_GLOBAL_COUNT:
        *ival = d->type == CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR ? engine_count(d) : 1;
        return true;
    case CUDNN_ATTR_OPERATIONGRAPH_IS_DYNAMIC_SHAPE_ENABLED:
    case CUDNN_ATTR_OPERATIONGRAPH_IS_SAME_TOPOLOGY:
    case CUDNN_ATTR_OPERATIONGRAPH_IS_OVERRIDE_SHAPE_ENABLED:
    case CUDNN_ATTR_KERNEL_CACHE_IS_ENGINECFG_KERNEL_CACHED:
    case CUDNN_ATTR_TENSOR_IS_VIRTUAL:
    case CUDNN_ATTR_TENSOR_IS_BY_VALUE:
    case CUDNN_ATTR_ENGINE_DISABLE_CLUSTER_COOPERATIVE:
        *type = CUDNN_TYPE_BOOLEAN;
        return true;
    case CUDNN_ATTR_TENSOR_VECTOR_COUNT:
        *ival = 1;
        return true;
    case CUDNN_ATTR_TENSOR_VECTORIZED_DIMENSION:
        *ival = -1;
        return true;
    /* lists that are empty here */
    case CUDNN_ATTR_ENGINE_KNOB_INFO:
    case CUDNN_ATTR_ENGINE_LAYOUT_INFO:
    case CUDNN_ATTR_ENGINECFG_KNOB_CHOICES:
    case CUDNN_ATTR_ENGINECFG_INTERMEDIATE_INFO:
        *type = CUDNN_TYPE_BACKEND_DESCRIPTOR;
        *count = 0;
        return true;
    case CUDNN_ATTR_ENGINE_NUMERICAL_NOTE:
        *type = CUDNN_TYPE_NUMERICAL_NOTE;
        *count = attr_i64(d, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, 0) == 1 ? 1 : 0;
        *ival = CUDNN_NUMERICAL_NOTE_TENSOR_CORE;
        return true;
    case CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE:
        *type = CUDNN_TYPE_BEHAVIOR_NOTE;
        *count = 0;
        return true;
    case CUDNN_ATTR_EXECUTION_PLAN_COMPUTED_INTERMEDIATE_UIDS:
    case CUDNN_ATTR_EXECUTION_PLAN_RUN_ONLY_INTERMEDIATE_UIDS:
        *count = 0;
        return true;
    case CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION:
        if (d->type != CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR || !d->plan) return false;
        *type = CUDNN_TYPE_CHAR;
        return true;   /* the caller formats it */
    case CUDNN_ATTR_KERNEL_CACHE_JSON_REPRESENTATION:
    case CUDNN_ATTR_DEVICEPROP_JSON_REPRESENTATION:
        *type = CUDNN_TYPE_CHAR;
        *sval = "{}";
        return true;
    }
    return false;
}

cudnnStatus_t cudnnBackendGetAttribute(cudnnBackendDescriptor_t const descriptor, cudnnBackendAttributeName_t name,
                                       cudnnBackendAttributeType_t type, int64_t requested, int64_t *count,
                                       void *elements) {
    API;
    size_t es = type_size(type);
    if (!es) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendGetAttribute: unknown attribute type %d", (int)type);
    if (requested < 0) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendGetAttribute: negative element count");
    if (!elements) requested = 0;   /* a count query (cudnn-frontend asks notes this way) */
    pthread_mutex_lock(&g_lock);
    cudnnStatus_t st = CUDNN_STATUS_SUCCESS;
    bdesc *d = desc_of(descriptor);
    int64_t have = 0;
    if (!d) {
        st = fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendGetAttribute: invalid descriptor %p", descriptor);
        goto out;
    }
    if (d->type == CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR && name == CUDNN_ATTR_ENGINEHEUR_RESULTS &&
        !attr_find(d, name)) {
        if (!d->finalized) {
            st = fail(CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED, "engine heuristics queried before finalize");
            goto out;
        }
        make_heur_results(d);
    }
    battr *a = attr_find(d, name);
    if (a) {
        have = a->count;
        int64_t n = requested < have ? requested : have;
        if (type == CUDNN_TYPE_BACKEND_DESCRIPTOR || a->type == CUDNN_TYPE_BACKEND_DESCRIPTOR) {
            if ((int)type != a->type) {
                st = fail(CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE, "attribute %d is of type %d, asked as %d", (int)name,
                          a->type, (int)type);
                goto out;
            }
            /* the caller created the descriptors; they become copies of ours */
            for (int64_t i = 0; i < n; i++) {
                bdesc *dst = desc_of(((void **)elements)[i]);
                if (!dst) {
                    st = fail(CUDNN_STATUS_BAD_PARAM, "attribute %d: output element %lld is not a descriptor", (int)name,
                              (long long)i);
                    goto out;
                }
                desc_copy(dst, ((bdesc **)a->data)[i]);
            }
        } else {
            for (int64_t i = 0; i < n; i++)
                if (!elem_convert(type, (char *)elements + i * es, a->type, (char *)a->data + i * type_size(a->type))) {
                    st = fail(CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE, "attribute %d is of type %d, asked as %d",
                              (int)name, a->type, (int)type);
                    goto out;
                }
        }
        goto out;
    }
    int ctype;
    int64_t ival;
    const char *sval;
    if (computed_attr(d, name, &ctype, &have, &ival, &sval)) {
        char json[1200];
        if (name == CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION) {
            plan_json(d->plan, json, sizeof json);
            sval = json;
        }
        if (sval) {   /* strings: count includes the terminating NUL */
            have = (int64_t)strlen(sval) + 1;
            if (requested > 0) {
                int64_t n = requested < have ? requested : have;
                memcpy(elements, sval, n);
                if (n < have) ((char *)elements)[n - 1] = 0;
            }
        } else if (have > 0 && requested > 0 && !elem_convert(type, elements, CUDNN_TYPE_INT64, &ival)) {
            st = fail(CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE, "attribute %d asked as type %d", (int)name, (int)type);
        }
        goto out;
    }
    /* Never set and nothing to compute: no elements (and zeroed outputs, for callers that read them). */
    if (requested > 0 && type != CUDNN_TYPE_BACKEND_DESCRIPTOR) memset(elements, 0, (size_t)requested * es);
    {
        static int warned[4096];
        if (name >= 0 && name < 4096 && !__atomic_exchange_n(&warned[name], 1, __ATOMIC_RELAXED))
            DLOG("get of unset attribute %d on a descriptor of type %d: answered with 0 elements", (int)name, d->type);
    }
out:
    /* the number available when only counting, else the number written (cudnn-frontend's v8
     * heuristics loop trusts it as the number of configurations it got) */
    if (!st && count) *count = requested > 0 && requested < have ? requested : have;
    pthread_mutex_unlock(&g_lock);
    DLOG("get %p attr %d type %d requested %lld -> have %lld st %d", descriptor, (int)name, (int)type,
         (long long)requested, (long long)have, (int)st);
    return st;
}

static bdesc *plan_graph(const bdesc *plan_desc, int64_t *engine_index) {
    bdesc *cfg = attr_desc(plan_desc, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, 0);
    bdesc *eng = attr_desc(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, 0);
    *engine_index = attr_i64(eng, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, 0);
    return attr_desc(eng, CUDNN_ATTR_ENGINE_OPERATION_GRAPH, 0);
}

cudnnStatus_t cudnnBackendFinalize(cudnnBackendDescriptor_t descriptor) {
    API;
    pthread_mutex_lock(&g_lock);
    cudnnStatus_t st = CUDNN_STATUS_SUCCESS;
    rv_ns host = 0;            /* the real library's host time for this finalize */
    const char *what = NULL;
    bdesc *d = desc_of(descriptor);
    if (!d) {
        st = fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: invalid descriptor %p", descriptor);
        goto out;
    }
    switch (d->type) {
    case CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR:
        host = rv_cfg()->hw.cudnn_opgraph_ns;
        what = "cuDNN operation graph";
        break;
    case CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR:
        if (!attr_desc(d, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, 0))
            st = fail(CUDNN_STATUS_BAD_PARAM, "engine heuristics without an operation graph");
        host = rv_cfg()->hw.cudnn_heuristics_ns;
        what = "cuDNN engine heuristics";
        break;
    case CUDNN_BACKEND_ENGINE_DESCRIPTOR:
        if (!attr_desc(d, CUDNN_ATTR_ENGINE_OPERATION_GRAPH, 0))
            st = fail(CUDNN_STATUS_BAD_PARAM, "engine without an operation graph");
        break;
    case CUDNN_BACKEND_ENGINECFG_DESCRIPTOR:
        if (!attr_desc(d, CUDNN_ATTR_ENGINECFG_ENGINE, 0))
            st = fail(CUDNN_STATUS_BAD_PARAM, "engine configuration without an engine");
        break;
    case CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR: {
        plan p;
        int64_t engine = 0;
        const bdesc *graph = plan_graph(d, &engine);
        const battr *json = attr_find(d, CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION);
        if (graph) {
            recognise(graph, engine, &p);
            host = rv_cfg()->hw.cudnn_plan_build_ns;   /* a plan loaded from JSON costs no build here */
            what = "cuDNN execution plan build";
        } else if (json && json->type == CUDNN_TYPE_CHAR) {
            char buf[1200];
            snprintf(buf, sizeof buf, "%.*s", (int)(json->count < 1199 ? json->count : 1199), (const char *)json->data);
            if (!plan_from_json(buf, &p)) {
                st = fail(CUDNN_STATUS_BAD_PARAM, "execution plan from an unknown JSON representation");
                break;
            }
        } else {
            st = fail(CUDNN_STATUS_BAD_PARAM, "execution plan without an engine configuration");
            break;
        }
        free(d->plan);
        d->plan = malloc(sizeof *d->plan);
        *d->plan = p;
        if (log_on()) {
            char buf[1200];
            plan_json(&p, buf, sizeof buf);
            DLOG("plan %p: %s", (void *)d, buf);
        }
        break;
    }
    default:
        break;
    }
    if (!st) d->finalized = true;
out:
    pthread_mutex_unlock(&g_lock);
    DLOG("finalize %p type %d -> %d", descriptor, d ? d->type : -1, (int)st);
    if (!st && host > 0) rv_host_busy(host, what);   /* outside the lock: other handles go on */
    return st;
}

/* Enqueue a plan's work on the handle's stream. */
static cudnnStatus_t run_plan(struct cudnnContext *h, const plan *p, const char *who) {
    rv_stream *s = rv_stream_resolve(h->stream, false);
    if (!s) return fail(CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH, "%s: invalid stream %p", who, h->stream);
    rv_op op = p->op;
    op.device = rv_stream_device(s);
    rv_ns dur = -1;
    if (p->priced) {
        rv_op price = p->price_op;
        price.device = op.device;
        dur = (rv_ns)(rv_predict(&price) * p->scale);
    }
    rv_enqueue(s, &op, dur, NULL);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBackendExecute(cudnnHandle_t handle, cudnnBackendDescriptor_t plan_desc,
                                  cudnnBackendDescriptor_t variant_pack) {
    API;
    (void)variant_pack;   /* device pointers: kernels are not computed */
    struct cudnnContext *h = handle_of(handle);
    if (!h) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendExecute: invalid handle");
    bdesc *d = desc_of(plan_desc);
    if (!d || d->type != CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR)
        return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendExecute: %p is not an execution plan", plan_desc);
    const plan *p = d->plan;
    if (!d->finalized || !p) return fail(CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED, "cudnnBackendExecute: plan not finalized");
    return run_plan(h, p, "cudnnBackendExecute");
}

cudnnStatus_t cudnnGetExecutionPlanWorkspaceSize(cudnnHandle_t handle, cudnnBackendDescriptor_t plan_desc,
                                                 cudnnBackendDescriptor_t variant_pack, size_t *size) {
    API;
    (void)handle; (void)plan_desc; (void)variant_pack;
    if (!size) return fail(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "cudnnGetExecutionPlanWorkspaceSize: size is NULL");
    *size = 0;
    return CUDNN_STATUS_SUCCESS;
}

/* ============================== legacy (descriptor) API ==============================
 * What torch still calls outside the graph API: batch normalization (cudnn_batch_norm), and the
 * v7 convolution path (TORCH_CUDNN_V8_API_DISABLED=1). Convolutions are priced as their implicit
 * GEMM like graph convolutions; batch norms are memory-bound kernels sized by their passes over x.
 * RNN, CTC loss and the spatial transformer stay stubs (NOT_SUPPORTED, named on first use). */

#define TENSOR_MAGIC 0x72764e54U
#define FILTER_MAGIC 0x72764e46U
#define CONV_MAGIC 0x72764e43U
#define ACT_MAGIC 0x72764e41U
#define DROPOUT_MAGIC 0x72764e44U
#define MAX_ND 8

struct cudnnTensorStruct { uint32_t magic; int dtype, nd; int dim[MAX_ND], stride[MAX_ND]; };
struct cudnnFilterStruct { uint32_t magic; int dtype, format, nd; int dim[MAX_ND]; };
struct cudnnConvolutionStruct {
    uint32_t magic;
    int nd;   /* spatial dims */
    int pad[MAX_ND], stride[MAX_ND], dilation[MAX_ND];
    int mode, dtype, groups, math;
};
struct cudnnActivationStruct { uint32_t magic; int mode, nan; double coef; };
struct cudnnDropoutStruct { uint32_t magic; float p; void *states; size_t size; unsigned long long seed; };

#define CHECK_DESC(d, M, who)                                                                 \
    do {                                                                                      \
        if (!(d) || (d)->magic != (M)) return fail(CUDNN_STATUS_BAD_PARAM, "%s: invalid descriptor", who); \
    } while (0)
#define CHECK_PTR(p, who)                                                                      \
    do {                                                                                       \
        if (!(p)) return fail(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "%s: NULL output", who);    \
    } while (0)

#define CREATE_DESTROY(T, S, M)                                                                \
    cudnnStatus_t cudnnCreate##T##Descriptor(cudnn##T##Descriptor_t *d) {                      \
        API;                                                                                   \
        CHECK_PTR(d, "cudnnCreate" #T "Descriptor");                                           \
        struct S *x = calloc(1, sizeof *x);                                                    \
        x->magic = M;                                                                          \
        *d = x;                                                                                \
        return CUDNN_STATUS_SUCCESS;                                                           \
    }                                                                                          \
    cudnnStatus_t cudnnDestroy##T##Descriptor(cudnn##T##Descriptor_t d) {                      \
        API;                                                                                   \
        if (!d) return CUDNN_STATUS_SUCCESS;                                                   \
        CHECK_DESC(d, M, "cudnnDestroy" #T "Descriptor");                                      \
        d->magic = 0;                                                                          \
        free(d);                                                                               \
        return CUDNN_STATUS_SUCCESS;                                                           \
    }

CREATE_DESTROY(Tensor, cudnnTensorStruct, TENSOR_MAGIC)
CREATE_DESTROY(Filter, cudnnFilterStruct, FILTER_MAGIC)
CREATE_DESTROY(Activation, cudnnActivationStruct, ACT_MAGIC)
CREATE_DESTROY(Dropout, cudnnDropoutStruct, DROPOUT_MAGIC)

cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *d) {
    API;
    CHECK_PTR(d, "cudnnCreateConvolutionDescriptor");
    struct cudnnConvolutionStruct *c = calloc(1, sizeof *c);
    c->magic = CONV_MAGIC;
    c->groups = 1;
    c->mode = CUDNN_CROSS_CORRELATION;
    c->dtype = CUDNN_DATA_FLOAT;
    c->math = CUDNN_DEFAULT_MATH;
    *d = c;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) {
    API;
    if (!d) return CUDNN_STATUS_SUCCESS;
    CHECK_DESC(d, CONV_MAGIC, "cudnnDestroyConvolutionDescriptor");
    d->magic = 0;
    free(d);
    return CUDNN_STATUS_SUCCESS;
}

/* ---- tensors ---- */

static cudnnStatus_t tensor_set(cudnnTensorDescriptor_t t, int dtype, int nd, const int *dim, const int *stride,
                                const char *who) {
    CHECK_DESC(t, TENSOR_MAGIC, who);
    if (nd < 1 || nd > MAX_ND || !dim) return fail(CUDNN_STATUS_BAD_PARAM, "%s: %d dimensions", who, nd);
    for (int i = 0; i < nd; i++)
        if (dim[i] < 1) return fail(CUDNN_STATUS_BAD_PARAM, "%s: dimension %d is %d", who, i, dim[i]);
    t->dtype = dtype;
    t->nd = nd;
    for (int i = nd - 1, s = 1; i >= 0; i--) {
        t->dim[i] = dim[i];
        t->stride[i] = stride ? stride[i] : s;
        s *= dim[i];
    }
    return CUDNN_STATUS_SUCCESS;
}

/* Packed strides of an NCHW- or NHWC-ordered tensor given in NCHW dimension order. */
static void packed_strides(cudnnTensorFormat_t format, int nd, const int *dim, int *stride) {
    if (format == CUDNN_TENSOR_NHWC && nd >= 3) {
        int s = 1;
        stride[1] = s;
        s *= dim[1];
        for (int i = nd - 1; i >= 2; i--) { stride[i] = s; s *= dim[i]; }
        stride[0] = s;
    } else {
        for (int i = nd - 1, s = 1; i >= 0; i--) { stride[i] = s; s *= dim[i]; }
    }
}

cudnnStatus_t cudnnSetTensorNdDescriptor(cudnnTensorDescriptor_t t, cudnnDataType_t dtype, int nd, const int dim[],
                                         const int stride[]) {
    API;
    return tensor_set(t, dtype, nd, dim, stride, "cudnnSetTensorNdDescriptor");
}

cudnnStatus_t cudnnSetTensorNdDescriptorEx(cudnnTensorDescriptor_t t, cudnnTensorFormat_t format,
                                           cudnnDataType_t dtype, int nd, const int dim[]) {
    API;
    if (nd < 1 || nd > MAX_ND || !dim) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetTensorNdDescriptorEx: %d dims", nd);
    int stride[MAX_ND];
    packed_strides(format, nd, dim, stride);
    return tensor_set(t, dtype, nd, dim, stride, "cudnnSetTensorNdDescriptorEx");
}

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t t, cudnnTensorFormat_t format, cudnnDataType_t dtype,
                                         int n, int c, int h, int w) {
    API;
    int dim[4] = {n, c, h, w}, stride[4];
    packed_strides(format, 4, dim, stride);
    return tensor_set(t, dtype, 4, dim, stride, "cudnnSetTensor4dDescriptor");
}

cudnnStatus_t cudnnSetTensor4dDescriptorEx(cudnnTensorDescriptor_t t, cudnnDataType_t dtype, int n, int c, int h,
                                           int w, int ns, int cs, int hs, int ws) {
    API;
    int dim[4] = {n, c, h, w}, stride[4] = {ns, cs, hs, ws};
    return tensor_set(t, dtype, 4, dim, stride, "cudnnSetTensor4dDescriptorEx");
}

cudnnStatus_t cudnnGetTensorNdDescriptor(const cudnnTensorDescriptor_t t, int requested, cudnnDataType_t *dtype,
                                         int *nd, int dim[], int stride[]) {
    API;
    CHECK_DESC(t, TENSOR_MAGIC, "cudnnGetTensorNdDescriptor");
    if (dtype) *dtype = t->dtype;
    if (nd) *nd = t->nd;
    for (int i = 0; i < requested && i < t->nd; i++) {
        if (dim) dim[i] = t->dim[i];
        if (stride) stride[i] = t->stride[i];
    }
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetTensor4dDescriptor(const cudnnTensorDescriptor_t t, cudnnDataType_t *dtype, int *n, int *c,
                                         int *h, int *w, int *ns, int *cs, int *hs, int *ws) {
    API;
    CHECK_DESC(t, TENSOR_MAGIC, "cudnnGetTensor4dDescriptor");
    int *out[8] = {n, c, h, w, ns, cs, hs, ws};
    for (int i = 0; i < 4; i++) {
        if (out[i]) *out[i] = i < t->nd ? t->dim[i] : 1;
        if (out[4 + i]) *out[4 + i] = i < t->nd ? t->stride[i] : 1;
    }
    if (dtype) *dtype = t->dtype;
    return CUDNN_STATUS_SUCCESS;
}

static int64_t tensor_bytes(const struct cudnnTensorStruct *t) {
    if (!t || t->magic != TENSOR_MAGIC) return 0;
    int64_t span = 1;   /* the extent the strides cover */
    for (int i = 0; i < t->nd; i++) span += (int64_t)(t->dim[i] - 1) * t->stride[i];
    return span * dtype_bytes(t->dtype);
}

cudnnStatus_t cudnnGetTensorSizeInBytes(const cudnnTensorDescriptor_t t, size_t *size) {
    API;
    CHECK_DESC(t, TENSOR_MAGIC, "cudnnGetTensorSizeInBytes");
    CHECK_PTR(size, "cudnnGetTensorSizeInBytes");
    *size = (size_t)tensor_bytes(t);
    return CUDNN_STATUS_SUCCESS;
}

/* ---- filters, convolutions, activations, dropout ---- */

cudnnStatus_t cudnnSetFilterNdDescriptor(cudnnFilterDescriptor_t f, cudnnDataType_t dtype, cudnnTensorFormat_t format,
                                         int nd, const int dim[]) {
    API;
    CHECK_DESC(f, FILTER_MAGIC, "cudnnSetFilterNdDescriptor");
    if (nd < 1 || nd > MAX_ND || !dim) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetFilterNdDescriptor: %d dims", nd);
    f->dtype = dtype;
    f->format = format;
    f->nd = nd;
    memcpy(f->dim, dim, nd * sizeof *dim);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t f, cudnnDataType_t dtype, cudnnTensorFormat_t format,
                                         int k, int c, int h, int w) {
    API;
    CHECK_DESC(f, FILTER_MAGIC, "cudnnSetFilter4dDescriptor");
    f->dtype = dtype;
    f->format = format;
    f->nd = 4;
    int dim[4] = {k, c, h, w};
    memcpy(f->dim, dim, sizeof dim);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetFilterNdDescriptor(const cudnnFilterDescriptor_t f, int requested, cudnnDataType_t *dtype,
                                         cudnnTensorFormat_t *format, int *nd, int dim[]) {
    API;
    CHECK_DESC(f, FILTER_MAGIC, "cudnnGetFilterNdDescriptor");
    if (dtype) *dtype = f->dtype;
    if (format) *format = f->format;
    if (nd) *nd = f->nd;
    for (int i = 0; i < requested && i < f->nd && dim; i++) dim[i] = f->dim[i];
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetFilterSizeInBytes(const cudnnFilterDescriptor_t f, size_t *size) {
    API;
    CHECK_DESC(f, FILTER_MAGIC, "cudnnGetFilterSizeInBytes");
    CHECK_PTR(size, "cudnnGetFilterSizeInBytes");
    size_t n = 1;
    for (int i = 0; i < f->nd; i++) n *= (size_t)f->dim[i];
    *size = n * dtype_bytes(f->dtype);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionNdDescriptor(cudnnConvolutionDescriptor_t c, int n, const int pad[], const int stride[],
                                              const int dilation[], cudnnConvolutionMode_t mode,
                                              cudnnDataType_t dtype) {
    API;
    CHECK_DESC(c, CONV_MAGIC, "cudnnSetConvolutionNdDescriptor");
    if (n < 1 || n > MAX_ND) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetConvolutionNdDescriptor: %d dims", n);
    c->nd = n;
    for (int i = 0; i < n; i++) {
        c->pad[i] = pad ? pad[i] : 0;
        c->stride[i] = stride ? stride[i] : 1;
        c->dilation[i] = dilation ? dilation[i] : 1;
    }
    c->mode = mode;
    c->dtype = dtype;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t c, int pad_h, int pad_w, int u, int v,
                                              int dil_h, int dil_w, cudnnConvolutionMode_t mode, cudnnDataType_t dtype) {
    API;
    CHECK_DESC(c, CONV_MAGIC, "cudnnSetConvolution2dDescriptor");
    c->nd = 2;
    c->pad[0] = pad_h; c->pad[1] = pad_w;
    c->stride[0] = u; c->stride[1] = v;
    c->dilation[0] = dil_h; c->dilation[1] = dil_w;
    c->mode = mode;
    c->dtype = dtype;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t c, int groups) {
    API;
    CHECK_DESC(c, CONV_MAGIC, "cudnnSetConvolutionGroupCount");
    if (groups < 1) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetConvolutionGroupCount: %d groups", groups);
    c->groups = groups;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionGroupCount(cudnnConvolutionDescriptor_t c, int *groups) {
    API;
    CHECK_DESC(c, CONV_MAGIC, "cudnnGetConvolutionGroupCount");
    CHECK_PTR(groups, "cudnnGetConvolutionGroupCount");
    *groups = c->groups;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t c, cudnnMathType_t math) {
    API;
    CHECK_DESC(c, CONV_MAGIC, "cudnnSetConvolutionMathType");
    c->math = math;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionMathType(cudnnConvolutionDescriptor_t c, cudnnMathType_t *math) {
    API;
    CHECK_DESC(c, CONV_MAGIC, "cudnnGetConvolutionMathType");
    CHECK_PTR(math, "cudnnGetConvolutionMathType");
    *math = c->math;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionNdForwardOutputDim(const cudnnConvolutionDescriptor_t c,
                                                    const cudnnTensorDescriptor_t x, const cudnnFilterDescriptor_t w,
                                                    int nd, int out[]) {
    API;
    CHECK_DESC(c, CONV_MAGIC, "cudnnGetConvolutionNdForwardOutputDim");
    CHECK_DESC(x, TENSOR_MAGIC, "cudnnGetConvolutionNdForwardOutputDim");
    CHECK_DESC(w, FILTER_MAGIC, "cudnnGetConvolutionNdForwardOutputDim");
    if (!out || nd != x->nd || w->nd != x->nd || c->nd != nd - 2)
        return fail(CUDNN_STATUS_BAD_PARAM, "cudnnGetConvolutionNdForwardOutputDim: mismatched dimensions");
    out[0] = x->dim[0];
    out[1] = w->dim[0];
    for (int i = 2; i < nd; i++) {
        int span = (w->dim[i] - 1) * c->dilation[i - 2] + 1;
        out[i] = (x->dim[i] + 2 * c->pad[i - 2] - span) / c->stride[i - 2] + 1;
    }
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetActivationDescriptor(cudnnActivationDescriptor_t a, cudnnActivationMode_t mode,
                                           cudnnNanPropagation_t nan, double coef) {
    API;
    CHECK_DESC(a, ACT_MAGIC, "cudnnSetActivationDescriptor");
    a->mode = mode;
    a->nan = nan;
    a->coef = coef;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetActivationDescriptor(const cudnnActivationDescriptor_t a, cudnnActivationMode_t *mode,
                                           cudnnNanPropagation_t *nan, double *coef) {
    API;
    CHECK_DESC(a, ACT_MAGIC, "cudnnGetActivationDescriptor");
    if (mode) *mode = a->mode;
    if (nan) *nan = a->nan;
    if (coef) *coef = a->coef;
    return CUDNN_STATUS_SUCCESS;
}

/* Random-number state for dropout: a curand state per thread of a full device. */
cudnnStatus_t cudnnDropoutGetStatesSize(cudnnHandle_t handle, size_t *size) {
    API;
    (void)handle;
    CHECK_PTR(size, "cudnnDropoutGetStatesSize");
    int sms = 132;
    rv_hw_attr(16 /* cudaDevAttrMultiProcessorCount */, &sms);
    *size = (size_t)sms * 2048 * 48;
    return CUDNN_STATUS_SUCCESS;
}

static cudnnStatus_t dropout_set(cudnnDropoutDescriptor_t d, float p, void *states, size_t size,
                                 unsigned long long seed, const char *who) {
    CHECK_DESC(d, DROPOUT_MAGIC, who);
    d->p = p;
    d->states = states;
    d->size = size;
    d->seed = seed;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetDropoutDescriptor(cudnnDropoutDescriptor_t d, cudnnHandle_t handle, float p, void *states,
                                        size_t size, unsigned long long seed) {
    API;
    struct cudnnContext *h = handle_of(handle);
    cudnnStatus_t st = dropout_set(d, p, states, size, seed, "cudnnSetDropoutDescriptor");
    if (st || !h || !states || !size) return st;
    /* initialising the states is a kernel: one pass over them */
    plan k;
    memset(&k, 0, sizeof k);
    rv_op_init(&k.op, RV_OP_KERNEL, 0, "cudnn:dropout_init_states");
    int64_t threads = (int64_t)(size + 7) / 8;
    k.op.u.kernel.grid[0] = (threads + 255) / 256;
    k.op.u.kernel.grid[1] = k.op.u.kernel.grid[2] = 1;
    k.op.u.kernel.block[0] = 256;
    k.op.u.kernel.block[1] = k.op.u.kernel.block[2] = 1;
    return run_plan(h, &k, "cudnnSetDropoutDescriptor");
}

cudnnStatus_t cudnnRestoreDropoutDescriptor(cudnnDropoutDescriptor_t d, cudnnHandle_t handle, float p, void *states,
                                            size_t size, unsigned long long seed) {
    API;
    (void)handle;
    return dropout_set(d, p, states, size, seed, "cudnnRestoreDropoutDescriptor");
}

/* ---- work ---- */

static cudnnStatus_t run_kernel(cudnnHandle_t handle, const char *name, int64_t bytes, const char *who) {
    struct cudnnContext *h = handle_of(handle);
    if (!h) return fail(CUDNN_STATUS_BAD_PARAM, "%s: invalid handle", who);
    plan k;
    memset(&k, 0, sizeof k);
    rv_op_init(&k.op, RV_OP_KERNEL, 0, name);
    int64_t threads = (bytes + 7) / 8, grid = (threads + 255) / 256;
    k.op.u.kernel.grid[0] = grid > 0 ? grid : 1;
    k.op.u.kernel.grid[1] = k.op.u.kernel.grid[2] = 1;
    k.op.u.kernel.block[0] = 256;
    k.op.u.kernel.block[1] = k.op.u.kernel.block[2] = 1;
    return run_plan(h, &k, who);
}

/* Convolutions of the v7 API as implicit GEMMs; f32 data runs on TF32 tensor cores unless the
 * descriptor asks for FMA math (what torch sets when allow_tf32 is off). */
static cudnnStatus_t legacy_conv(cudnnHandle_t handle, const char *what, const struct cudnnTensorStruct *x,
                                 const struct cudnnFilterStruct *w, const struct cudnnConvolutionStruct *c,
                                 const struct cudnnTensorStruct *y, const char *who) {
    struct cudnnContext *h = handle_of(handle);
    if (!h) return fail(CUDNN_STATUS_BAD_PARAM, "%s: invalid handle", who);
    CHECK_DESC(x, TENSOR_MAGIC, who);
    CHECK_DESC(w, FILTER_MAGIC, who);
    CHECK_DESC(c, CONV_MAGIC, who);
    CHECK_DESC(y, TENSOR_MAGIC, who);
    int64_t xd[MAX_ND], wd[MAX_ND], yd[MAX_ND];
    for (int i = 0; i < x->nd; i++) xd[i] = x->dim[i];
    for (int i = 0; i < w->nd; i++) wd[i] = w->dim[i];
    for (int i = 0; i < y->nd; i++) yd[i] = y->dim[i];
    plan p;
    memset(&p, 0, sizeof p);
    if (!conv_gemm(&p, what, x->nd, xd, w->nd, wd, y->nd, yd, x->dtype, w->dtype, y->dtype, c->dtype, c->groups))
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: mismatched tensor dimensions", who);
    if (!strcmp(p.op.u.gemm.compute, "f32") && !strcmp(p.op.u.gemm.dtype_a, "f32") && c->math != CUDNN_FMA_MATH)
        p.op.u.gemm.compute = p.price_op.u.gemm.compute = "f32_fast_tf32";
    return run_plan(h, &p, who);
}

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t xDesc,
                                      const void *x, const cudnnFilterDescriptor_t wDesc, const void *w,
                                      const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionFwdAlgo_t algo,
                                      void *workSpace, size_t workSpaceSizeInBytes, const void *beta,
                                      const cudnnTensorDescriptor_t yDesc, void *y) {
    API;
    (void)alpha; (void)x; (void)w; (void)algo; (void)workSpace; (void)workSpaceSizeInBytes; (void)beta; (void)y;
    return legacy_conv(handle, "conv_fwd", xDesc, wDesc, convDesc, yDesc, "cudnnConvolutionForward");
}

cudnnStatus_t cudnnConvolutionBiasActivationForward(
    cudnnHandle_t handle, const void *alpha1, const cudnnTensorDescriptor_t xDesc, const void *x,
    const cudnnFilterDescriptor_t wDesc, const void *w, const cudnnConvolutionDescriptor_t convDesc,
    cudnnConvolutionFwdAlgo_t algo, void *workSpace, size_t workSpaceSizeInBytes, const void *alpha2,
    const cudnnTensorDescriptor_t zDesc, const void *z, const cudnnTensorDescriptor_t biasDesc, const void *bias,
    const cudnnActivationDescriptor_t activationDesc, const cudnnTensorDescriptor_t yDesc, void *y) {
    API;
    (void)alpha1; (void)x; (void)w; (void)algo; (void)workSpace; (void)workSpaceSizeInBytes; (void)alpha2;
    (void)zDesc; (void)z; (void)biasDesc; (void)bias; (void)activationDesc; (void)y;
    return legacy_conv(handle, "conv_fwd", xDesc, wDesc, convDesc, yDesc, "cudnnConvolutionBiasActivationForward");
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void *alpha, const cudnnFilterDescriptor_t wDesc,
                                           const void *w, const cudnnTensorDescriptor_t dyDesc, const void *dy,
                                           const cudnnConvolutionDescriptor_t convDesc,
                                           cudnnConvolutionBwdDataAlgo_t algo, void *workSpace,
                                           size_t workSpaceSizeInBytes, const void *beta,
                                           const cudnnTensorDescriptor_t dxDesc, void *dx) {
    API;
    (void)alpha; (void)w; (void)dy; (void)algo; (void)workSpace; (void)workSpaceSizeInBytes; (void)beta; (void)dx;
    return legacy_conv(handle, "conv_dgrad", dxDesc, wDesc, convDesc, dyDesc, "cudnnConvolutionBackwardData");
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void *alpha,
                                             const cudnnTensorDescriptor_t xDesc, const void *x,
                                             const cudnnTensorDescriptor_t dyDesc, const void *dy,
                                             const cudnnConvolutionDescriptor_t convDesc,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void *workSpace,
                                             size_t workSpaceSizeInBytes, const void *beta,
                                             const cudnnFilterDescriptor_t dwDesc, void *dw) {
    API;
    (void)alpha; (void)x; (void)dy; (void)algo; (void)workSpace; (void)workSpaceSizeInBytes; (void)beta; (void)dw;
    return legacy_conv(handle, "conv_wgrad", xDesc, dwDesc, convDesc, dyDesc, "cudnnConvolutionBackwardFilter");
}

/* Algorithm choice: one implicit-GEMM algorithm, no workspace. */
#define ALGO_QUERY(Perf, fn, algo_value, ...)                                                  \
    cudnnStatus_t fn(__VA_ARGS__) {                                                            \
        API;                                                                                   \
        if (returned) *returned = 0;                                                           \
        if (requested < 1 || !perf) return CUDNN_STATUS_SUCCESS;                               \
        memset(perf, 0, sizeof *perf);                                                         \
        perf->algo = algo_value;                                                               \
        perf->status = CUDNN_STATUS_SUCCESS;                                                   \
        perf->time = 0.01f;                                                                    \
        perf->memory = 0;                                                                      \
        perf->determinism = CUDNN_DETERMINISTIC;                                               \
        perf->mathType = convDesc && convDesc->magic == CONV_MAGIC ? convDesc->math : CUDNN_DEFAULT_MATH; \
        if (returned) *returned = 1;                                                           \
        return CUDNN_STATUS_SUCCESS;                                                           \
    }

ALGO_QUERY(Fwd, cudnnGetConvolutionForwardAlgorithm_v7, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
           cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc, const cudnnFilterDescriptor_t filterDesc,
           const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t destDesc, const int requested,
           int *returned, cudnnConvolutionFwdAlgoPerf_t *perf)
ALGO_QUERY(Fwd, cudnnFindConvolutionForwardAlgorithmEx, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
           cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnFilterDescriptor_t wDesc,
           const void *w, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t yDesc, void *y,
           const int requested, int *returned, cudnnConvolutionFwdAlgoPerf_t *perf, void *workSpace,
           size_t workSpaceSizeInBytes)
ALGO_QUERY(BwdData, cudnnGetConvolutionBackwardDataAlgorithm_v7, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
           cudnnHandle_t handle, const cudnnFilterDescriptor_t filterDesc, const cudnnTensorDescriptor_t diffDesc,
           const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t gradDesc, const int requested,
           int *returned, cudnnConvolutionBwdDataAlgoPerf_t *perf)
ALGO_QUERY(BwdData, cudnnFindConvolutionBackwardDataAlgorithmEx, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
           cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const void *w, const cudnnTensorDescriptor_t dyDesc,
           const void *dy, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t dxDesc, void *dx,
           const int requested, int *returned, cudnnConvolutionBwdDataAlgoPerf_t *perf, void *workSpace,
           size_t workSpaceSizeInBytes)
ALGO_QUERY(BwdFilter, cudnnGetConvolutionBackwardFilterAlgorithm_v7, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,
           cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc, const cudnnTensorDescriptor_t diffDesc,
           const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t gradDesc, const int requested,
           int *returned, cudnnConvolutionBwdFilterAlgoPerf_t *perf)
ALGO_QUERY(BwdFilter, cudnnFindConvolutionBackwardFilterAlgorithmEx, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,
           cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void *x,
           const cudnnTensorDescriptor_t dyDesc, const void *y, const cudnnConvolutionDescriptor_t convDesc,
           const cudnnFilterDescriptor_t dwDesc, void *dw, const int requested, int *returned,
           cudnnConvolutionBwdFilterAlgoPerf_t *perf, void *workSpace, size_t workSpaceSizeInBytes)

#define ALGO_MAX(fn)                                                                           \
    cudnnStatus_t fn(cudnnHandle_t handle, int *count) {                                       \
        API;                                                                                   \
        (void)handle;                                                                          \
        CHECK_PTR(count, #fn);                                                                 \
        *count = 1;                                                                            \
        return CUDNN_STATUS_SUCCESS;                                                           \
    }
ALGO_MAX(cudnnGetConvolutionForwardAlgorithmMaxCount)
ALGO_MAX(cudnnGetConvolutionBackwardDataAlgorithmMaxCount)
ALGO_MAX(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount)

#define ZERO_SIZE(fn, ...)                                                                     \
    cudnnStatus_t fn(__VA_ARGS__, size_t *size) {                                              \
        API;                                                                                   \
        CHECK_PTR(size, #fn);                                                                  \
        *size = 0;                                                                             \
        return CUDNN_STATUS_SUCCESS;                                                           \
    }
ZERO_SIZE(cudnnGetConvolutionForwardWorkspaceSize, cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
          const cudnnFilterDescriptor_t wDesc, const cudnnConvolutionDescriptor_t convDesc,
          const cudnnTensorDescriptor_t yDesc, cudnnConvolutionFwdAlgo_t algo)
ZERO_SIZE(cudnnGetConvolutionBackwardDataWorkspaceSize, cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc,
          const cudnnTensorDescriptor_t dyDesc, const cudnnConvolutionDescriptor_t convDesc,
          const cudnnTensorDescriptor_t dxDesc, cudnnConvolutionBwdDataAlgo_t algo)
ZERO_SIZE(cudnnGetConvolutionBackwardFilterWorkspaceSize, cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
          const cudnnTensorDescriptor_t dyDesc, const cudnnConvolutionDescriptor_t convDesc,
          const cudnnFilterDescriptor_t gradDesc, cudnnConvolutionBwdFilterAlgo_t algo)
ZERO_SIZE(cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize, cudnnHandle_t handle, cudnnBatchNormMode_t mode,
          cudnnBatchNormOps_t bnOps, const cudnnTensorDescriptor_t xDesc, const cudnnTensorDescriptor_t zDesc,
          const cudnnTensorDescriptor_t yDesc, const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc,
          const cudnnActivationDescriptor_t activationDesc)
ZERO_SIZE(cudnnGetBatchNormalizationBackwardExWorkspaceSize, cudnnHandle_t handle, cudnnBatchNormMode_t mode,
          cudnnBatchNormOps_t bnOps, const cudnnTensorDescriptor_t xDesc, const cudnnTensorDescriptor_t yDesc,
          const cudnnTensorDescriptor_t dyDesc, const cudnnTensorDescriptor_t dzDesc,
          const cudnnTensorDescriptor_t dxDesc, const cudnnTensorDescriptor_t dBnScaleBiasDesc,
          const cudnnActivationDescriptor_t activationDesc)
ZERO_SIZE(cudnnGetBatchNormalizationTrainingExReserveSpaceSize, cudnnHandle_t handle, cudnnBatchNormMode_t mode,
          cudnnBatchNormOps_t bnOps, const cudnnActivationDescriptor_t activationDesc,
          const cudnnTensorDescriptor_t xDesc)

/* ---- batch normalization: memory-bound passes over x ---- */

cudnnStatus_t cudnnDeriveBNTensorDescriptor(cudnnTensorDescriptor_t derived, const cudnnTensorDescriptor_t x,
                                            cudnnBatchNormMode_t mode) {
    API;
    CHECK_DESC(x, TENSOR_MAGIC, "cudnnDeriveBNTensorDescriptor");
    int dim[MAX_ND];
    for (int i = 0; i < x->nd; i++)
        dim[i] = i == 0 ? 1 : (i == 1 || mode == CUDNN_BATCHNORM_PER_ACTIVATION) ? x->dim[i] : 1;
    return tensor_set(derived, x->dtype == CUDNN_DATA_DOUBLE ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT, x->nd, dim, NULL,
                      "cudnnDeriveBNTensorDescriptor");
}

cudnnStatus_t cudnnBatchNormalizationForwardInference(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void *alpha, const void *beta,
    const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnTensorDescriptor_t yDesc, void *y,
    const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc, const void *bnScale, const void *bnBias,
    const void *estimatedMean, const void *estimatedVariance, double epsilon) {
    API;
    (void)mode; (void)alpha; (void)beta; (void)x; (void)y; (void)bnScaleBiasMeanVarDesc; (void)bnScale; (void)bnBias;
    (void)estimatedMean; (void)estimatedVariance; (void)epsilon;
    /* read x, write y */
    return run_kernel(handle, "cudnn:batchnorm_fwd_inference", tensor_bytes(xDesc) + tensor_bytes(yDesc),
                      "cudnnBatchNormalizationForwardInference");
}

cudnnStatus_t cudnnBatchNormalizationForwardTraining(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void *alpha, const void *beta,
    const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnTensorDescriptor_t yDesc, void *y,
    const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc, const void *bnScale, const void *bnBias,
    double exponentialAverageFactor, void *resultRunningMean, void *resultRunningVariance, double epsilon,
    void *resultSaveMean, void *resultSaveInvVariance) {
    API;
    (void)mode; (void)alpha; (void)beta; (void)x; (void)y; (void)bnScaleBiasMeanVarDesc; (void)bnScale; (void)bnBias;
    (void)exponentialAverageFactor; (void)resultRunningMean; (void)resultRunningVariance; (void)epsilon;
    (void)resultSaveMean; (void)resultSaveInvVariance;
    /* statistics pass over x, then read x, write y */
    return run_kernel(handle, "cudnn:batchnorm_fwd_training", 2 * tensor_bytes(xDesc) + tensor_bytes(yDesc),
                      "cudnnBatchNormalizationForwardTraining");
}

cudnnStatus_t cudnnBatchNormalizationForwardTrainingEx(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps, const void *alpha, const void *beta,
    const cudnnTensorDescriptor_t xDesc, const void *xData, const cudnnTensorDescriptor_t zDesc, const void *zData,
    const cudnnTensorDescriptor_t yDesc, void *yData, const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc,
    const void *bnScale, const void *bnBias, double exponentialAverageFactor, void *resultRunningMean,
    void *resultRunningVariance, double epsilon, void *resultSaveMean, void *resultSaveInvVariance,
    cudnnActivationDescriptor_t activationDesc, void *workspace, size_t workSpaceSizeInBytes, void *reserveSpace,
    size_t reserveSpaceSizeInBytes) {
    API;
    (void)mode; (void)bnOps; (void)alpha; (void)beta; (void)xData; (void)zData; (void)yData;
    (void)bnScaleBiasMeanVarDesc; (void)bnScale; (void)bnBias; (void)exponentialAverageFactor;
    (void)resultRunningMean; (void)resultRunningVariance; (void)epsilon; (void)resultSaveMean;
    (void)resultSaveInvVariance; (void)activationDesc; (void)workspace; (void)workSpaceSizeInBytes;
    (void)reserveSpace; (void)reserveSpaceSizeInBytes;
    int64_t z = zData && zDesc ? tensor_bytes(zDesc) : 0;
    return run_kernel(handle, "cudnn:batchnorm_fwd_training", 2 * tensor_bytes(xDesc) + z + tensor_bytes(yDesc),
                      "cudnnBatchNormalizationForwardTrainingEx");
}

cudnnStatus_t cudnnBatchNormalizationBackward(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void *alphaDataDiff, const void *betaDataDiff,
    const void *alphaParamDiff, const void *betaParamDiff, const cudnnTensorDescriptor_t xDesc, const void *x,
    const cudnnTensorDescriptor_t dyDesc, const void *dy, const cudnnTensorDescriptor_t dxDesc, void *dx,
    const cudnnTensorDescriptor_t dBnScaleBiasDesc, const void *bnScale, void *dBnScaleResult, void *dBnBiasResult,
    double epsilon, const void *savedMean, const void *savedInvVariance) {
    API;
    (void)mode; (void)alphaDataDiff; (void)betaDataDiff; (void)alphaParamDiff; (void)betaParamDiff; (void)x; (void)dy;
    (void)dx; (void)dBnScaleBiasDesc; (void)bnScale; (void)dBnScaleResult; (void)dBnBiasResult; (void)epsilon;
    (void)savedMean; (void)savedInvVariance;
    /* reductions over x and dy, then read both again and write dx */
    return run_kernel(handle, "cudnn:batchnorm_bwd", 2 * (tensor_bytes(xDesc) + tensor_bytes(dyDesc)) + tensor_bytes(dxDesc),
                      "cudnnBatchNormalizationBackward");
}

cudnnStatus_t cudnnBatchNormalizationBackwardEx(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps, const void *alphaDataDiff,
    const void *betaDataDiff, const void *alphaParamDiff, const void *betaParamDiff,
    const cudnnTensorDescriptor_t xDesc, const void *xData, const cudnnTensorDescriptor_t yDesc, const void *yData,
    const cudnnTensorDescriptor_t dyDesc, const void *dyData, const cudnnTensorDescriptor_t dzDesc, void *dzData,
    const cudnnTensorDescriptor_t dxDesc, void *dxData, const cudnnTensorDescriptor_t dBnScaleBiasDesc,
    const void *bnScaleData, const void *bnBiasData, void *dBnScaleData, void *dBnBiasData, double epsilon,
    const void *savedMean, const void *savedInvVariance, cudnnActivationDescriptor_t activationDesc, void *workSpace,
    size_t workSpaceSizeInBytes, void *reserveSpace, size_t reserveSpaceSizeInBytes) {
    API;
    (void)mode; (void)bnOps; (void)alphaDataDiff; (void)betaDataDiff; (void)alphaParamDiff; (void)betaParamDiff;
    (void)xData; (void)yDesc; (void)yData; (void)dyData; (void)dBnScaleBiasDesc; (void)bnScaleData; (void)bnBiasData;
    (void)dBnScaleData; (void)dBnBiasData; (void)epsilon; (void)savedMean; (void)savedInvVariance;
    (void)activationDesc; (void)workSpace; (void)workSpaceSizeInBytes; (void)reserveSpace;
    (void)reserveSpaceSizeInBytes; (void)dxData;
    int64_t dz = dzData && dzDesc ? tensor_bytes(dzDesc) : 0;
    return run_kernel(handle, "cudnn:batchnorm_bwd",
                      2 * (tensor_bytes(xDesc) + tensor_bytes(dyDesc)) + tensor_bytes(dxDesc) + dz,
                      "cudnnBatchNormalizationBackwardEx");
}
