/* Builds cuDNN backend graphs by hand, the way cudnn-frontend does, and executes them on the fake
 * libcudnn: the unified SDPA operation (GQA, causal through a diagonal-band subgraph), the composite
 * attention patterns (decode; causal through GEN_INDEX comparisons; softmax operation), an SDPA
 * backward, a matmul, a convolution, a pointwise graph, and a plan rebuilt from its JSON.
 * Prints `CHECK name value` lines; the pytest side (tests/test_cudnn.py) reads them and the trace,
 * where each executed graph leaves one event, in the order of the EXEC lines below.
 *
 *   gcc -Iinterpose/native/include -o cudnn_graphs tests/native/cudnn_graphs.c -Linterpose/lib -l:libcudnn.so.9
 */
#include "abi/cudnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef cudnnBackendDescriptor_t D;

static int g_failures;

#define OK(call)                                                                               \
    do {                                                                                       \
        cudnnStatus_t st_ = (call);                                                            \
        if (st_ != CUDNN_STATUS_SUCCESS) {                                                     \
            char msg_[256];                                                                    \
            cudnnGetLastErrorString(msg_, sizeof msg_);                                        \
            printf("FAIL %s:%d %s -> %s (%s)\n", __FILE__, __LINE__, #call, cudnnGetErrorString(st_), msg_); \
            g_failures++;                                                                      \
        }                                                                                      \
    } while (0)

static cudnnHandle_t g_handle;

static D make(cudnnBackendDescriptorType_t t) {
    D d = NULL;
    OK(cudnnBackendCreateDescriptor(t, &d));
    return d;
}
static void set_desc(D d, cudnnBackendAttributeName_t a, D v) { OK(cudnnBackendSetAttribute(d, a, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &v)); }
static void set_i64(D d, cudnnBackendAttributeName_t a, int64_t v) { OK(cudnnBackendSetAttribute(d, a, CUDNN_TYPE_INT64, 1, &v)); }
static void set_dtype(D d, cudnnBackendAttributeName_t a, cudnnDataType_t v) { OK(cudnnBackendSetAttribute(d, a, CUDNN_TYPE_DATA_TYPE, 1, &v)); }
static void fin(D d) { OK(cudnnBackendFinalize(d)); }

/* A packed (row-major) tensor. */
static D tensor(int64_t uid, cudnnDataType_t dt, int nd, const int64_t *dims, int virt) {
    D t = make(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
    int64_t strides[8], s = 1;
    for (int i = nd - 1; i >= 0; i--) { strides[i] = s; s *= dims[i]; }
    set_dtype(t, CUDNN_ATTR_TENSOR_DATA_TYPE, dt);
    OK(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, nd, dims));
    OK(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, nd, strides));
    set_i64(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, uid);
    set_i64(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, 16);
    bool v = virt != 0;
    OK(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &v));
    fin(t);
    return t;
}
#define T4(uid, dt, a, b, c, d, virt) tensor(uid, dt, 4, (int64_t[]){a, b, c, d}, virt)

static D scalar(int64_t uid) {
    D t = make(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
    int64_t one[4] = {1, 1, 1, 1};
    set_dtype(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_DATA_FLOAT);
    OK(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, one));
    OK(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, one));
    set_i64(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, uid);
    bool v = true;
    OK(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &v));
    fin(t);
    return t;
}

