/* Fake cuBLAS: handle state and the GEMM family torch calls, recorded as exact GEMM operations on the
 * handle's stream (predicted, scheduled in virtual time, captured into graphs by the core). Outputs are
 * not computed (split-state memory). Every other export is a generated counting stub.
 *
 * What torch 2.x calls (libtorch_cuda imports, confirmed with cuBLAS API logging on an H200):
 * Create/SetStream/SetWorkspace/SetMathMode/GetMathMode around every op; bf16/f16 mm -> GemmEx,
 * bmm -> GemmStridedBatchedEx, f32 -> Sgemm, f64 -> Dgemm, complex -> Cgemm/Zgemm, mv -> Sgemv,
 * dot -> Get/SetPointerMode + Sdot/DotEx. Linear with bias goes to cuBLASLt (cublasLt.c).
 */
#define _GNU_SOURCE
#include "abi/cublas.h"

#include <stdio.h>

#define LIB RV_CUBLAS_SONAME
#define API() RV_API(LIB)
#define HANDLE(h)                                              \
    rv_blas_handle *H = rv_blas_handle_get(h);                 \
    if (!H) return CUBLAS_STATUS_NOT_INITIALIZED

/* The default workspace pool cublasCreate allocates on the device: 64 MiB on Hopper and later
 * (measured with cudaMemGetInfo around cublasCreate, cuBLAS 13.1 on an H200), 4 MiB before (the
 * documented recommendation; not measured), or what CUBLAS_WORKSPACE_CONFIG=:SIZE_KiB:COUNT[:...]
 * asks for (torch's deterministic mode documents it). Charging it keeps cudaMemGetInfo as on the GPU. */
static size_t default_workspace_size(void) {
    const char *cfg = getenv("CUBLAS_WORKSPACE_CONFIG");
    if (cfg && *cfg) {
        size_t total = 0;
        unsigned long kib, count;
        int used;
        for (const char *p = cfg; sscanf(p, ":%lu:%lu%n", &kib, &count, &used) == 2; p += used)
            total += (size_t)kib * 1024 * count;
        if (total) return total;
    }
    int major = 0;
    if (rv_hw_attr(75 /* cudaDevAttrComputeCapabilityMajor */, &major) != 0) major = 9;
    return major >= 9 ? (64u << 20) : (4u << 20);
}

/* ---------- handle ---------- */
cublasStatus_t cublasCreate_v2(cublasHandle_t *handle) {
    API();
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    rv_blas_handle *h = rv_blas_handle_new();
    if (!h) return CUBLAS_STATUS_ALLOC_FAILED;
    h->default_workspace = rv_dev_alloc(h->device, default_workspace_size(), false);
    if (!h->default_workspace) {
        rv_blas_handle_free(h);
        return CUBLAS_STATUS_ALLOC_FAILED;
    }
    *handle = h;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
    API();
    HANDLE(handle);
    rv_blas_handle_free(H);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
    API();
    HANDLE(handle);
    H->stream = stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, cudaStream_t *stream) {
    API();
    HANDLE(handle);
    if (!stream) return CUBLAS_STATUS_INVALID_VALUE;
    *stream = H->stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void *workspace, size_t size) {
    API();
    HANDLE(handle);
    if (size && !workspace) return CUBLAS_STATUS_INVALID_VALUE;
    H->workspace = workspace;
    H->workspace_size = size;
    return CUBLAS_STATUS_SUCCESS;
}

/* Scalar handle settings: one setter/getter pair per field. */
#define HANDLE_FIELD(set, get, type, field)                     \
    cublasStatus_t set(cublasHandle_t handle, type v) {         \
        API();                                                  \
        HANDLE(handle);                                         \
        H->field = (int)v;                                      \
        return CUBLAS_STATUS_SUCCESS;                           \
    }                                                           \
    cublasStatus_t get(cublasHandle_t handle, type *v) {        \
        API();                                                  \
        HANDLE(handle);                                         \
        if (!v) return CUBLAS_STATUS_INVALID_VALUE;             \
        *v = (type)H->field;                                    \
        return CUBLAS_STATUS_SUCCESS;                           \
    }
