/* Fake cuBLASLt: descriptors, heuristics and cublasLtMatmul recorded as an exact GEMM (shapes from the
 * layouts and transposes, dtypes from the layouts, epilogue from the descriptor) on the given stream.
 * Outputs are not computed (split-state memory). Every other export is a generated counting stub.
 *
 * torch passes its cuBLAS handle here (no cublasLtCreate): handles are the shared rv_blas_handle.
 * What torch calls (confirmed with cuBLASLt API logging on an H200): for Linear with bias,
 * PreferenceCreate + SetAttribute(MAX_WORKSPACE_BYTES, MIN_ALIGNMENT_A..D), DescCreate +
 * SetAttribute(TRANSA, TRANSB, EPILOGUE, BIAS_POINTER), 3x MatrixLayoutCreate, AlgoGetHeuristic,
 * Matmul, then the Destroys. torch also imports AlgoInit, AlgoCheck and AlgoConfig{Get,Set}Attribute
 * (none was called in those runs); they are implemented for the one algorithm the fake offers.
 */
#define _GNU_SOURCE
#include "abi/cublas.h"

#include <stdio.h>

#define LIB RV_CUBLASLT_SONAME
#define API() RV_API(LIB)

/* ---------- one generic attribute store for matmul descriptors, layouts and preferences ----------
 * Each kind has a table of its documented attributes (cublasLt.h: id, size, default). Set and Get
 * check sizes as cuBLASLt does (an int64 or int16 for an int32 attribute, or an unknown id, is
 * CUBLAS_STATUS_INVALID_VALUE on cuBLASLt 13.1 too); values are kept as little-endian bytes in one
 * 64-bit slot per id. Get follows the documented semantics (cuBLASLt 13.1 on an H200 returned
 * success without writing anything for a correctly sized Get; torch never calls Get). */
#define LT_MAX_ATTR 48
#define LT_DESC_MAGIC 0x72764c44U     /* "rvLD" */
#define LT_LAYOUT_MAGIC 0x72764c4cU   /* "rvLL" */
#define LT_PREF_MAGIC 0x72764c50U     /* "rvLP" */

typedef struct { int id; uint8_t size; uint64_t def; } lt_attr;

typedef struct lt_obj {
    uint32_t magic;
    uint64_t val[LT_MAX_ATTR];
    uint8_t size[LT_MAX_ATTR];   /* 0: not an attribute of this kind */
} lt_obj;

typedef lt_obj *cublasLtMatmulDesc_t;
typedef lt_obj *cublasLtMatrixLayout_t;
typedef lt_obj *cublasLtMatmulPreference_t;