static D pointwise3(cudnnPointwiseMode_t mode, D x, D b, D t, D y, int64_t axis) {
    D pw = make(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
    OK(cudnnBackendSetAttribute(pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode));
    set_dtype(pw, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_DATA_FLOAT);
    if (axis >= 0) set_i64(pw, CUDNN_ATTR_POINTWISE_AXIS, axis);
    fin(pw);
    D op = make(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
    set_desc(op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw);
    set_desc(op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x);
    if (b) set_desc(op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, b);
    if (t) set_desc(op, CUDNN_ATTR_OPERATION_POINTWISE_TDESC, t);
    set_desc(op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y);
    fin(op);
    OK(cudnnBackendDestroyDescriptor(pw));   /* the operation keeps what it names */
    return op;
}
#define pointwise(mode, x, b, y, axis) pointwise3(mode, x, b, NULL, y, axis)

static D matmul(D a, D b, D c) {
    D mm = make(CUDNN_BACKEND_MATMUL_DESCRIPTOR);
    set_dtype(mm, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_DATA_FLOAT);
    fin(mm);
    D op = make(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR);
    set_desc(op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, a);
    set_desc(op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, b);
    set_desc(op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, c);
    set_desc(op, CUDNN_ATTR_OPERATION_MATMUL_DESC, mm);
    fin(op);
    return op;
}

static D reduction(cudnnReduceTensorOp_t red, D x, D y) {
    D r = make(CUDNN_BACKEND_REDUCTION_DESCRIPTOR);
    OK(cudnnBackendSetAttribute(r, CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &red));
    set_dtype(r, CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_DATA_FLOAT);
    fin(r);
    D op = make(CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR);
    set_desc(op, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, x);
    set_desc(op, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, y);
    set_desc(op, CUDNN_ATTR_OPERATION_REDUCTION_DESC, r);
    fin(op);
    return op;
}

static D graph(int n, D *ops) {
    D g = make(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
    if (g_handle) OK(cudnnBackendSetAttribute(g, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &g_handle));
    OK(cudnnBackendSetAttribute(g, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, n, ops));
    fin(g);
    return g;
}

/* Heuristics -> engine config -> execution plan, asking what cudnn-frontend asks on the way. */
static D plan_for(D g, int report) {
    D heur = make(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    set_desc(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, g);
    cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
    OK(cudnnBackendSetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode));
    fin(heur);
    int64_t n = -1;
    OK(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &n, NULL));
    D cfg = make(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    int64_t got = -1;
    OK(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &got, &cfg));
    OK(cudnnBackendDestroyDescriptor(heur));   /* the copied config must outlive the heuristics */

    D engine = make(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
    int64_t c = -1;
    OK(cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &c, &engine));
    int64_t index = -1, notes = -1, behaviour = -1, knobs = -1;
    cudnnBackendNumericalNote_t note_buf[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
    OK(cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &c, &index));
    OK(cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &notes, note_buf));
    OK(cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE,
                                CUDNN_BEHAVIOR_NOTE_TYPE_COUNT, &behaviour, NULL));
    D knob_buf[4] = {make(CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR), 0, 0, 0};
    OK(cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &knobs, knob_buf));
    OK(cudnnBackendDestroyDescriptor(knob_buf[0]));
    OK(cudnnBackendDestroyDescriptor(engine));

    D plan = make(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
    OK(cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &g_handle));
    set_desc(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, cfg);
    fin(plan);
    OK(cudnnBackendDestroyDescriptor(cfg));
    int64_t ws = -1;
    OK(cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &c, &ws));
    if (report) {
        printf("CHECK heur_results %lld %lld\n", (long long)n, (long long)got);
        printf("CHECK engine_index %lld\n", (long long)index);
        printf("CHECK notes %lld %lld\n", (long long)notes, (long long)behaviour);
        printf("CHECK knobs %lld\n", (long long)knobs);
        printf("CHECK workspace %lld\n", (long long)ws);
    }
    return plan;
}