HANDLE_FIELD(cublasSetMathMode, cublasGetMathMode, cublasMath_t, math_mode)
HANDLE_FIELD(cublasSetPointerMode_v2, cublasGetPointerMode_v2, cublasPointerMode_t, pointer_mode)
HANDLE_FIELD(cublasSetAtomicsMode, cublasGetAtomicsMode, cublasAtomicsMode_t, atomics_mode)
HANDLE_FIELD(cublasSetSmCountTarget, cublasGetSmCountTarget, int, sm_count_target)

/* ---------- library information ---------- */
cublasStatus_t cublasGetVersion_v2(cublasHandle_t handle, int *version) {
    API();
    (void)handle;   /* the version does not depend on the handle */
    if (!version) return CUBLAS_STATUS_INVALID_VALUE;
    *version = RV_CUBLAS_VERSION;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetProperty(libraryPropertyType type, int *value) {
    API();
    return rv_cublas_property(type, value);
}

size_t cublasGetCudartVersion(void) {
    API();
    return RV_CUBLAS_CUDART_VERSION;
}

const char *cublasGetStatusName(cublasStatus_t status) {
    API();
    return rv_blas_status_name(status);
}

const char *cublasGetStatusString(cublasStatus_t status) {
    API();
    return rv_blas_status_string(status);
}

/* cuBLAS's own API logging has nothing to log here; the interposer's trace records the work. */
static cublasLogCallback g_log_callback;

cublasStatus_t cublasLoggerConfigure(int on, int to_stdout, int to_stderr, const char *file) {
    API();
    (void)on, (void)to_stdout, (void)to_stderr, (void)file;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetLoggerCallback(cublasLogCallback cb) {
    API();
    g_log_callback = cb;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetLoggerCallback(cublasLogCallback *cb) {
    API();
    if (!cb) return CUBLAS_STATUS_INVALID_VALUE;
    *cb = g_log_callback;
    return CUBLAS_STATUS_SUCCESS;
}

/* ---------- GEMM ---------- */
/* Argument checks as cuBLAS does them (it names the bad parameter, counting from transa = 1). */
static cublasStatus_t bad_param(const char *fn, int param) {
    rv_log("%s: parameter number %d had an illegal value", fn, param);
    return CUBLAS_STATUS_INVALID_VALUE;
}

static bool bad_op(int op) { return op < CUBLAS_OP_N || op > CUBLAS_OP_C; }

/* lda/ldb/ldc parameter numbers: ld_param[0..2]; 0 skips a check (pointer-array batched calls
 * still check them). */
static cublasStatus_t check_gemm(const char *fn, int ta, int tb, int64_t m, int64_t n, int64_t k, int64_t lda,
                                 int64_t ldb, int64_t ldc, const int ld_param[3]) {
    if (bad_op(ta)) return bad_param(fn, 1);
    if (bad_op(tb)) return bad_param(fn, 2);
    if (m < 0) return bad_param(fn, 3);
    if (n < 0) return bad_param(fn, 4);
    if (k < 0) return bad_param(fn, 5);
    int64_t rows_a = ta == CUBLAS_OP_N ? m : k, rows_b = tb == CUBLAS_OP_N ? k : n;
    if (lda < (rows_a > 1 ? rows_a : 1)) return bad_param(fn, ld_param[0]);
    if (ldb < (rows_b > 1 ? rows_b : 1)) return bad_param(fn, ld_param[1]);
    if (ldc < (m > 1 ? m : 1)) return bad_param(fn, ld_param[2]);
    return CUBLAS_STATUS_SUCCESS;
}

/* The compute type a legacy (typed) routine runs with: f32 (real or complex) data on tensor cores in TF32 when the
 * handle's math mode allows it (torch sets CUBLAS_TF32_TENSOR_OP_MATH for allow_tf32). */
static const char *legacy_compute(const rv_blas_handle *h, int compute, int dtype_a) {
    if (compute == CUBLAS_COMPUTE_32F && (dtype_a == CUDA_R_32F || dtype_a == CUDA_C_32F) && (h->math_mode & 0xf) == CUBLAS_TF32_TENSOR_OP_MATH)
        return "f32_fast_tf32";
    return rv_blas_compute(compute);
}

static cublasStatus_t gemm(const char *fn, cublasHandle_t handle, int ta, int tb, int64_t m, int64_t n, int64_t k,
                           int64_t lda, int64_t ldb, int64_t ldc, const int ld_param[3], int64_t batch,
                           int atype, int btype, int ctype, int compute) {
    HANDLE(handle);
    cublasStatus_t st = check_gemm(fn, ta, tb, m, n, k, lda, ldb, ldc, ld_param);
    if (st) return st;
    if (batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
    rv_blas_gemm g = {m, n, k, batch, ta, tb, rv_blas_dtype(atype), rv_blas_dtype(btype), rv_blas_dtype(ctype),
                      legacy_compute(H, compute, atype), "none", false};
    return rv_blas_record("cublas", H->stream, &g, NULL);
}

static const int LD_TYPED[3] = {8, 10, 13};      /* Sgemm and friends: ..., A, lda, B, ldb, beta, C, ldc */
static const int LD_STRIDED[3] = {8, 11, 15};    /* SgemmStridedBatched: lda, strideA, B, ldb, strideB ... */
static const int LD_EX[3] = {9, 12, 16};         /* GemmEx / GemmBatchedEx: A, Atype, lda, ... */
static const int LD_EX_STRIDED[3] = {9, 13, 18}; /* GemmStridedBatchedEx */

/* The typed routines differ only in element type (pointer arguments: their types don't matter). */
#define TYPED_GEMM(name, T, compute)                                                                            \
    cublasStatus_t name(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,      \
                        const void *alpha, const void *A, int lda, const void *B, int ldb, const void *beta,     \
                        void *C, int ldc) {                                                                      \
        API();                                                                                                   \
        (void)alpha, (void)A, (void)B, (void)beta, (void)C;                                                      \
        return gemm(__func__, h, ta, tb, m, n, k, lda, ldb, ldc, LD_TYPED, 1, T, T, T, compute);                 \
    }
#define TYPED_GEMM_STRIDED(name, T, compute)                                                                    \
    cublasStatus_t name(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,      \
                        const void *alpha, const void *A, int lda, long long sa, const void *B, int ldb,         \
                        long long sb, const void *beta, void *C, int ldc, long long sc, int batch) {             \
        API();                                                                                                   \
        (void)alpha, (void)A, (void)sa, (void)B, (void)sb, (void)beta, (void)C, (void)sc;                        \
        return gemm(__func__, h, ta, tb, m, n, k, lda, ldb, ldc, LD_STRIDED, batch, T, T, T, compute);          \
    }
#define TYPED_GEMM_BATCHED(name, T, compute)                                                                    \
    cublasStatus_t name(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,      \
                        const void *alpha, const void *const A[], int lda, const void *const B[], int ldb,       \
                        const void *beta, void *const C[], int ldc, int batch) {                                 \
        API();                                                                                                   \
        (void)alpha, (void)A, (void)B, (void)beta, (void)C;                                                      \
        return gemm(__func__, h, ta, tb, m, n, k, lda, ldb, ldc, LD_TYPED, batch, T, T, T, compute);            \
    }

TYPED_GEMM(cublasSgemm_v2, CUDA_R_32F, CUBLAS_COMPUTE_32F)
TYPED_GEMM(cublasDgemm_v2, CUDA_R_64F, CUBLAS_COMPUTE_64F)
TYPED_GEMM(cublasHgemm, CUDA_R_16F, CUBLAS_COMPUTE_16F)
TYPED_GEMM(cublasCgemm_v2, CUDA_C_32F, CUBLAS_COMPUTE_32F)
TYPED_GEMM(cublasZgemm_v2, CUDA_C_64F, CUBLAS_COMPUTE_64F)
TYPED_GEMM_STRIDED(cublasSgemmStridedBatched, CUDA_R_32F, CUBLAS_COMPUTE_32F)
TYPED_GEMM_STRIDED(cublasDgemmStridedBatched, CUDA_R_64F, CUBLAS_COMPUTE_64F)
TYPED_GEMM_STRIDED(cublasHgemmStridedBatched, CUDA_R_16F, CUBLAS_COMPUTE_16F)
TYPED_GEMM_STRIDED(cublasCgemmStridedBatched, CUDA_C_32F, CUBLAS_COMPUTE_32F)
TYPED_GEMM_STRIDED(cublasZgemmStridedBatched, CUDA_C_64F, CUBLAS_COMPUTE_64F)
TYPED_GEMM_BATCHED(cublasSgemmBatched, CUDA_R_32F, CUBLAS_COMPUTE_32F)
TYPED_GEMM_BATCHED(cublasDgemmBatched, CUDA_R_64F, CUBLAS_COMPUTE_64F)
TYPED_GEMM_BATCHED(cublasHgemmBatched, CUDA_R_16F, CUBLAS_COMPUTE_16F)
TYPED_GEMM_BATCHED(cublasCgemmBatched, CUDA_C_32F, CUBLAS_COMPUTE_32F)
TYPED_GEMM_BATCHED(cublasZgemmBatched, CUDA_C_64F, CUBLAS_COMPUTE_64F)

/* SgemmEx: typed inputs (f16/bf16/f32/i8), f32 compute. */
cublasStatus_t cublasSgemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                             const float *alpha, const void *A, cudaDataType at, int lda, const void *B,
                             cudaDataType bt, int ldb, const float *beta, void *C, cudaDataType ct, int ldc) {
    API();
    (void)alpha, (void)A, (void)B, (void)beta, (void)C;
    return gemm(__func__, h, ta, tb, m, n, k, lda, ldb, ldc, LD_EX, 1, at, bt, ct, CUBLAS_COMPUTE_32F);
}

cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType at, int lda, const void *B,
                            cudaDataType bt, int ldb, const void *beta, void *C, cudaDataType ct, int ldc,
                            cublasComputeType_t compute, cublasGemmAlgo_t algo) {
    API();
    (void)alpha, (void)A, (void)B, (void)beta, (void)C, (void)algo;
    return gemm(__func__, h, ta, tb, m, n, k, lda, ldb, ldc, LD_EX, 1, at, bt, ct, compute);
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                          int k, const void *alpha, const void *A, cudaDataType at, int lda,
                                          long long sa, const void *B, cudaDataType bt, int ldb, long long sb,
                                          const void *beta, void *C, cudaDataType ct, int ldc, long long sc,
                                          int batch, cublasComputeType_t compute, cublasGemmAlgo_t algo) {
    API();
    (void)alpha, (void)A, (void)sa, (void)B, (void)sb, (void)beta, (void)C, (void)sc, (void)algo;
    return gemm(__func__, h, ta, tb, m, n, k, lda, ldb, ldc, LD_EX_STRIDED, batch, at, bt, ct, compute);
}

cublasStatus_t cublasGemmBatchedEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                   const void *alpha, const void *const A[], cudaDataType at, int lda,
                                   const void *const B[], cudaDataType bt, int ldb, const void *beta,
                                   void *const C[], cudaDataType ct, int ldc, int batch,
                                   cublasComputeType_t compute, cublasGemmAlgo_t algo) {
    API();
    (void)alpha, (void)A, (void)B, (void)beta, (void)C, (void)algo;
    return gemm(__func__, h, ta, tb, m, n, k, lda, ldb, ldc, LD_EX, batch, at, bt, ct, compute);
}

/* ---------- GEMV: a GEMM with one column, y[rows of op(A)] = op(A) . x ---------- */
static cublasStatus_t gemv(const char *fn, cublasHandle_t handle, int trans, int64_t m, int64_t n, int64_t lda,
                           int type, int compute) {
    HANDLE(handle);
    if (bad_op(trans)) return bad_param(fn, 1);
    if (m < 0) return bad_param(fn, 2);
    if (n < 0) return bad_param(fn, 3);
    if (lda < (m > 1 ? m : 1)) return bad_param(fn, 6);   /* (incx = 0 is accepted by cuBLAS 13.1) */
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    bool t = trans != CUBLAS_OP_N;
    const char *d = rv_blas_dtype(type);
    /* cuBLAS sense: [rows x 1] = op(A)[rows x cols] . x[cols x 1]; recorded row-major as
     * y^T[1 x rows] = x^T . op(A)^T, i.e. (m, n, k) = (1, rows, cols). */
    rv_blas_gemm g = {t ? n : m, 1, t ? m : n, 1, trans, CUBLAS_OP_N, d, d, d, legacy_compute(H, compute, type),
                      "none", false};
    return rv_blas_record("cublas", H->stream, &g, NULL);
}

#define TYPED_GEMV(name, T, compute)                                                                          \
    cublasStatus_t name(cublasHandle_t h, cublasOperation_t trans, int m, int n, const void *alpha,            \
                        const void *A, int lda, const void *x, int incx, const void *beta, void *y, int incy) {\
        API();                                                                                                 \
        (void)alpha, (void)A, (void)x, (void)incx, (void)beta, (void)y, (void)incy;                            \
        return gemv(__func__, h, trans, m, n, lda, T, compute);                                                \
    }
TYPED_GEMV(cublasSgemv_v2, CUDA_R_32F, CUBLAS_COMPUTE_32F)
TYPED_GEMV(cublasDgemv_v2, CUDA_R_64F, CUBLAS_COMPUTE_64F)
TYPED_GEMV(cublasCgemv_v2, CUDA_C_32F, CUBLAS_COMPUTE_32F)
TYPED_GEMV(cublasZgemv_v2, CUDA_C_64F, CUBLAS_COMPUTE_64F)

/* ---------- dot products: a 1 x 1 x n GEMM ----------
 * With CUBLAS_POINTER_MODE_HOST the call returns only after the result is in host memory: the host
 * waits for the stream, and the result (not computed) reads as zero. */
static cublasStatus_t dot(const char *fn, cublasHandle_t handle, int64_t n, int xtype, int ytype, void *result,
                          int rtype, int compute) {
    HANDLE(handle);
    if (!result) return bad_param(fn, 6);
    bool host = H->pointer_mode == CUBLAS_POINTER_MODE_HOST;
    rv_stream *s = rv_stream_resolve(H->stream, false);
    /* a host result cannot be waited for inside a graph capture: cuBLAS 13.1 answers
     * CUBLAS_STATUS_INTERNAL_ERROR (and the capture is invalidated, which the core cannot do yet) */
    if (host && s && rv_capture_status_of(s, NULL, NULL) != RV_CAPTURE_NONE) return CUBLAS_STATUS_INTERNAL_ERROR;
    if (n <= 0) {   /* cuBLAS returns 0 without a kernel */
        if (host) memset(result, 0, rv_blas_dtype_bytes(rtype));
        return CUBLAS_STATUS_SUCCESS;
    }
    rv_blas_gemm g = {1, 1, n, 1, CUBLAS_OP_T, CUBLAS_OP_N, rv_blas_dtype(xtype), rv_blas_dtype(ytype),
                      rv_blas_dtype(rtype), rv_blas_compute(compute), "none", false};
    cublasStatus_t st = rv_blas_record("cublas", H->stream, &g, &s);
    if (st || !host) return st;
    rv_stream_sync(s);
    memset(result, 0, rv_blas_dtype_bytes(rtype));
    return CUBLAS_STATUS_SUCCESS;
}

#define TYPED_DOT(name, T, compute)                                                                           \
    cublasStatus_t name(cublasHandle_t h, int n, const void *x, int incx, const void *y, int incy,            \
                        void *result) {                                                                        \
        API();                                                                                                 \
        (void)x, (void)incx, (void)y, (void)incy;                                                              \
        return dot(__func__, h, n, T, T, result, T, compute);                                                  \
    }
TYPED_DOT(cublasSdot_v2, CUDA_R_32F, CUBLAS_COMPUTE_32F)
TYPED_DOT(cublasDdot_v2, CUDA_R_64F, CUBLAS_COMPUTE_64F)
TYPED_DOT(cublasCdotu_v2, CUDA_C_32F, CUBLAS_COMPUTE_32F)
TYPED_DOT(cublasCdotc_v2, CUDA_C_32F, CUBLAS_COMPUTE_32F)
TYPED_DOT(cublasZdotu_v2, CUDA_C_64F, CUBLAS_COMPUTE_64F)
TYPED_DOT(cublasZdotc_v2, CUDA_C_64F, CUBLAS_COMPUTE_64F)

cublasStatus_t cublasDotEx(cublasHandle_t h, int n, const void *x, cudaDataType xtype, int incx, const void *y,
                           cudaDataType ytype, int incy, void *result, cudaDataType rtype, cudaDataType exec) {
    API();
    (void)x, (void)incx, (void)y, (void)incy;
    return dot(__func__, h, n, xtype, ytype, result, rtype, exec);
}

cublasStatus_t cublasDotcEx(cublasHandle_t h, int n, const void *x, cudaDataType xtype, int incx, const void *y,
                            cudaDataType ytype, int incy, void *result, cudaDataType rtype, cudaDataType exec) {
    API();
    (void)x, (void)incx, (void)y, (void)incy;
    return dot(__func__, h, n, xtype, ytype, result, rtype, exec);
}
