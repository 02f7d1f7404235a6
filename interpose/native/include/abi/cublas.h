/* The part of the cuBLAS / cuBLASLt ABI that the fakes implement, declared here because a machine with
 * only `pip install --no-deps torch` has no cublas headers. Numeric values are copied from the real
 * cublas_api.h / cublasLt.h (cuBLAS 13.1); cudaDataType and libraryPropertyType come from
 * library_types.h, cudaStream_t from driver_types.h (both ship with the CUDA runtime headers).
 *
 * Shared by libcublas (cublas.c) and libcublasLt (cublasLt.c): torch hands its *cuBLAS* handle to
 * cuBLASLt calls (no cublasLtCreate), so both libraries allocate and check one handle struct.
 */
#ifndef RV_ABI_CUBLAS_H
#define RV_ABI_CUBLAS_H

#include "revati.h"

#include <driver_types.h>
#include <library_types.h>
#include <stdlib.h>
#include <string.h>

#define RV_STR_(x) #x
#define RV_STR(x) RV_STR_(x)
#define RV_CUBLAS_SONAME "libcublas.so." RV_STR(RV_CUDA_MAJOR)
#define RV_CUBLASLT_SONAME "libcublasLt.so." RV_STR(RV_CUDA_MAJOR)

/* The versions the fakes report: those of the cuBLAS wheel torch is built against (nvidia-cublas
 * 13.1.1.3 for CUDA 13; cuBLAS 12.9.1 for CUDA 12), and the CUDA runtime they were built with. */
#if RV_CUDA_MAJOR >= 13
#define RV_CUBLAS_VER_MAJOR 13
#define RV_CUBLAS_VER_MINOR 1
#define RV_CUBLAS_VER_PATCH 1
#define RV_CUBLAS_CUDART_VERSION 13000
#else
#define RV_CUBLAS_VER_MAJOR 12
#define RV_CUBLAS_VER_MINOR 9
#define RV_CUBLAS_VER_PATCH 1
#define RV_CUBLAS_CUDART_VERSION 12090
#endif
#define RV_CUBLAS_VERSION (RV_CUBLAS_VER_MAJOR * 10000 + RV_CUBLAS_VER_MINOR * 100 + RV_CUBLAS_VER_PATCH)

typedef enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_ARCH_MISMATCH = 8,
    CUBLAS_STATUS_MAPPING_ERROR = 11,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
    CUBLAS_STATUS_INTERNAL_ERROR = 14,
    CUBLAS_STATUS_NOT_SUPPORTED = 15,
    CUBLAS_STATUS_LICENSE_ERROR = 16
} cublasStatus_t;

typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2, CUBLAS_OP_CONJG = 3 } cublasOperation_t;
typedef enum { CUBLAS_POINTER_MODE_HOST = 0, CUBLAS_POINTER_MODE_DEVICE = 1 } cublasPointerMode_t;
typedef enum { CUBLAS_ATOMICS_NOT_ALLOWED = 0, CUBLAS_ATOMICS_ALLOWED = 1 } cublasAtomicsMode_t;
typedef enum { CUBLAS_FILL_MODE_LOWER = 0, CUBLAS_FILL_MODE_UPPER = 1, CUBLAS_FILL_MODE_FULL = 2 } cublasFillMode_t;
typedef enum {
    CUBLAS_DEFAULT_MATH = 0,
    CUBLAS_TENSOR_OP_MATH = 1,
    CUBLAS_PEDANTIC_MATH = 2,
    CUBLAS_TF32_TENSOR_OP_MATH = 3,
    CUBLAS_FP32_EMULATED_BF16X9_MATH = 4,
    CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH = 8,
    CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION = 16
} cublasMath_t;
typedef enum {
    CUBLAS_COMPUTE_16F = 64,
    CUBLAS_COMPUTE_16F_PEDANTIC = 65,
    CUBLAS_COMPUTE_32F = 68,
    CUBLAS_COMPUTE_32F_PEDANTIC = 69,
    CUBLAS_COMPUTE_64F = 70,
    CUBLAS_COMPUTE_64F_PEDANTIC = 71,
    CUBLAS_COMPUTE_32I = 72,
    CUBLAS_COMPUTE_32I_PEDANTIC = 73,
    CUBLAS_COMPUTE_32F_FAST_16F = 74,
    CUBLAS_COMPUTE_32F_FAST_16BF = 75,
    CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
    CUBLAS_COMPUTE_32F_EMULATED_16BFX9 = 78,
    CUBLAS_COMPUTE_64F_EMULATED_FIXEDPOINT = 79
} cublasComputeType_t;
typedef int cublasGemmAlgo_t;
typedef void (*cublasLogCallback)(const char *msg);