static int g_exec;
static void execute(D plan, const char *what) {
    D vp = make(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
    int64_t uids[1] = {1};
    void *ptrs[1] = {(void *)0x1000};
    void *ws = NULL;
    OK(cudnnBackendSetAttribute(vp, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 1, uids));
    OK(cudnnBackendSetAttribute(vp, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 1, ptrs));
    OK(cudnnBackendSetAttribute(vp, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws));
    fin(vp);
    OK(cudnnBackendExecute(g_handle, plan, vp));
    OK(cudnnBackendDestroyDescriptor(vp));
    printf("EXEC %d %s\n", g_exec++, what);
}

/* 1. Unified SDPA forward, GQA 8 query heads over 2 KV heads, causal through the score-modifier
 *    subgraph's diagonal band mask (right bound only), bf16, by-value scale. */
static D unified_sdpa(void) {
    D q = T4(1, CUDNN_DATA_BFLOAT16, 2, 8, 128, 64, 0), k = T4(2, CUDNN_DATA_BFLOAT16, 2, 2, 128, 64, 0);
    D v = T4(3, CUDNN_DATA_BFLOAT16, 2, 2, 128, 64, 0), o = T4(4, CUDNN_DATA_BFLOAT16, 2, 8, 128, 64, 0);
    D stats = T4(5, CUDNN_DATA_FLOAT, 2, 8, 128, 1, 0), scale = scalar(6);
    /* subgraph: scores (uid 100) -> band mask with -inf (uid 101) -> uid 102 */
    D s_in = T4(100, CUDNN_DATA_FLOAT, 2, 8, 128, 128, 1), s_out = T4(102, CUDNN_DATA_FLOAT, 2, 8, 128, 128, 1);
    D neg_inf = scalar(101);
    D mask = make(CUDNN_BACKEND_OPERATION_DIAGONAL_BAND_MASK_DESCRIPTOR);
    set_desc(mask, CUDNN_ATTR_OPERATION_DIAGONAL_BAND_MASK_XDESC, s_in);
    set_desc(mask, CUDNN_ATTR_OPERATION_DIAGONAL_BAND_MASK_BDESC, neg_inf);
    set_desc(mask, CUDNN_ATTR_OPERATION_DIAGONAL_BAND_MASK_YDESC, s_out);
    fin(mask);
    D sub = graph(1, &mask);
    D sdpa = make(CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR);
    set_desc(sdpa, CUDNN_ATTR_OPERATION_SDPA_FWD_QDESC, q);
    set_desc(sdpa, CUDNN_ATTR_OPERATION_SDPA_FWD_KDESC, k);
    set_desc(sdpa, CUDNN_ATTR_OPERATION_SDPA_FWD_VDESC, v);
    set_desc(sdpa, CUDNN_ATTR_OPERATION_SDPA_FWD_ODESC, o);
    set_desc(sdpa, CUDNN_ATTR_OPERATION_SDPA_FWD_STATSDESC, stats);
    set_desc(sdpa, CUDNN_ATTR_OPERATION_SDPA_FWD_SCALEDESC, scale);
    set_desc(sdpa, CUDNN_ATTR_OPERATION_SDPA_FWD_SUBGRAPH, sub);
    set_i64(sdpa, CUDNN_ATTR_OPERATION_SDPA_FWD_SUBGRAPH_INPUT_UID, 100);
    set_i64(sdpa, CUDNN_ATTR_OPERATION_SDPA_FWD_SUBGRAPH_OUTPUT_UID, 102);
    fin(sdpa);
    D g = graph(1, &sdpa);
    D plan = plan_for(g, 1);
    /* the caller lets go of everything but the plan, as cudnn-frontend may */
    D all[] = {q, k, v, o, stats, scale, s_in, s_out, neg_inf, mask, sub, sdpa, g};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) OK(cudnnBackendDestroyDescriptor(all[i]));
    return plan;
}

/* 2. Composite decode attention: S = Q.K^T, scale, softmax from reductions, O = P.V; f16, no mask. */
static D composite_decode(void) {
    cudnnDataType_t h = CUDNN_DATA_HALF, f = CUDNN_DATA_FLOAT;
    D q = T4(1, h, 1, 4, 1, 128, 0), kt = T4(2, h, 1, 4, 128, 300, 0), v = T4(3, h, 1, 4, 300, 128, 0);
    D o = T4(4, h, 1, 4, 1, 128, 0), scale = scalar(5);
    D s = T4(10, f, 1, 4, 1, 300, 1), ss = T4(11, f, 1, 4, 1, 300, 1), mx = T4(12, f, 1, 4, 1, 1, 1);
    D sub = T4(13, f, 1, 4, 1, 300, 1), e = T4(14, f, 1, 4, 1, 300, 1), sum = T4(15, f, 1, 4, 1, 1, 1);
    D p = T4(16, h, 1, 4, 1, 300, 1);
    D ops[] = {
        matmul(q, kt, s),
        pointwise(CUDNN_POINTWISE_MUL, s, scale, ss, -1),
        reduction(CUDNN_REDUCE_TENSOR_MAX, ss, mx),
        pointwise(CUDNN_POINTWISE_SUB, ss, mx, sub, -1),
        pointwise(CUDNN_POINTWISE_EXP, sub, NULL, e, -1),
        reduction(CUDNN_REDUCE_TENSOR_ADD, e, sum),
        pointwise(CUDNN_POINTWISE_DIV, e, sum, p, -1),
        matmul(p, v, o),
    };
    return plan_for(graph(8, ops), 0);
}