#define P 8   /* a pointer or 64-bit value */
static const lt_attr DESC_ATTRS[] = {
    {CUBLASLT_MATMUL_DESC_COMPUTE_TYPE, 4, 0}, {CUBLASLT_MATMUL_DESC_SCALE_TYPE, 4, 0},
    {CUBLASLT_MATMUL_DESC_POINTER_MODE, 4, 0}, {CUBLASLT_MATMUL_DESC_TRANSA, 4, CUBLAS_OP_N},
    {CUBLASLT_MATMUL_DESC_TRANSB, 4, CUBLAS_OP_N}, {CUBLASLT_MATMUL_DESC_TRANSC, 4, CUBLAS_OP_N},
    {CUBLASLT_MATMUL_DESC_FILL_MODE, 4, CUBLAS_FILL_MODE_FULL}, {CUBLASLT_MATMUL_DESC_EPILOGUE, 4, CUBLASLT_EPILOGUE_DEFAULT},
    {CUBLASLT_MATMUL_DESC_BIAS_POINTER, P, 0}, {CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, 8, 0},
    {CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, P, 0}, {CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, 8, 0},
    {CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_BATCH_STRIDE, 8, 0}, {CUBLASLT_MATMUL_DESC_ALPHA_VECTOR_BATCH_STRIDE, 8, 0},
    {CUBLASLT_MATMUL_DESC_SM_COUNT_TARGET, 4, 0}, {CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, P, 0},
    {CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, P, 0}, {CUBLASLT_MATMUL_DESC_C_SCALE_POINTER, P, 0},
    {CUBLASLT_MATMUL_DESC_D_SCALE_POINTER, P, 0}, {CUBLASLT_MATMUL_DESC_AMAX_D_POINTER, P, 0},
    {CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE, 4, (uint32_t)-1}, {CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_SCALE_POINTER, P, 0},
    {CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_AMAX_POINTER, P, 0},
    {CUBLASLT_MATMUL_DESC_FAST_ACCUM, 4, 0},   /* documented as int8_t; cuBLASLt 13.1 reports 4 bytes */
    {CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, 4, (uint32_t)-1}, {CUBLASLT_MATMUL_DESC_A_SCALE_MODE, 4, 0},
    {CUBLASLT_MATMUL_DESC_B_SCALE_MODE, 4, 0}, {CUBLASLT_MATMUL_DESC_C_SCALE_MODE, 4, 0},
    {CUBLASLT_MATMUL_DESC_D_SCALE_MODE, 4, 0}, {CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_SCALE_MODE, 4, 0},
    {CUBLASLT_MATMUL_DESC_D_OUT_SCALE_POINTER, P, 0}, {CUBLASLT_MATMUL_DESC_D_OUT_SCALE_MODE, 4, 0},
    {CUBLASLT_MATMUL_DESC_EMULATION_DESCRIPTOR, P, 0},
};
static const lt_attr LAYOUT_ATTRS[] = {
    {CUBLASLT_MATRIX_LAYOUT_TYPE, 4, 0}, {CUBLASLT_MATRIX_LAYOUT_ORDER, 4, CUBLASLT_ORDER_COL},
    {CUBLASLT_MATRIX_LAYOUT_ROWS, 8, 0}, {CUBLASLT_MATRIX_LAYOUT_COLS, 8, 0}, {CUBLASLT_MATRIX_LAYOUT_LD, 8, 0},
    {CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, 4, 1}, {CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, 8, 0},
    {CUBLASLT_MATRIX_LAYOUT_PLANE_OFFSET, 8, 0}, {CUBLASLT_MATRIX_LAYOUT_BATCH_MODE, 4, 0},
};
static const lt_attr PREF_ATTRS[] = {
    {CUBLASLT_MATMUL_PREF_SEARCH_MODE, 4, 0}, {CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, 8, 0},
    {CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, 4, 7}, {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, 4, 256},
    {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, 4, 256}, {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, 4, 256},
    {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, 4, 256}, {CUBLASLT_MATMUL_PREF_MAX_WAVES_COUNT, 4, 0},
    {CUBLASLT_MATMUL_PREF_IMPL_MASK, 8, ~0ull},
};
#undef P

static lt_obj *lt_new(uint32_t magic, const lt_attr *t, size_t n) {
    lt_obj *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->magic = magic;
    for (size_t i = 0; i < n; i++) {
        o->size[t[i].id] = t[i].size;
        o->val[t[i].id] = t[i].def;
    }
    return o;
}

static lt_obj *lt_get(const void *p, uint32_t magic) {
    lt_obj *o = (lt_obj *)p;
    return o && o->magic == magic ? o : NULL;
}

static void lt_free(lt_obj *o) {
    o->magic = 0;
    free(o);
}