/* ---------- cuBLASLt ---------- */
typedef enum {
    CUBLASLT_MATRIX_LAYOUT_TYPE = 0,
    CUBLASLT_MATRIX_LAYOUT_ORDER = 1,
    CUBLASLT_MATRIX_LAYOUT_ROWS = 2,
    CUBLASLT_MATRIX_LAYOUT_COLS = 3,
    CUBLASLT_MATRIX_LAYOUT_LD = 4,
    CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT = 5,
    CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET = 6,
    CUBLASLT_MATRIX_LAYOUT_PLANE_OFFSET = 7,
    CUBLASLT_MATRIX_LAYOUT_BATCH_MODE = 8
} cublasLtMatrixLayoutAttribute_t;
typedef enum { CUBLASLT_ORDER_COL = 0, CUBLASLT_ORDER_ROW = 1 } cublasLtOrder_t;

typedef enum {
    CUBLASLT_MATMUL_DESC_COMPUTE_TYPE = 0,
    CUBLASLT_MATMUL_DESC_SCALE_TYPE = 1,
    CUBLASLT_MATMUL_DESC_POINTER_MODE = 2,
    CUBLASLT_MATMUL_DESC_TRANSA = 3,
    CUBLASLT_MATMUL_DESC_TRANSB = 4,
    CUBLASLT_MATMUL_DESC_TRANSC = 5,
    CUBLASLT_MATMUL_DESC_FILL_MODE = 6,
    CUBLASLT_MATMUL_DESC_EPILOGUE = 7,
    CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8,
    CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE = 10,
    CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER = 11,
    CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD = 12,
    CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_BATCH_STRIDE = 13,
    CUBLASLT_MATMUL_DESC_ALPHA_VECTOR_BATCH_STRIDE = 14,
    CUBLASLT_MATMUL_DESC_SM_COUNT_TARGET = 15,
    CUBLASLT_MATMUL_DESC_A_SCALE_POINTER = 17,
    CUBLASLT_MATMUL_DESC_B_SCALE_POINTER = 18,
    CUBLASLT_MATMUL_DESC_C_SCALE_POINTER = 19,
    CUBLASLT_MATMUL_DESC_D_SCALE_POINTER = 20,
    CUBLASLT_MATMUL_DESC_AMAX_D_POINTER = 21,
    CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE = 22,
    CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_SCALE_POINTER = 23,
    CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_AMAX_POINTER = 24,
    CUBLASLT_MATMUL_DESC_FAST_ACCUM = 25,
    CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE = 26,
    CUBLASLT_MATMUL_DESC_A_SCALE_MODE = 31,
    CUBLASLT_MATMUL_DESC_B_SCALE_MODE = 32,
    CUBLASLT_MATMUL_DESC_C_SCALE_MODE = 33,
    CUBLASLT_MATMUL_DESC_D_SCALE_MODE = 34,
    CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_SCALE_MODE = 35,
    CUBLASLT_MATMUL_DESC_D_OUT_SCALE_POINTER = 36,
    CUBLASLT_MATMUL_DESC_D_OUT_SCALE_MODE = 37,
    CUBLASLT_MATMUL_DESC_EMULATION_DESCRIPTOR = 38
} cublasLtMatmulDescAttributes_t;

