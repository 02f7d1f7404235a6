/* cuBLAS through the fakes: handle state, every GEMM-family entry point torch uses, argument errors,
 * stream timing and graph capture. tests/test_cublas.py checks the CHECK lines, the requests that
 * reached the predictor and the trace (in call order: the ops marked "op N" below). */
#include "cublas_test.h"

#include <string.h>

static int elapsed_us(cudaEvent_t a, cudaEvent_t b) {
    float ms = -1;
    cudaEventSynchronize(b);
    cudaEventElapsedTime(&ms, a, b);
    return (int)(ms * 1000.0f + 0.5f);
}

int main(void) {
    size_t free0, free1, free2, total;
    CUDA_CK(cudaFree(0));
    CUDA_CK(cudaMemGetInfo(&free0, &total));
    cublasHandle_t h;
    CK(cublasCreate_v2(&h));
    CUDA_CK(cudaMemGetInfo(&free1, &total));
    printf("CHECK create_mib %zu\n", (free0 - free1) >> 20);

    /* library information */
    int v = 0, major = 0, minor = 0, patch = 0;
    CK(cublasGetVersion_v2(h, &v));
    CK(cublasGetProperty(MAJOR_VERSION, &major));
    CK(cublasGetProperty(MINOR_VERSION, &minor));
    CK(cublasGetProperty(PATCH_LEVEL, &patch));
    printf("CHECK version %d\n", v);
    printf("CHECK property %d.%d.%d\n", major, minor, patch);
    printf("CHECK cudart_version %zu\n", cublasGetCudartVersion());
    printf("CHECK status_name_7 %s\n", cublasGetStatusName(CUBLAS_STATUS_INVALID_VALUE));
    printf("CHECK status_string_7 %s\n", cublasGetStatusString(CUBLAS_STATUS_INVALID_VALUE));
    printf("CHECK status_name_99 %s\n", cublasGetStatusName((cublasStatus_t)99));
    CK(cublasLoggerConfigure(1, 0, 0, NULL));

    /* handle defaults and settings */
    cublasMath_t mm = 7;
    cublasPointerMode_t pm = 7;
    cudaStream_t got = (cudaStream_t)0x1234;
    int sms = -1;
    CK(cublasGetMathMode(h, &mm));
    CK(cublasGetPointerMode_v2(h, &pm));
    CK(cublasGetStream_v2(h, &got));
    CK(cublasGetSmCountTarget(h, &sms));
    printf("CHECK defaults %d %d %d %d\n", (int)mm, (int)pm, got == NULL, sms);
    cudaStream_t s;
    CUDA_CK(cudaStreamCreate(&s));
    CK(cublasSetStream_v2(h, s));
    CK(cublasGetStream_v2(h, &got));
    printf("CHECK stream_roundtrip %d\n", got == s);
    CK(cublasSetSmCountTarget(h, 100));
    CK(cublasGetSmCountTarget(h, &sms));
    printf("CHECK sm_count_target %d\n", sms);

    void *d;
    CUDA_CK(cudaMalloc(&d, 1 << 20));
    CK(cublasSetWorkspace_v2(h, d, 1 << 20));
    const float one = 1, zero = 0;
    const double done = 1, dzero = 0;
    const void *ptrs[8] = {d, d, d, d, d, d, d, d};

    /* op 1: Sgemm, column-major C[32x64] = A[32x128] B[128x64] -> row-major (64, 32, 128) */
    CK(cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 32, 64, 128, &one, d, 32, d, 128, &zero, d, 32));
    /* op 2: GemmEx bf16 with A transposed (torch's x @ W^T) -> (64, 32, 128), trans_b */
    CK(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, 32, 64, 128, &one, d, CUDA_R_16BF, 128, d, CUDA_R_16BF, 128, &zero,
                    d, CUDA_R_16BF, 32, CUBLAS_COMPUTE_32F, -1));
    /* op 3: GemmEx f16 inputs, f32 output */
    CK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 32, 64, 128, &one, d, CUDA_R_16F, 32, d, CUDA_R_16F, 128, &zero, d,
                    CUDA_R_32F, 32, CUBLAS_COMPUTE_32F, -1));
    /* op 4: GemmStridedBatchedEx (torch bmm), B transposed -> (24, 16, 40) x 7, trans_a */
    CK(cublasGemmStridedBatchedEx(h, CUBLAS_OP_N, CUBLAS_OP_T, 16, 24, 40, &one, d, CUDA_R_16BF, 16, 640, d,
                                  CUDA_R_16BF, 24, 960, &zero, d, CUDA_R_16BF, 16, 384, 7, CUBLAS_COMPUTE_32F, -1));
    /* op 5: Hgemm (f16 compute) */
    const unsigned short hone = 0x3c00, hzero = 0;
    CK(cublasHgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 8, 16, 32, &hone, d, 8, d, 32, &hzero, d, 8));
    /* op 6: Dgemm */
    CK(cublasDgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 8, 16, 32, &done, d, 8, d, 32, &dzero, d, 8));
    /* op 7: SgemmEx, bf16 in, f32 out */
    CK(cublasSgemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 8, 16, 32, &one, d, CUDA_R_16BF, 8, d, CUDA_R_16BF, 32, &zero, d,
                     CUDA_R_32F, 8));
    /* op 8: SgemmStridedBatched x 3 */
    CK(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 8, 16, 32, &one, d, 8, 256, d, 32, 512, &zero, d, 8, 128,
                                 3));
    /* op 9: SgemmBatched x 5 (pointer arrays) */
    CK(cublasSgemmBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 8, 16, 32, &one, (const float *const *)ptrs, 8,
                          (const float *const *)ptrs, 32, &zero, (float *const *)ptrs, 8, 5));
    /* op 10: GemmBatchedEx x 2, f16 compute */
    CK(cublasGemmBatchedEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 8, 16, 32, &hone, ptrs, CUDA_R_16F, 8, ptrs, CUDA_R_16F, 32,
                           &hzero, (void *const *)ptrs, CUDA_R_16F, 8, 2, CUBLAS_COMPUTE_16F, -1));
    /* op 11: TF32 math mode turns an f32 Sgemm into TF32 tensor-core work */
    CK(cublasSetMathMode(h, CUBLAS_TF32_TENSOR_OP_MATH));
    CK(cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 32, 64, 128, &one, d, 32, d, 128, &zero, d, 32));
    CK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    /* op 12: Sgemv, y[64] = A[128x64]^T x -> (1, 64, 128) */
    CK(cublasSgemv_v2(h, CUBLAS_OP_T, 128, 64, &one, d, 128, d, 1, &zero, d, 1));
    /* op 13: Sdot in host pointer mode: the host waits, the (uncomputed) result reads 0 */
    float result = 42;
    CK(cublasSdot_v2(h, 100, d, 1, d, 1, &result));
    printf("CHECK dot_host_result %g\n", result);
    /* op 14: DotEx bf16 in device pointer mode (torch.dot on bf16) */
    CK(cublasSetPointerMode_v2(h, CUBLAS_POINTER_MODE_DEVICE));
    CK(cublasDotEx(h, 200, d, CUDA_R_16BF, 1, d, CUDA_R_16BF, 1, d, CUDA_R_16BF, CUDA_R_32F));
    CK(cublasSetPointerMode_v2(h, CUBLAS_POINTER_MODE_HOST));
    /* op 15: k = 0 still launches (C = beta C) */
    CK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 32, 64, 0, &one, d, CUDA_R_16BF, 32, d, CUDA_R_16BF, 1, &zero, d,
                    CUDA_R_16BF, 32, CUBLAS_COMPUTE_32F, -1));
    /* op 16: Cgemm (complex f32) */
    const float cone[2] = {1, 0}, czero[2] = {0, 0};
    CK(cublasCgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_C, 8, 16, 32, cone, d, 8, d, 16, czero, d, 8));

    /* argument errors, as the real library returns them; none records work */
    printf("CHECK bad_lda %d\n", cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 32, 64, 128, &one, d, 10, d, 128, &zero, d, 32));
    printf("CHECK bad_trans %d\n", cublasSgemm_v2(h, (cublasOperation_t)3, CUBLAS_OP_N, 32, 64, 128, &one, d, 32, d, 128, &zero, d, 32));
    printf("CHECK null_handle %d\n", cublasSgemm_v2(NULL, CUBLAS_OP_N, CUBLAS_OP_N, 32, 64, 128, &one, d, 32, d, 128, &zero, d, 32));
    printf("CHECK negative_k %d\n", cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 32, 64, -1, &one, d, 32, d, 128, &zero, d, 32));
    printf("CHECK empty_m %d\n", cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 0, 64, 128, &one, d, 1, d, 128, &zero, d, 1));

    /* timing on the handle's stream: a warm-up keeps it busy, so the events bracket one GEMM exactly */
    cudaEvent_t e0, e1;
    CUDA_CK(cudaEventCreate(&e0));
    CUDA_CK(cudaEventCreate(&e1));
    CK(cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 32, 64, 128, &one, d, 32, d, 128, &zero, d, 32));   /* op 17 */
    CUDA_CK(cudaEventRecord(e0, s));
    CK(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, 32, 64, 128, &one, d, CUDA_R_16BF, 128, d, CUDA_R_16BF, 128, &zero,
                    d, CUDA_R_16BF, 32, CUBLAS_COMPUTE_32F, -1));                                          /* op 19 */
    CUDA_CK(cudaEventRecord(e1, s));
    printf("CHECK gemm_us %d\n", elapsed_us(e0, e1));

    /* graph capture: two GEMMs captured, replayed twice */
    cudaGraph_t g;
    cudaGraphExec_t x;
    CUDA_CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    CK(cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 32, 64, 128, &one, d, 32, d, 128, &zero, d, 32));
    CK(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, 32, 64, 128, &one, d, CUDA_R_16BF, 128, d, CUDA_R_16BF, 128, &zero,
                    d, CUDA_R_16BF, 32, CUBLAS_COMPUTE_32F, -1));
    float captured = 42;   /* a host-mode result cannot be waited for inside a capture */
    printf("CHECK dot_host_in_capture %d\n", cublasSdot_v2(h, 100, d, 1, d, 1, &captured));
    CUDA_CK(cudaStreamEndCapture(s, &g));
    size_t nodes = 0;
    CUDA_CK(cudaGraphGetNodes(g, NULL, &nodes));
    printf("CHECK graph_nodes %zu\n", nodes);
    CUDA_CK(cudaGraphInstantiate(&x, g, 0));
    CK(cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 32, 64, 128, &one, d, 32, d, 128, &zero, d, 32));   /* op 18 */
    CUDA_CK(cudaEventRecord(e0, s));
    CUDA_CK(cudaGraphLaunch(x, s));   /* ops 20, 21 */
    CUDA_CK(cudaGraphLaunch(x, s));   /* ops 22, 23 */
    CUDA_CK(cudaEventRecord(e1, s));
    printf("CHECK graph_us %d\n", elapsed_us(e0, e1));

    /* the NULL stream is the legacy default stream */
    CK(cublasSetStream_v2(h, NULL));
    CK(cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, d, 4, d, 4, &zero, d, 4));   /* op 24 */
    CUDA_CK(cudaDeviceSynchronize());

    CK(cublasDestroy_v2(h));
    CUDA_CK(cudaFree(d));
    CUDA_CK(cudaMemGetInfo(&free2, &total));
    printf("CHECK destroy_returns_workspace %d\n", free2 == free0);
    printf("CHECK done 1\n");
    return 0;
}