/* 3. Composite causal attention: the mask compares GEN_INDEX row (axis 2) >= column (axis 3) and
 *    selects -inf; softmax is one SOFTMAX operation; bf16, 1 x 2 heads x 64 x 64, head dim 32. */
static D composite_causal(void) {
    cudnnDataType_t b = CUDNN_DATA_BFLOAT16, f = CUDNN_DATA_FLOAT, i32 = CUDNN_DATA_INT32;
    D q = T4(1, b, 1, 2, 64, 32, 0), kt = T4(2, b, 1, 2, 32, 64, 0), v = T4(3, b, 1, 2, 64, 32, 0);
    D o = T4(4, b, 1, 2, 64, 32, 0), neg_inf = scalar(5);
    D s = T4(10, f, 1, 2, 64, 64, 1), row = T4(11, i32, 1, 2, 64, 64, 1), col = T4(12, i32, 1, 2, 64, 64, 1);
    D keep = T4(13, CUDNN_DATA_BOOLEAN, 1, 2, 64, 64, 1), masked = T4(14, f, 1, 2, 64, 64, 1);
    D p = T4(15, b, 1, 2, 64, 64, 1);
    D sel = pointwise3(CUDNN_POINTWISE_BINARY_SELECT, s, neg_inf, keep, masked, -1);
    D softmax = make(CUDNN_BACKEND_OPERATION_SOFTMAX_DESCRIPTOR);
    set_desc(softmax, CUDNN_ATTR_OPERATION_SOFTMAX_XDESC, masked);
    set_desc(softmax, CUDNN_ATTR_OPERATION_SOFTMAX_YDESC, p);
    fin(softmax);
    D ops[] = {
        matmul(q, kt, s),
        pointwise(CUDNN_POINTWISE_GEN_INDEX, s, NULL, row, 2),
        pointwise(CUDNN_POINTWISE_GEN_INDEX, s, NULL, col, 3),
        pointwise(CUDNN_POINTWISE_CMP_GE, row, col, keep, -1),
        sel,
        softmax,
        matmul(p, v, o),
    };
    return plan_for(graph(7, ops), 0);
}

/* 4. The unified SDPA backward operation, no mask. */
static D unified_sdpa_bwd(void) {
    cudnnDataType_t b = CUDNN_DATA_BFLOAT16;
    D q = T4(1, b, 4, 16, 512, 128, 0), k = T4(2, b, 4, 4, 512, 128, 0), v = T4(3, b, 4, 4, 512, 128, 0);
    D o = T4(4, b, 4, 16, 512, 128, 0), dO = T4(5, b, 4, 16, 512, 128, 0);
    D stats = T4(6, CUDNN_DATA_FLOAT, 4, 16, 512, 1, 0);
    D dq = T4(7, b, 4, 16, 512, 128, 0), dk = T4(8, b, 4, 4, 512, 128, 0), dv = T4(9, b, 4, 4, 512, 128, 0);
    D op = make(CUDNN_BACKEND_OPERATION_SDPA_BWD_DESCRIPTOR);
    set_desc(op, CUDNN_ATTR_OPERATION_SDPA_BWD_QDESC, q);
    set_desc(op, CUDNN_ATTR_OPERATION_SDPA_BWD_KDESC, k);
    set_desc(op, CUDNN_ATTR_OPERATION_SDPA_BWD_VDESC, v);
    set_desc(op, CUDNN_ATTR_OPERATION_SDPA_BWD_ODESC, o);
    set_desc(op, CUDNN_ATTR_OPERATION_SDPA_BWD_DODDESC, dO);
    set_desc(op, CUDNN_ATTR_OPERATION_SDPA_BWD_STATSDESC, stats);
    set_desc(op, CUDNN_ATTR_OPERATION_SDPA_BWD_DQDESC, dq);
    set_desc(op, CUDNN_ATTR_OPERATION_SDPA_BWD_DKDESC, dk);
    set_desc(op, CUDNN_ATTR_OPERATION_SDPA_BWD_DVDESC, dv);
    fin(op);
    return plan_for(graph(1, &op), 0);
}