typedef enum {
    CUBLASLT_EPILOGUE_DEFAULT = 1,
    CUBLASLT_EPILOGUE_RELU = 2,
    CUBLASLT_EPILOGUE_RELU_AUX = 2 | 128,
    CUBLASLT_EPILOGUE_BIAS = 4,
    CUBLASLT_EPILOGUE_RELU_BIAS = 2 | 4,
    CUBLASLT_EPILOGUE_RELU_AUX_BIAS = 2 | 128 | 4,
    CUBLASLT_EPILOGUE_DRELU = 8 | 128,
    CUBLASLT_EPILOGUE_DRELU_BGRAD = 8 | 128 | 16,
    CUBLASLT_EPILOGUE_GELU = 32,
    CUBLASLT_EPILOGUE_GELU_AUX = 32 | 128,
    CUBLASLT_EPILOGUE_GELU_BIAS = 32 | 4,
    CUBLASLT_EPILOGUE_GELU_AUX_BIAS = 32 | 128 | 4,
    CUBLASLT_EPILOGUE_DGELU = 64 | 128,
    CUBLASLT_EPILOGUE_DGELU_BGRAD = 64 | 128 | 16,
    CUBLASLT_EPILOGUE_BGRADA = 256,
    CUBLASLT_EPILOGUE_BGRADB = 512
} cublasLtEpilogue_t;

typedef enum {
    CUBLASLT_MATMUL_PREF_SEARCH_MODE = 0,
    CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1,
    CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK = 3,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8,
    CUBLASLT_MATMUL_PREF_MAX_WAVES_COUNT = 9,
    CUBLASLT_MATMUL_PREF_IMPL_MASK = 12
} cublasLtMatmulPreferenceAttributes_t;

typedef enum {
    CUBLASLT_ALGO_CAP_SPLITK_SUPPORT = 0,
    CUBLASLT_ALGO_CAP_REDUCTION_SCHEME_MASK = 1,
    CUBLASLT_ALGO_CAP_CTA_SWIZZLING_SUPPORT = 2,
    CUBLASLT_ALGO_CAP_STRIDED_BATCH_SUPPORT = 3,
    CUBLASLT_ALGO_CAP_OUT_OF_PLACE_RESULT_SUPPORT = 4,
    CUBLASLT_ALGO_CAP_UPLO_SUPPORT = 5,
    CUBLASLT_ALGO_CAP_TILE_IDS = 6,
    CUBLASLT_ALGO_CAP_CUSTOM_OPTION_MAX = 7,
    CUBLASLT_ALGO_CAP_CUSTOM_MEMORY_ORDER = 10,
    CUBLASLT_ALGO_CAP_POINTER_MODE_MASK = 11,
    CUBLASLT_ALGO_CAP_EPILOGUE_MASK = 12,
    CUBLASLT_ALGO_CAP_STAGES_IDS = 13,
    CUBLASLT_ALGO_CAP_LD_NEGATIVE = 14,
    CUBLASLT_ALGO_CAP_NUMERICAL_IMPL_FLAGS = 15,
    CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_A_BYTES = 16,
    CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_B_BYTES = 17,
    CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_C_BYTES = 18,
    CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_D_BYTES = 19,
    CUBLASLT_ALGO_CAP_POINTER_ARRAY_BATCH_SUPPORT = 21,
    CUBLASLT_ALGO_CAP_FLOATING_POINT_EMULATION_SUPPORT = 22
} cublasLtMatmulAlgoCapAttributes_t;

typedef enum {
    CUBLASLT_ALGO_CONFIG_ID = 0,
    CUBLASLT_ALGO_CONFIG_TILE_ID = 1,
    CUBLASLT_ALGO_CONFIG_SPLITK_NUM = 2,
    CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME = 3,
    CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING = 4,
    CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION = 5,
    CUBLASLT_ALGO_CONFIG_STAGES_ID = 6,
    CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID = 7,
    CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID = 8
} cublasLtMatmulAlgoConfigAttributes_t;

/* Caller-visible, semi-opaque structs: sizes must match the real ones (callers allocate them). */
typedef struct { uint64_t data[8]; } cublasLtMatmulAlgo_t;
typedef struct {
    cublasLtMatmulAlgo_t algo;
    size_t workspaceSize;
    cublasStatus_t state;
    float wavesCount;
    int reserved[4];
} cublasLtMatmulHeuristicResult_t;
typedef void (*cublasLtLoggerCallback_t)(int logLevel, const char *functionName, const char *message);

/* ---------- the one handle of both libraries ---------- */
#define RV_BLAS_MAGIC 0x7276424cU   /* "rvBL" */

