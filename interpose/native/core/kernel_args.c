/* Kernels predicted from their launch arguments rather than their geometry.
 *
 * torch._grouped_mm (transformers' MoE experts) launches prepare_grouped_gemm_data<<<1, groups>>>,
 * which turns the offsets into one problem per group, then a persistent cutlass GEMM whose grid is
 * the SM count whatever the sizes. The prepare kernel's arguments are torch's GroupMMCommon.cuh
 * signature: 15 pointers, int32 M, N, K (-1 for the dimension the offsets split), then the strides
 * and shapes of A and B. It becomes a "grouped_mm" GEMM op: a batch of equal GEMMs, which the
 * predictor prices from measurements of torch._grouped_mm itself (a batch of separate cuBLAS GEMMs
 * costs up to ~1.6x as much). The split is device data, never computed here, so routed rows
 * (2d x 3d, MoE) go evenly to the experts expected to get any,
 * other splits evenly to all. */
#define _GNU_SOURCE
#include "revati.h"

#include <string.h>

enum { PREPARE_M = 15, PREPARE_N = 16, PREPARE_K = 17, PREPARE_SHAPE_A = 21, PREPARE_SHAPE_B = 22 };

static __thread struct {
    bool set;
    const rv_stream *stream;
    int64_t m, n, k, groups;
    const char *dtype;
} t_grouped;

int rv_kernel_role(const char *name) {
    if (!name) return RV_KERNEL_PLAIN;
    if (strstr(name, "prepare_grouped_gemm_data")) return RV_KERNEL_GROUPED_MM_PREPARE;
    if (strstr(name, "cutlass") && strstr(name, "GroupProblemShape")) return RV_KERNEL_GROUPED_MM;
    if (strstr(name, "reduce_kernel") && strstr(name, "ReduceOp")) return RV_KERNEL_REDUCE;
    return RV_KERNEL_PLAIN;
}

/* Of `groups` experts, how many get at least one of `rows` rows routed uniformly at random: a
 * grouped GEMM skips empty groups, so small decode batches read only those experts' weights. */
static int64_t active_groups(int64_t groups, int64_t rows) {
    double miss = 1.0, base = 1.0 - 1.0 / (double)groups;
    for (int64_t e = rows; e > 0; e >>= 1, base *= base)   /* miss = (1 - 1/groups)^rows */
        if (e & 1) miss *= base;
    int64_t active = (int64_t)((double)groups * (1.0 - miss) + 0.5);
    return active < 1 ? 1 : active > groups ? groups : active;
}

/* The element type of A as the prepare kernel's first template argument names it (demangled or not). */
static const char *dtype_of(const char *name) {
    const char *t = strstr(name, "prepare_grouped_gemm_data");
    if (!t) return "bf16";
    if (strstr(t, "float_e4m3") || strstr(t, "e4m3")) return "f8e4m3";
    if (strstr(t, "half_t")) return "f16";
    return "bf16";
}

bool rv_kernel_args_op(const rv_kernel *k, const unsigned block[3], void **args, rv_stream *s, rv_op *op,
                       rv_ns *duration) {
    if (k->role == RV_KERNEL_GROUPED_MM_PREPARE) {
        t_grouped.set = false;
        if (args && args[PREPARE_M] && args[PREPARE_N] && args[PREPARE_K] && args[PREPARE_SHAPE_A] && args[PREPARE_SHAPE_B]) {
            /* the dimension the offsets split is passed as -1: its total is in A's or B's shape
             * (2d x 3d: A's rows; 3d x 2d: B's columns; 2d x 2d: A's columns), shared among the groups */
            const int64_t *shape_a = args[PREPARE_SHAPE_A], *shape_b = args[PREPARE_SHAPE_B];
            int64_t g = block[0] ? block[0] : 1;
            int64_t m = *(const int32_t *)args[PREPARE_M], n = *(const int32_t *)args[PREPARE_N],
                    kk = *(const int32_t *)args[PREPARE_K];
            if (m <= 0) {   /* rows routed to experts: the groups that get any (expected, routing uniform) */
                int64_t rows = shape_a[0];
                g = active_groups(g, rows);
                m = (rows + g - 1) / g;
            }
            if (n <= 0) n = (shape_b[1] + g - 1) / g;
            if (kk <= 0) kk = (shape_a[1] + g - 1) / g;
            t_grouped.m = m;
            t_grouped.n = n;
            t_grouped.k = kk;
            t_grouped.groups = g;
            t_grouped.dtype = dtype_of(k->name);
            t_grouped.stream = s;
            /* implausible sizes mean another signature: the kernels then run as plain kernels */
            t_grouped.set = m > 0 && n > 0 && kk > 0 && m <= (1 << 24) && n <= (1 << 24) && kk <= (1 << 24);
        }
        return false;   /* the prepare kernel itself runs as the kernel it is */
    }
    if (k->role != RV_KERNEL_GROUPED_MM || !t_grouped.set || t_grouped.stream != s) return false;
    t_grouped.set = false;
    rv_op_init(op, RV_OP_GEMM, rv_stream_device(s), "grouped_mm");
    op->u.gemm.m = t_grouped.m;
    op->u.gemm.n = t_grouped.n;
    op->u.gemm.k = t_grouped.k;
    op->u.gemm.batch = t_grouped.groups;
    op->u.gemm.trans_b = 1;   /* expert weights stored [N, K], as linear layers' */
    op->u.gemm.dtype_a = op->u.gemm.dtype_b = op->u.gemm.dtype_c = t_grouped.dtype;
    op->u.gemm.compute = "f32";
    op->u.gemm.epilogue = "none";
    *duration = rv_predict(op);
    return true;
}

/* torch's Reduce.cuh passes one ReduceOp by value: its reduction functor and identity (a few words,
 * which depend on the reduction), then a ReduceConfig of ints: the accumulator's size, num_inputs
 * (per output), num_outputs, step_input, step_output, ctas_per_output, input_mult[3], output_mult[2],
 * block_width, block_height, num_threads. The config is found where its block shape matches the
 * launch's, so no layout of the functors is assumed. */
void rv_kernel_args_reduction(const rv_kernel *k, const unsigned block[3], void **args, rv_op *op) {
    if (k->role != RV_KERNEL_REDUCE || !args || !args[0]) return;
    const int32_t *w = args[0];
    for (int o = 0; o <= 16; o++) {   /* the functor and identity take at most 16 words */
        const int32_t *c = w + o;
        if (c[11] != (int32_t)block[0] || c[12] != (int32_t)block[1] || c[13] != (int32_t)(block[0] * block[1]))
            continue;
        if (c[0] < 1 || c[0] > 32 || c[1] <= 0 || c[2] <= 0 || c[5] <= 0) continue;
        op->u.kernel.elements = (int64_t)c[1] * c[2];
        op->u.kernel.outputs = c[2];
        return;
    }
}