/* 5. A batched matmul with a bias epilogue: [3, 256, 512] x [3, 512, 1024]. */
static D matmul_graph(void) {
    cudnnDataType_t b = CUDNN_DATA_BFLOAT16;
    D a = tensor(1, b, 3, (int64_t[]){3, 256, 512}, 0), w = tensor(2, b, 3, (int64_t[]){3, 512, 1024}, 0);
    D c = tensor(3, CUDNN_DATA_FLOAT, 3, (int64_t[]){3, 256, 1024}, 1);
    D bias = tensor(4, b, 3, (int64_t[]){1, 1, 1024}, 0), y = tensor(5, b, 3, (int64_t[]){3, 256, 1024}, 0);
    D ops[] = {matmul(a, w, c), pointwise(CUDNN_POINTWISE_ADD, c, bias, y, -1)};
    return plan_for(graph(2, ops), 0);
}

/* 6. A forward convolution: x [8, 64, 56, 56], w [128, 64, 3, 3] -> y [8, 128, 56, 56]. */
static D conv_graph(void) {
    cudnnDataType_t h = CUDNN_DATA_HALF;
    D x = T4(1, h, 8, 64, 56, 56, 0), w = T4(2, h, 128, 64, 3, 3, 0), y = T4(3, h, 8, 128, 56, 56, 0);
    D conv = make(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
    set_dtype(conv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_DATA_FLOAT);
    set_i64(conv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, 2);
    fin(conv);
    D op = make(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
    set_desc(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, x);
    set_desc(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, w);
    set_desc(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, y);
    set_desc(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, conv);
    double alpha = 1, beta = 0;
    OK(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_DOUBLE, 1, &alpha));
    OK(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_DOUBLE, 1, &beta));
    fin(op);
    return plan_for(graph(1, &op), 0);
}

/* 7. A lone pointwise graph (relu over 1M floats): a kernel named after its operation. */
static D pointwise_graph(void) {
    D x = tensor(1, CUDNN_DATA_FLOAT, 2, (int64_t[]){1024, 1024}, 0);
    D y = tensor(2, CUDNN_DATA_FLOAT, 2, (int64_t[]){1024, 1024}, 0);
    D op = pointwise(CUDNN_POINTWISE_RELU_FWD, x, NULL, y, -1);
    return plan_for(graph(1, &op), 0);
}

/* 8. A plan rebuilt from another plan's JSON representation (cudnn-frontend's plan cache). */
static D plan_from_json(D plan) {
    int64_t n = 0;
    OK(cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, CUDNN_TYPE_CHAR, 0, &n, NULL));
    char *json = calloc(n + 1, 1);
    OK(cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, CUDNN_TYPE_CHAR, n, &n, json));
    printf("CHECK json_ok %d\n", n > 2 && json[0] == '{' && (int64_t)strlen(json) == n - 1);
    D p = make(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
    OK(cudnnBackendSetAttribute(p, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &g_handle));
    OK(cudnnBackendSetAttribute(p, CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, CUDNN_TYPE_CHAR, n, json));
    fin(p);
    free(json);
    return p;
}