typedef struct rv_blas_handle {
    uint32_t magic;
    int device;                 /* current device at creation, as cuBLAS binds it */
    cudaStream_t stream;        /* as set (NULL: the legacy default stream); resolved at each call */
    void *workspace;            /* cublasSetWorkspace: the caller's buffer */
    size_t workspace_size;
    void *default_workspace;    /* the pool cublasCreate allocates itself (device memory accounting) */
    int math_mode, pointer_mode, atomics_mode, sm_count_target;
} rv_blas_handle;
typedef rv_blas_handle *cublasHandle_t;
typedef rv_blas_handle *cublasLtHandle_t;

static inline rv_blas_handle *rv_blas_handle_new(void) {
    rv_blas_handle *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->magic = RV_BLAS_MAGIC;
    h->device = rv_current_device();
    return h;
}

static inline rv_blas_handle *rv_blas_handle_get(const void *p) {
    rv_blas_handle *h = (rv_blas_handle *)p;
    return h && h->magic == RV_BLAS_MAGIC ? h : NULL;
}

/* Either library may destroy a handle the other created. */
static inline void rv_blas_handle_free(rv_blas_handle *h) {
    if (h->default_workspace) rv_dev_free(h->default_workspace);
    h->magic = 0;
    free(h);
}

/* ---------- names, as the predictor protocol spells them ---------- */
static inline const char *rv_blas_dtype(int t) {
    switch (t) {
    case 0: return "f32";       case 1: return "f64";      case 2: return "f16";      case 3: return "i8";
    case 4: return "cf32";      case 5: return "cf64";     case 6: return "cf16";     case 7: return "ci8";
    case 8: return "u8";        case 9: return "cu8";      case 10: return "i32";     case 11: return "ci32";
    case 12: return "u32";      case 13: return "cu32";    case 14: return "bf16";    case 15: return "cbf16";
    case 16: return "i4";       case 17: return "ci4";     case 18: return "u4";      case 19: return "cu4";
    case 20: return "i16";      case 21: return "ci16";    case 22: return "u16";     case 23: return "cu16";
    case 24: return "i64";      case 25: return "ci64";    case 26: return "u64";     case 27: return "cu64";
    case 28: return "f8e4m3";   case 29: return "f8e5m2";  case 30: return "f8ue8m0"; case 31: return "f6e2m3";
    case 32: return "f6e3m2";   case 33: return "f4e2m1";
    default: return "unknown";
    }
}

static inline size_t rv_blas_dtype_bytes(int t) {
    switch (t) {
    case 1: case 4: case 24: case 26: case 11: case 13: return 8;
    case 5: case 25: case 27: return 16;
    case 0: case 10: case 12: case 6: case 15: case 21: case 23: return 4;
    case 2: case 14: case 20: case 22: case 7: case 9: return 2;
    default: return 1;
    }
}

static inline const char *rv_blas_compute(int c) {
    switch (c) {
    case CUBLAS_COMPUTE_16F: return "f16";
    case CUBLAS_COMPUTE_16F_PEDANTIC: return "f16_pedantic";
    case CUBLAS_COMPUTE_32F: return "f32";
    case CUBLAS_COMPUTE_32F_PEDANTIC: return "f32_pedantic";
    case CUBLAS_COMPUTE_32F_FAST_16F: return "f32_fast_f16";
    case CUBLAS_COMPUTE_32F_FAST_16BF: return "f32_fast_bf16";
    case CUBLAS_COMPUTE_32F_FAST_TF32: return "f32_fast_tf32";
    case CUBLAS_COMPUTE_32F_EMULATED_16BFX9: return "f32_emulated_bf16x9";
    case CUBLAS_COMPUTE_64F: return "f64";
    case CUBLAS_COMPUTE_64F_PEDANTIC: return "f64_pedantic";
    case CUBLAS_COMPUTE_64F_EMULATED_FIXEDPOINT: return "f64_emulated_fixedpoint";
    case CUBLAS_COMPUTE_32I: return "i32";
    case CUBLAS_COMPUTE_32I_PEDANTIC: return "i32_pedantic";
    /* legacy cudaDataType compute arguments (cublasGemmEx before CUDA 11, cublasDotEx) */
    case 0: return "f32";
    case 1: return "f64";
    case 2: return "f16";
    case 4: return "cf32";
    case 5: return "cf64";
    case 10: return "i32";
    case 14: return "bf16";
    default: return "unknown";
    }
}

