/* cuBLASLt through the fakes, called as torch calls it (with a cuBLAS handle): descriptors and their
 * attribute store, heuristics, algorithms, and matmuls recorded with exact shapes and epilogues.
 * tests/test_cublas.py checks the CHECK lines, the predictor requests and the trace (ops in order). */
#include "cublas_test.h"

typedef struct { cublasLtMatrixLayout_t a, b, d; } layouts;

static int make(layouts *l, cudaDataType ta, uint64_t ar, uint64_t ac, cudaDataType tb, uint64_t br, uint64_t bc,
                cudaDataType td, uint64_t dr, uint64_t dc, int order) {
    CK(cublasLtMatrixLayoutCreate(&l->a, ta, ar, ac, order == CUBLASLT_ORDER_ROW ? (int64_t)ac : (int64_t)ar));
    CK(cublasLtMatrixLayoutCreate(&l->b, tb, br, bc, order == CUBLASLT_ORDER_ROW ? (int64_t)bc : (int64_t)br));
    CK(cublasLtMatrixLayoutCreate(&l->d, td, dr, dc, order == CUBLASLT_ORDER_ROW ? (int64_t)dc : (int64_t)dr));
    int32_t o = order;
    CK(cublasLtMatrixLayoutSetAttribute(l->a, CUBLASLT_MATRIX_LAYOUT_ORDER, &o, sizeof o));
    CK(cublasLtMatrixLayoutSetAttribute(l->b, CUBLASLT_MATRIX_LAYOUT_ORDER, &o, sizeof o));
    CK(cublasLtMatrixLayoutSetAttribute(l->d, CUBLASLT_MATRIX_LAYOUT_ORDER, &o, sizeof o));
    return 0;
}

static void drop(layouts *l) {
    cublasLtMatrixLayoutDestroy(l->a);
    cublasLtMatrixLayoutDestroy(l->b);
    cublasLtMatrixLayoutDestroy(l->d);
}

static cublasLtMatmulDesc_t desc_new(cublasComputeType_t compute, cudaDataType scale, int32_t ta, int32_t tb,
                                     uint32_t epilogue, void *bias) {
    cublasLtMatmulDesc_t desc = NULL;
    if (cublasLtMatmulDescCreate(&desc, compute, scale)) return NULL;
    cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta);
    cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb);
    cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue);
    if (bias) cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias);
    return desc;
}

static int elapsed_us(cudaEvent_t a, cudaEvent_t b) {
    float ms = -1;
    cudaEventSynchronize(b);
    cudaEventElapsedTime(&ms, a, b);
    return (int)(ms * 1000.0f + 0.5f);
}