static cublasStatus_t lt_set(const char *fn, lt_obj *o, int id, const void *buf, size_t n) {
    if (!o) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (id < 0 || id >= LT_MAX_ATTR || !o->size[id]) {
        rv_log("%s: attribute %d is not one the emulated cuBLASLt knows", fn, id);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    /* sizes must match, except that the real library takes torch's int8_t fast-accumulation flag
     * (zero-extended here) although it reports that attribute as 4 bytes */
    bool narrow_ok = o->magic == LT_DESC_MAGIC && id == CUBLASLT_MATMUL_DESC_FAST_ACCUM && n == 1;
    if (!buf || (n != o->size[id] && !narrow_ok)) return CUBLAS_STATUS_INVALID_VALUE;
    uint64_t v = 0;
    memcpy(&v, buf, n);
    o->val[id] = v;
    return CUBLAS_STATUS_SUCCESS;
}

/* Get semantics of cuBLASLt: sizeInBytes 0 asks for the size; otherwise it must match exactly. */
static cublasStatus_t put_value(const void *v, size_t size, void *buf, size_t n, size_t *written) {
    if (n == 0) {
        if (!written) return CUBLAS_STATUS_INVALID_VALUE;
        *written = size;
        return CUBLAS_STATUS_SUCCESS;
    }
    if (written) *written = size;
    if (!buf || n != size) return CUBLAS_STATUS_INVALID_VALUE;
    memcpy(buf, v, size);
    return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t lt_read(lt_obj *o, int id, void *buf, size_t n, size_t *written) {
    if (!o) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (id < 0 || id >= LT_MAX_ATTR || !o->size[id]) return CUBLAS_STATUS_INVALID_VALUE;
    return put_value(&o->val[id], o->size[id], buf, n, written);
}

/* An attribute as a signed integer of its documented width. */
static int64_t lt_int(const lt_obj *o, int id) {
    return o->size[id] == 4 ? (int64_t)(int32_t)o->val[id] : (int64_t)o->val[id];
}

/* ---------- handle and library information ---------- */
cublasStatus_t cublasLtCreate(cublasLtHandle_t *handle) {
    API();
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    *handle = rv_blas_handle_new();   /* cuBLASLt allocates no device workspace of its own */
    return *handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}

cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle) {
    API();
    rv_blas_handle *h = rv_blas_handle_get(handle);
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    rv_blas_handle_free(h);
    return CUBLAS_STATUS_SUCCESS;
}

size_t cublasLtGetVersion(void) {
    API();
    return RV_CUBLAS_VERSION;
}

size_t cublasLtGetCudartVersion(void) {
    API();
    return RV_CUBLAS_CUDART_VERSION;
}

cublasStatus_t cublasLtGetProperty(libraryPropertyType type, int *value) {
    API();
    return rv_cublas_property(type, value);
}

const char *cublasLtGetStatusName(cublasStatus_t status) {
    API();
    return rv_blas_status_name(status);
}

const char *cublasLtGetStatusString(cublasStatus_t status) {
    API();
    return rv_blas_status_string(status);
}

/* Logging: cuBLASLt's own log has nothing to say here; accepted and ignored. */
cublasStatus_t cublasLtLoggerSetCallback(cublasLtLoggerCallback_t cb) { API(); (void)cb; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasLtLoggerSetFile(FILE *f) { API(); (void)f; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasLtLoggerOpenFile(const char *path) { API(); (void)path; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasLtLoggerSetLevel(int level) {
    API();
    return level < 0 || level > 5 ? CUBLAS_STATUS_INVALID_VALUE : CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtLoggerSetMask(int mask) { API(); (void)mask; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasLtLoggerForceDisable(void) { API(); return CUBLAS_STATUS_SUCCESS; }

/* ---------- descriptors ---------- */
#define LT_OBJECT_API(Kind, magic)                                                                     \
    cublasStatus_t cublasLt##Kind##Destroy(lt_obj *o) {                                                            \
        API();                                                                                                     \
        if (!o) return CUBLAS_STATUS_SUCCESS;                                                                      \
        if (!lt_get(o, magic)) return CUBLAS_STATUS_INVALID_VALUE;                                                 \
        lt_free(o);                                                                                                \
        return CUBLAS_STATUS_SUCCESS;                                                                              \
    }                                                                                                              \
    cublasStatus_t cublasLt##Kind##SetAttribute(lt_obj *o, int attr, const void *buf, size_t n) {                  \
        API();                                                                                                     \
        return lt_set(__func__, lt_get(o, magic), attr, buf, n);                                                   \
    }                                                                                                              \
    cublasStatus_t cublasLt##Kind##GetAttribute(lt_obj *o, int attr, void *buf, size_t n, size_t *written) {       \
        API();                                                                                                     \
        return lt_read(lt_get(o, magic), attr, buf, n, written);                                                   \
    }
LT_OBJECT_API(MatmulDesc, LT_DESC_MAGIC)
LT_OBJECT_API(MatrixLayout, LT_LAYOUT_MAGIC)
LT_OBJECT_API(MatmulPreference, LT_PREF_MAGIC)

#define NEW(magic, table) lt_new(magic, table, sizeof table / sizeof table[0])

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *desc, cublasComputeType_t compute, cudaDataType_t scale) {
    API();
    if (!desc) return CUBLAS_STATUS_INVALID_VALUE;
    lt_obj *o = NEW(LT_DESC_MAGIC, DESC_ATTRS);
    if (!o) return CUBLAS_STATUS_ALLOC_FAILED;
    o->val[CUBLASLT_MATMUL_DESC_COMPUTE_TYPE] = (uint32_t)compute;
    o->val[CUBLASLT_MATMUL_DESC_SCALE_TYPE] = (uint32_t)scale;
    *desc = o;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *layout, cudaDataType type, uint64_t rows,
                                          uint64_t cols, int64_t ld) {
    API();
    if (!layout) return CUBLAS_STATUS_INVALID_VALUE;
    lt_obj *o = NEW(LT_LAYOUT_MAGIC, LAYOUT_ATTRS);
    if (!o) return CUBLAS_STATUS_ALLOC_FAILED;
    o->val[CUBLASLT_MATRIX_LAYOUT_TYPE] = (uint32_t)type;
    o->val[CUBLASLT_MATRIX_LAYOUT_ROWS] = rows;
    o->val[CUBLASLT_MATRIX_LAYOUT_COLS] = cols;
    o->val[CUBLASLT_MATRIX_LAYOUT_LD] = (uint64_t)ld;
    *layout = o;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *pref) {
    API();
    if (!pref) return CUBLAS_STATUS_INVALID_VALUE;
    *pref = NEW(LT_PREF_MAGIC, PREF_ATTRS);
    return *pref ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}

/* ---------- the problem a matmul describes ---------- */
static const char *epilogue_name(int64_t e) {
    switch (e) {
    case CUBLASLT_EPILOGUE_DEFAULT: return "none";
    case CUBLASLT_EPILOGUE_RELU: return "relu";
    case CUBLASLT_EPILOGUE_RELU_AUX: return "relu_aux";
    case CUBLASLT_EPILOGUE_BIAS: return "bias";
    case CUBLASLT_EPILOGUE_RELU_BIAS: return "bias_relu";
    case CUBLASLT_EPILOGUE_RELU_AUX_BIAS: return "bias_relu_aux";
    case CUBLASLT_EPILOGUE_DRELU: return "drelu";
    case CUBLASLT_EPILOGUE_DRELU_BGRAD: return "drelu_bgrad";
    case CUBLASLT_EPILOGUE_GELU: return "gelu";
    case CUBLASLT_EPILOGUE_GELU_AUX: return "gelu_aux";
    case CUBLASLT_EPILOGUE_GELU_BIAS: return "bias_gelu";
    case CUBLASLT_EPILOGUE_GELU_AUX_BIAS: return "bias_gelu_aux";
    case CUBLASLT_EPILOGUE_DGELU: return "dgelu";
    case CUBLASLT_EPILOGUE_DGELU_BGRAD: return "dgelu_bgrad";
    case CUBLASLT_EPILOGUE_BGRADA: return "bgrada";
    case CUBLASLT_EPILOGUE_BGRADB: return "bgradb";
    default: {
        char buf[32];
        snprintf(buf, sizeof buf, "epilogue_%lld", (long long)e);
        return rv_intern(buf);
    }
    }
}

/* cuBLASLt's definition: D[m x n] = op(A)[m x k] . op(B)[k x n] with m, n the rows and columns of D,
 * k from A (its columns, or rows when transposed); rows/cols are logical, whatever the memory order.
 * Inconsistent shapes are CUBLAS_STATUS_INVALID_VALUE, as on the real library. */
static cublasStatus_t describe(const char *fn, lt_obj *desc, lt_obj *a, lt_obj *b, lt_obj *c, lt_obj *d,
                               rv_blas_gemm *g) {
    if (!desc || !a || !b || !d) return CUBLAS_STATUS_NOT_INITIALIZED;
    int ta = (int)lt_int(desc, CUBLASLT_MATMUL_DESC_TRANSA), tb = (int)lt_int(desc, CUBLASLT_MATMUL_DESC_TRANSB);
    int64_t m = lt_int(d, CUBLASLT_MATRIX_LAYOUT_ROWS), n = lt_int(d, CUBLASLT_MATRIX_LAYOUT_COLS);
    int64_t a_rows = lt_int(a, CUBLASLT_MATRIX_LAYOUT_ROWS), a_cols = lt_int(a, CUBLASLT_MATRIX_LAYOUT_COLS);
    int64_t b_rows = lt_int(b, CUBLASLT_MATRIX_LAYOUT_ROWS), b_cols = lt_int(b, CUBLASLT_MATRIX_LAYOUT_COLS);
    int64_t k = ta == CUBLAS_OP_N ? a_cols : a_rows;
    bool ok = (ta == CUBLAS_OP_N ? a_rows : a_cols) == m && (tb == CUBLAS_OP_N ? b_rows : b_cols) == k &&
              (tb == CUBLAS_OP_N ? b_cols : b_rows) == n;
    if (c) ok = ok && lt_int(c, CUBLASLT_MATRIX_LAYOUT_ROWS) == m && lt_int(c, CUBLASLT_MATRIX_LAYOUT_COLS) == n;
    if (!ok) {
        rv_log("%s: inconsistent shapes: op(A) %lldx%lld (trans %d), op(B) from %lldx%lld (trans %d), D %lldx%lld", fn,
               (long long)a_rows, (long long)a_cols, ta, (long long)b_rows, (long long)b_cols, tb, (long long)m,
               (long long)n);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    *g = (rv_blas_gemm){
        .m = m, .n = n, .k = k,
        .batch = lt_int(d, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT),
        .trans_a = ta, .trans_b = tb,
        .dtype_a = rv_blas_dtype((int)lt_int(a, CUBLASLT_MATRIX_LAYOUT_TYPE)),
        .dtype_b = rv_blas_dtype((int)lt_int(b, CUBLASLT_MATRIX_LAYOUT_TYPE)),
        .dtype_c = rv_blas_dtype((int)lt_int(d, CUBLASLT_MATRIX_LAYOUT_TYPE)),
        .compute = rv_blas_compute((int)lt_int(desc, CUBLASLT_MATMUL_DESC_COMPUTE_TYPE)),
        .epilogue = epilogue_name(lt_int(desc, CUBLASLT_MATMUL_DESC_EPILOGUE)),
        .out_row_major = lt_int(d, CUBLASLT_MATRIX_LAYOUT_ORDER) == CUBLASLT_ORDER_ROW,
    };
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, const void *alpha, const void *A,
                              cublasLtMatrixLayout_t Adesc, const void *B, cublasLtMatrixLayout_t Bdesc,
                              const void *beta, const void *C, cublasLtMatrixLayout_t Cdesc, void *D,
                              cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo, void *workspace,
                              size_t workspace_size, cudaStream_t stream) {
    API();
    (void)alpha, (void)A, (void)B, (void)beta, (void)C, (void)D, (void)algo, (void)workspace, (void)workspace_size;
    if (!rv_blas_handle_get(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    rv_blas_gemm g;
    cublasStatus_t st = describe(__func__, lt_get(desc, LT_DESC_MAGIC), lt_get(Adesc, LT_LAYOUT_MAGIC),
                                 lt_get(Bdesc, LT_LAYOUT_MAGIC), lt_get(Cdesc, LT_LAYOUT_MAGIC),
                                 lt_get(Ddesc, LT_LAYOUT_MAGIC), &g);
    if (st) return st;
    return rv_blas_record("cublasLt", stream, &g, NULL);
}

/* ---------- algorithms ----------
 * One algorithm fits every problem. Its configuration lives in the caller's semi-opaque struct:
 * 32-bit slots indexed by CUBLASLT_ALGO_CONFIG_*, and a marker that it was initialised here. */
#define ALGO_ID 0
#define ALGO_MARK 0x7276414cU   /* "rvAL" */
#define ALGO_SLOTS 15            /* uint32 slot 15 holds the marker */

static void algo_init(cublasLtMatmulAlgo_t *algo, int id) {
    memset(algo, 0, sizeof *algo);
    uint32_t *w = (uint32_t *)algo->data;
    w[CUBLASLT_ALGO_CONFIG_ID] = (uint32_t)id;
    w[ALGO_SLOTS] = ALGO_MARK;
}

static bool algo_valid(const cublasLtMatmulAlgo_t *algo) {
    return algo && ((const uint32_t *)algo->data)[ALGO_SLOTS] == ALGO_MARK;
}

static void result_fill(cublasLtMatmulHeuristicResult_t *r) {
    r->workspaceSize = 0;   /* within any preference's maximum */
    r->state = CUBLAS_STATUS_SUCCESS;
    r->wavesCount = 1.0f;
    memset(r->reserved, 0, sizeof r->reserved);
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t Adesc, cublasLtMatrixLayout_t Bdesc,
                                              cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
                                              cublasLtMatmulPreference_t pref, int requested,
                                              cublasLtMatmulHeuristicResult_t results[], int *returned) {
    API();
    if (!rv_blas_handle_get(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (requested <= 0 || !results || !returned || !lt_get(pref, LT_PREF_MAGIC)) return CUBLAS_STATUS_INVALID_VALUE;
    rv_blas_gemm g;
    cublasStatus_t st = describe(__func__, lt_get(desc, LT_DESC_MAGIC), lt_get(Adesc, LT_LAYOUT_MAGIC),
                                 lt_get(Bdesc, LT_LAYOUT_MAGIC), lt_get(Cdesc, LT_LAYOUT_MAGIC),
                                 lt_get(Ddesc, LT_LAYOUT_MAGIC), &g);
    if (st) return st;
    algo_init(&results[0].algo, ALGO_ID);
    result_fill(&results[0]);
    *returned = 1;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulAlgoGetIds(cublasLtHandle_t handle, cublasComputeType_t compute, cudaDataType_t scale,
                                        cudaDataType_t at, cudaDataType_t bt, cudaDataType_t ct, cudaDataType_t dt,
                                        int requested, int ids[], int *returned) {
    API();
    (void)compute, (void)scale, (void)at, (void)bt, (void)ct, (void)dt;
    if (!rv_blas_handle_get(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (requested <= 0 || !ids || !returned) return CUBLAS_STATUS_INVALID_VALUE;
    ids[0] = ALGO_ID;
    *returned = 1;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulAlgoInit(cublasLtHandle_t handle, cublasComputeType_t compute, cudaDataType_t scale,
                                      cudaDataType_t at, cudaDataType_t bt, cudaDataType_t ct, cudaDataType_t dt,
                                      int id, cublasLtMatmulAlgo_t *algo) {
    API();
    (void)compute, (void)scale, (void)at, (void)bt, (void)ct, (void)dt;
    if (!rv_blas_handle_get(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!algo || id < 0) return CUBLAS_STATUS_INVALID_VALUE;
    algo_init(algo, id);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulAlgoCheck(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                                       cublasLtMatrixLayout_t Adesc, cublasLtMatrixLayout_t Bdesc,
                                       cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
                                       const cublasLtMatmulAlgo_t *algo, cublasLtMatmulHeuristicResult_t *result) {
    API();
    if (!rv_blas_handle_get(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!algo_valid(algo) || !result) return CUBLAS_STATUS_INVALID_VALUE;
    rv_blas_gemm g;
    cublasStatus_t st = describe(__func__, lt_get(desc, LT_DESC_MAGIC), lt_get(Adesc, LT_LAYOUT_MAGIC),
                                 lt_get(Bdesc, LT_LAYOUT_MAGIC), lt_get(Cdesc, LT_LAYOUT_MAGIC),
                                 lt_get(Ddesc, LT_LAYOUT_MAGIC), &g);
    if (st) return st;
    result_fill(result);   /* result->algo is never written: algo may point to it */
    return CUBLAS_STATUS_SUCCESS;
}

/* Sizes of the configuration attributes (cublasLt.h): all 32-bit but the two shape ids. */
static size_t config_size(int attr) {
    if (attr < 0 || attr > CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID) return 0;
    return attr >= CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID ? 2 : 4;
}

cublasStatus_t cublasLtMatmulAlgoConfigSetAttribute(cublasLtMatmulAlgo_t *algo, int attr, const void *buf, size_t n) {
    API();
    size_t size = config_size(attr);
    if (!algo_valid(algo) || !size || !buf || n != size) return CUBLAS_STATUS_INVALID_VALUE;
    uint32_t v = 0;
    memcpy(&v, buf, n);
    ((uint32_t *)algo->data)[attr] = v;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulAlgoConfigGetAttribute(const cublasLtMatmulAlgo_t *algo, int attr, void *buf, size_t n,
                                                    size_t *written) {
    API();
    size_t size = config_size(attr);
    if (!algo_valid(algo) || !size) return CUBLAS_STATUS_INVALID_VALUE;
    return put_value(&((const uint32_t *)algo->data)[attr], size, buf, n, written);   /* little-endian */
}

/* Capabilities of the one algorithm: plain, unrestricted, every epilogue. */
cublasStatus_t cublasLtMatmulAlgoCapGetAttribute(const cublasLtMatmulAlgo_t *algo, int attr, void *buf, size_t n,
                                                 size_t *written) {
    API();
    if (!algo_valid(algo)) return CUBLAS_STATUS_INVALID_VALUE;
    int32_t i32 = 0;
    uint32_t u32 = 0;
    uint64_t u64 = 0;
    switch (attr) {
    case CUBLASLT_ALGO_CAP_STRIDED_BATCH_SUPPORT:
    case CUBLASLT_ALGO_CAP_OUT_OF_PLACE_RESULT_SUPPORT:
        i32 = 1;
        /* fallthrough */
    case CUBLASLT_ALGO_CAP_SPLITK_SUPPORT:
    case CUBLASLT_ALGO_CAP_UPLO_SUPPORT:
    case CUBLASLT_ALGO_CAP_CUSTOM_OPTION_MAX:
    case CUBLASLT_ALGO_CAP_CUSTOM_MEMORY_ORDER:
    case CUBLASLT_ALGO_CAP_LD_NEGATIVE:
    case CUBLASLT_ALGO_CAP_POINTER_ARRAY_BATCH_SUPPORT:
    case CUBLASLT_ALGO_CAP_FLOATING_POINT_EMULATION_SUPPORT:
        return put_value(&i32, 4, buf, n, written);
    case CUBLASLT_ALGO_CAP_POINTER_MODE_MASK:
        u32 = 1 | 2;   /* host, device */
        return put_value(&u32, 4, buf, n, written);
    case CUBLASLT_ALGO_CAP_EPILOGUE_MASK:
        u32 = 1023;    /* every epilogue bit */
        return put_value(&u32, 4, buf, n, written);
    case CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_A_BYTES:
    case CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_B_BYTES:
    case CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_C_BYTES:
    case CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_D_BYTES:
        u32 = 16;
        return put_value(&u32, 4, buf, n, written);
    case CUBLASLT_ALGO_CAP_TILE_IDS:    /* arrays of one id: CUBLASLT_MATMUL_{TILE,STAGES}_UNDEFINED */
    case CUBLASLT_ALGO_CAP_STAGES_IDS:
        return put_value(&u32, 4, buf, n > 4 ? 4 : n, written);
    case CUBLASLT_ALGO_CAP_REDUCTION_SCHEME_MASK:
    case CUBLASLT_ALGO_CAP_CTA_SWIZZLING_SUPPORT:
        return put_value(&u32, 4, buf, n, written);
    case CUBLASLT_ALGO_CAP_NUMERICAL_IMPL_FLAGS:
        return put_value(&u64, 8, buf, n, written);
    default:
        return CUBLAS_STATUS_INVALID_VALUE;
    }
}