int main(void) {
    printf("CHECK version %zu\n", cudnnGetVersion());
    int major = -1, minor = -1;
    OK(cudnnGetProperty(MAJOR_VERSION, &major));
    OK(cudnnGetProperty(MINOR_VERSION, &minor));
    printf("CHECK property %d.%d\n", major, minor);
    printf("CHECK error_string %s\n", cudnnGetErrorString(CUDNN_STATUS_NOT_SUPPORTED));

    OK(cudnnCreate(&g_handle));
    OK(cudnnSetStream(g_handle, NULL));
    cudaStream_t s = (cudaStream_t)0x1234;
    OK(cudnnGetStream(g_handle, &s));
    printf("CHECK stream_null %d\n", s == NULL);

    D p1 = unified_sdpa();
    execute(p1, "unified_sdpa");
    execute(composite_decode(), "composite_decode");
    execute(composite_causal(), "composite_causal");
    execute(unified_sdpa_bwd(), "unified_sdpa_bwd");
    execute(matmul_graph(), "matmul");
    execute(conv_graph(), "conv");
    execute(pointwise_graph(), "pointwise");
    execute(plan_from_json(p1), "json_plan");

    /* the legacy API: a batch norm and a v7 convolution (f32 with default math: TF32) */
    cudnnTensorDescriptor_t x, y, bn;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    OK(cudnnCreateTensorDescriptor(&x));
    OK(cudnnCreateTensorDescriptor(&y));
    OK(cudnnCreateTensorDescriptor(&bn));
    OK(cudnnSetTensorNdDescriptor(x, CUDNN_DATA_FLOAT, 4, (int[]){8, 64, 56, 56}, (int[]){64 * 56 * 56, 56 * 56, 56, 1}));
    OK(cudnnDeriveBNTensorDescriptor(bn, x, CUDNN_BATCHNORM_SPATIAL));
    int nd = 0, bdim[4] = {0};
    cudnnDataType_t bdt;
    OK(cudnnGetTensorNdDescriptor(bn, 4, &bdt, &nd, bdim, NULL));
    printf("CHECK bn_desc %d %d %d %d %d %d\n", (int)bdt, nd, bdim[0], bdim[1], bdim[2], bdim[3]);
    OK(cudnnBatchNormalizationForwardInference(g_handle, CUDNN_BATCHNORM_SPATIAL, NULL, NULL, x, NULL, x, NULL, bn,
                                               NULL, NULL, NULL, NULL, 1e-5));
    printf("EXEC %d batchnorm\n", g_exec++);
    OK(cudnnCreateFilterDescriptor(&w));
    OK(cudnnSetFilterNdDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, 4, (int[]){128, 64, 3, 3}));
    OK(cudnnCreateConvolutionDescriptor(&conv));
    OK(cudnnSetConvolutionNdDescriptor(conv, 2, (int[]){1, 1}, (int[]){1, 1}, (int[]){1, 1}, CUDNN_CROSS_CORRELATION,
                                       CUDNN_DATA_FLOAT));
    int out[4] = {0};
    OK(cudnnGetConvolutionNdForwardOutputDim(conv, x, w, 4, out));
    printf("CHECK conv_out %d %d %d %d\n", out[0], out[1], out[2], out[3]);
    OK(cudnnSetTensorNdDescriptor(y, CUDNN_DATA_FLOAT, 4, out, (int[]){128 * 56 * 56, 56 * 56, 56, 1}));
    int algos = 0;
    cudnnConvolutionFwdAlgoPerf_t perf;
    OK(cudnnGetConvolutionForwardAlgorithm_v7(g_handle, x, w, conv, y, 1, &algos, &perf));
    size_t ws = 1;
    OK(cudnnGetConvolutionForwardWorkspaceSize(g_handle, x, w, conv, y, perf.algo, &ws));
    printf("CHECK conv_algo %d %d %zu\n", algos, (int)perf.algo, ws);
    OK(cudnnConvolutionForward(g_handle, NULL, x, NULL, w, NULL, conv, perf.algo, NULL, 0, NULL, y, NULL));
    printf("EXEC %d legacy_conv\n", g_exec++);
    OK(cudnnDestroyConvolutionDescriptor(conv));
    OK(cudnnDestroyFilterDescriptor(w));
    OK(cudnnDestroyTensorDescriptor(x));
    OK(cudnnDestroyTensorDescriptor(y));
    OK(cudnnDestroyTensorDescriptor(bn));

    /* errors name themselves */
    cudnnStatus_t st = cudnnBackendExecute(g_handle, (D)&st, NULL);
    char msg[256];
    cudnnGetLastErrorString(msg, sizeof msg);
    printf("CHECK bad_plan %d %d\n", (int)st, strstr(msg, "not an execution plan") != NULL);

    OK(cudnnDestroy(g_handle));
    printf("CHECK failures %d\n", g_failures);
    return g_failures != 0;
}