int main(void) {
    cublasHandle_t h;   /* torch hands its cuBLAS handle to cuBLASLt */
    CK(cublasCreate_v2(&h));
    cublasLtHandle_t lt = (cublasLtHandle_t)h;
    cudaStream_t s, s2;
    CUDA_CK(cudaStreamCreate(&s));
    CUDA_CK(cudaStreamCreate(&s2));
    void *d, *ws;
    CUDA_CK(cudaMalloc(&d, 1 << 20));
    CUDA_CK(cudaMalloc(&ws, 1 << 20));
    const float one = 1, zero = 0;

    printf("CHECK version %zu\n", cublasLtGetVersion());
    printf("CHECK cudart_version %zu\n", cublasLtGetCudartVersion());
    printf("CHECK status_name_15 %s\n", cublasLtGetStatusName(CUBLAS_STATUS_NOT_SUPPORTED));
    printf("CHECK status_string_15 %s\n", cublasLtGetStatusString(CUBLAS_STATUS_NOT_SUPPORTED));
    CK(cublasLtLoggerSetLevel(0));

    /* preference, as torch fills it */
    cublasLtMatmulPreference_t pref;
    CK(cublasLtMatmulPreferenceCreate(&pref));
    uint64_t max_ws = 1 << 20;
    uint32_t align = 16, got32 = 0;
    CK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_ws, sizeof max_ws));
    CK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align, sizeof align));
    size_t written = 0;
    CK(cublasLtMatmulPreferenceGetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &got32, 4, &written));
    printf("CHECK pref_default_align %u %zu\n", got32, written);

    /* torch's Linear with bias: y[64x32] = x[64x128] W[32x128]^T + b, asked of cuBLASLt column-major:
     * D[32x64] = op(A = W as 128x32)^T . B(x as 128x64) + bias[32] */
    cublasLtMatmulDesc_t desc = desc_new(CUBLAS_COMPUTE_32F, CUDA_R_32F, CUBLAS_OP_T, CUBLAS_OP_N,
                                         CUBLASLT_EPILOGUE_BIAS, d);
    int32_t bias_type = CUDA_R_16BF;
    CK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type));
    layouts L;
    if (make(&L, CUDA_R_16BF, 128, 32, CUDA_R_16BF, 128, 64, CUDA_R_16BF, 32, 64, CUBLASLT_ORDER_COL)) return 1;

    /* the attribute store */
    uint32_t ep = 0;
    int32_t i32 = 0;
    int64_t i64 = 1;
    uint64_t u64 = 0;
    int8_t fast = 1;
    CK(cublasLtMatmulDescGetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof ep, &written));
    printf("CHECK desc_epilogue %u %zu\n", ep, written);
    CK(cublasLtMatmulDescGetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, NULL, 0, &written));
    printf("CHECK desc_transa_size %zu\n", written);
    printf("CHECK desc_set_wrong_size %d\n", cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &i64, sizeof i64));
    printf("CHECK desc_get_wrong_size %d\n", cublasLtMatmulDescGetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &i64, sizeof i64, &written));
    printf("CHECK desc_unknown_attr %d\n", cublasLtMatmulDescGetAttribute(desc, (cublasLtMatmulDescAttributes_t)9, &i32, 4, &written));
    printf("CHECK desc_fast_accum_int8 %d\n", cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof fast));
    CK(cublasLtMatmulDescGetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE, &i32, 4, &written));
    printf("CHECK desc_aux_type_default %d\n", i32);
    CK(cublasLtMatrixLayoutGetAttribute(L.a, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &i32, 4, &written));
    printf("CHECK layout_batch_default %d\n", i32);
    CK(cublasLtMatrixLayoutGetAttribute(L.a, CUBLASLT_MATRIX_LAYOUT_ROWS, &u64, 8, &written));
    printf("CHECK layout_rows %llu %zu\n", (unsigned long long)u64, written);
    printf("CHECK layout_batch_int64 %d\n", cublasLtMatrixLayoutSetAttribute(L.a, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &i64, sizeof i64));

    /* heuristic: one valid algorithm within the workspace limit */
    cublasLtMatmulHeuristicResult_t res[4];
    memset(res, 0xff, sizeof res);
    int returned = 0;
    CK(cublasLtMatmulAlgoGetHeuristic(lt, desc, L.a, L.b, L.d, L.d, pref, 4, res, &returned));
    printf("CHECK heuristic %d %d %g %d\n", returned, (int)res[0].state, res[0].wavesCount,
           res[0].workspaceSize <= max_ws);
    printf("CHECK heuristic_zero_requested %d\n",
           cublasLtMatmulAlgoGetHeuristic(lt, desc, L.a, L.b, L.d, L.d, pref, 0, res + 1, &returned));

    /* op 1: the Linear -> row-major (64, 32, 128), W transposed, bias */
    CK(cublasLtMatmul(lt, desc, &one, d, L.a, d, L.b, &zero, d, L.d, d, L.d, &res[0].algo, ws, max_ws, s));

    /* inconsistent shapes: rejected, nothing recorded */
    layouts bad;
    if (make(&bad, CUDA_R_16BF, 128, 32, CUDA_R_16BF, 100, 64, CUDA_R_16BF, 32, 64, CUBLASLT_ORDER_COL)) return 1;
    printf("CHECK mismatch_heuristic %d\n", cublasLtMatmulAlgoGetHeuristic(lt, desc, bad.a, bad.b, bad.d, bad.d, pref, 1, res + 1, &returned));
    printf("CHECK mismatch_matmul %d\n", cublasLtMatmul(lt, desc, &one, d, bad.a, d, bad.b, &zero, d, bad.d, d, bad.d, &res[0].algo, ws, max_ws, s));
    drop(&bad);

    /* op 2: batched (3-D activations folded into a batch of 4), GELU with aux output and bias */
    int32_t batch = 4;
    int64_t stride = 128 * 64;
    cublasLtMatrixLayout_t all[3] = {L.a, L.b, L.d};
    for (int i = 0; i < 3; i++) {
        CK(cublasLtMatrixLayoutSetAttribute(all[i], CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch));
        CK(cublasLtMatrixLayoutSetAttribute(all[i], CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride));
    }
    ep = CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
    CK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof ep));
    CK(cublasLtMatmul(lt, desc, &one, d, L.a, d, L.b, &zero, d, L.d, d, L.d, &res[0].algo, ws, max_ws, s));
    drop(&L);
    cublasLtMatmulDescDestroy(desc);

    /* op 3: row-major layouts describe the row-major problem directly: D[64x32] = A[64x128] B[128x32] */
    desc = desc_new(CUBLAS_COMPUTE_32F, CUDA_R_32F, CUBLAS_OP_N, CUBLAS_OP_N, CUBLASLT_EPILOGUE_DEFAULT, NULL);
    if (make(&L, CUDA_R_16F, 64, 128, CUDA_R_16F, 128, 32, CUDA_R_16F, 64, 32, CUBLASLT_ORDER_ROW)) return 1;
    CK(cublasLtMatmul(lt, desc, &one, d, L.a, d, L.b, &zero, d, L.d, d, L.d, NULL, ws, max_ws, s));
    drop(&L);
    cublasLtMatmulDescDestroy(desc);

    /* op 4: fp8 (torch._scaled_mm): e4m3 inputs, A transposed, bf16 output, fast accumulation */
    desc = desc_new(CUBLAS_COMPUTE_32F, CUDA_R_32F, CUBLAS_OP_T, CUBLAS_OP_N, CUBLASLT_EPILOGUE_DEFAULT, NULL);
    CK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof fast));
    CK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &d, sizeof d));
    if (make(&L, CUDA_R_8F_E4M3, 256, 512, CUDA_R_8F_E4M3, 256, 16, CUDA_R_16BF, 512, 16, CUBLASLT_ORDER_COL)) return 1;
    CK(cublasLtMatmul(lt, desc, &one, d, L.a, d, L.b, &zero, d, L.d, d, L.d, NULL, ws, max_ws, s));
    drop(&L);
    cublasLtMatmulDescDestroy(desc);

    /* op 5: int8 (torch._int_mm): i8 inputs, i32 output and compute */
    desc = desc_new(CUBLAS_COMPUTE_32I, CUDA_R_32I, CUBLAS_OP_N, CUBLAS_OP_N, CUBLASLT_EPILOGUE_DEFAULT, NULL);
    if (make(&L, CUDA_R_8I, 32, 64, CUDA_R_8I, 64, 48, CUDA_R_32I, 32, 48, CUBLASLT_ORDER_COL)) return 1;
    CK(cublasLtMatmul(lt, desc, &one, d, L.a, d, L.b, &zero, d, L.d, d, L.d, NULL, ws, max_ws, s));

    /* op 6: bias gradient epilogue, on a second stream */
    ep = CUBLASLT_EPILOGUE_BGRADB;
    CK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof ep));
    CK(cublasLtMatmul(lt, desc, &one, d, L.a, d, L.b, &zero, d, L.d, d, L.d, NULL, ws, max_ws, s2));

    /* algorithms */
    cublasLtMatmulAlgo_t algo;
    CK(cublasLtMatmulAlgoInit(lt, CUBLAS_COMPUTE_32I, CUDA_R_32I, CUDA_R_8I, CUDA_R_8I, CUDA_R_32I, CUDA_R_32I, 5, &algo));
    int32_t id = -1;
    CK(cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof id, &written));
    uint32_t tile = 20;
    CK(cublasLtMatmulAlgoConfigSetAttribute(&algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof tile));
    tile = 0;
    CK(cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof tile, &written));
    size_t cluster_size = 0;
    CK(cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, NULL, 0, &cluster_size));
    printf("CHECK algo_config %d %u %zu\n", id, tile, cluster_size);
    cublasLtMatmulHeuristicResult_t check;
    CK(cublasLtMatmulAlgoCheck(lt, desc, L.a, L.b, L.d, L.d, &algo, &check));
    printf("CHECK algo_check %d %zu\n", (int)check.state, check.workspaceSize);
    uint32_t mask = 0;
    CK(cublasLtMatmulAlgoCapGetAttribute(&algo, CUBLASLT_ALGO_CAP_EPILOGUE_MASK, &mask, sizeof mask, &written));
    printf("CHECK algo_cap_epilogues %u\n", mask);
    cublasLtMatmulAlgo_t blank;
    memset(&blank, 0, sizeof blank);
    printf("CHECK algo_check_blank %d\n", cublasLtMatmulAlgoCheck(lt, desc, L.a, L.b, L.d, L.d, &blank, &check));

    /* timing on the stream given to cublasLtMatmul: a warm-up keeps it busy */
    cudaEvent_t e0, e1;
    CUDA_CK(cudaEventCreate(&e0));
    CUDA_CK(cudaEventCreate(&e1));
    ep = CUBLASLT_EPILOGUE_DEFAULT;
    CK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof ep));
    CK(cublasLtMatmul(lt, desc, &one, d, L.a, d, L.b, &zero, d, L.d, d, L.d, NULL, ws, max_ws, s2));   /* op 7 */
    CUDA_CK(cudaEventRecord(e0, s2));
    CK(cublasLtMatmul(lt, desc, &one, d, L.a, d, L.b, &zero, d, L.d, d, L.d, NULL, ws, max_ws, s2));   /* op 8 */
    CUDA_CK(cudaEventRecord(e1, s2));
    printf("CHECK matmul_us %d\n", elapsed_us(e0, e1));

    /* a cuBLASLt handle of its own works the same; handles are checked */
    cublasLtHandle_t own;
    CK(cublasLtCreate(&own));
    CK(cublasLtMatmulAlgoGetHeuristic(own, desc, L.a, L.b, L.d, L.d, pref, 1, res, &returned));
    printf("CHECK own_handle_heuristic %d\n", returned);
    CK(cublasLtDestroy(own));
    printf("CHECK null_handle %d\n", cublasLtMatmul(NULL, desc, &one, d, L.a, d, L.b, &zero, d, L.d, d, L.d, NULL, ws, max_ws, s));
    drop(&L);
    cublasLtMatmulDescDestroy(desc);
    cublasLtMatmulPreferenceDestroy(pref);
    CUDA_CK(cudaDeviceSynchronize());
    CK(cublasDestroy_v2(h));
    printf("CHECK done 1\n");
    return 0;
}