static inline const char *rv_blas_status_name(int s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "unrecognized status";
    }
}

/* The real library's texts (read from cuBLAS 13.1 on an H200). */
static inline const char *rv_blas_status_string(int s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an unsupported value or parameter was passed to the function";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "the function requires an architectural feature absent from the device";
    case CUBLAS_STATUS_MAPPING_ERROR: return "an access to GPU memory space failed";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the function failed to launch on the GPU";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "an internal operation failed";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the requested functionality is not supported";
    case CUBLAS_STATUS_LICENSE_ERROR: return "the license check failed";
    default: return "unrecognized status";
    }
}

/* ---------- recording one GEMM ----------
 * Arguments describe cuBLAS's column-major problem: D[m x n] = op(A)[m x k] . op(B)[k x n], batch times.
 * The op records the product as a row-major (C-order) caller such as torch or numpy sees it: torch
 * computes C = A.B on row-major tensors by asking column-major cuBLAS for C^T = B^T.A^T, so the
 * recorded M = cuBLAS n, N = cuBLAS m, K = k, and operand A is cuBLAS's B (with its transpose flag).
 * Thus `x @ w` with x [64,128] and w [128,32] records (m, n, k) = (64, 32, 128), and a bias vector
 * has N entries. out_row_major: D itself is stored row-major (cuBLASLt CUBLASLT_ORDER_ROW), so the
 * problem is already in that sense and is recorded unswapped. */
typedef struct rv_blas_gemm {
    int64_t m, n, k, batch;
    int trans_a, trans_b;          /* cublasOperation_t of cuBLAS's A and B */
    const char *dtype_a, *dtype_b, *dtype_c, *compute, *epilogue;
    bool out_row_major;
} rv_blas_gemm;

static inline cublasStatus_t rv_blas_record(const char *lib, cudaStream_t stream, const rv_blas_gemm *g,
                                            rv_stream **out_stream) {
    rv_stream *s = rv_stream_resolve(stream, false);
    if (!s) {
        rv_log("%s: invalid stream %p", lib, (void *)stream);
        return CUBLAS_STATUS_EXECUTION_FAILED;
    }
    if (out_stream) *out_stream = s;
    if (g->m == 0 || g->n == 0 || g->batch == 0) return CUBLAS_STATUS_SUCCESS;   /* quick return, no kernel */
    rv_op op;
    rv_op_init(&op, RV_OP_GEMM, rv_stream_device(s), lib);
    bool swap = !g->out_row_major;
    op.u.gemm.m = swap ? g->n : g->m;
    op.u.gemm.n = swap ? g->m : g->n;
    op.u.gemm.k = g->k;
    op.u.gemm.batch = g->batch;
    op.u.gemm.trans_a = (swap ? g->trans_b : g->trans_a) != CUBLAS_OP_N;
    op.u.gemm.trans_b = (swap ? g->trans_a : g->trans_b) != CUBLAS_OP_N;
    op.u.gemm.dtype_a = swap ? g->dtype_b : g->dtype_a;
    op.u.gemm.dtype_b = swap ? g->dtype_a : g->dtype_b;
    op.u.gemm.dtype_c = g->dtype_c;
    op.u.gemm.compute = g->compute;
    op.u.gemm.epilogue = g->epilogue ? g->epilogue : "none";
    rv_enqueue(s, &op, -1, NULL);
    return CUBLAS_STATUS_SUCCESS;
}

/* cublasGetProperty and cublasLtGetProperty: the same library version. */
static inline cublasStatus_t rv_cublas_property(libraryPropertyType type, int *value) {
    if (!value) return CUBLAS_STATUS_INVALID_VALUE;
    switch (type) {
    case MAJOR_VERSION: *value = RV_CUBLAS_VER_MAJOR; break;
    case MINOR_VERSION: *value = RV_CUBLAS_VER_MINOR; break;
    case PATCH_LEVEL: *value = RV_CUBLAS_VER_PATCH; break;
    default: return CUBLAS_STATUS_INVALID_VALUE;
    }
    return CUBLAS_STATUS_SUCCESS;
}

#endif
