/* Copies and memsets as GPU work: the op the predictor times (bytes, direction, pinned) and the
 * host-side effect (done only where both sides are real memory), for every API that moves bytes. */
#include "internal.h"

void rv_copy_op(rv_op *op, rv_effect *e, int device, void *dst, const void *src, size_t n) {
    bool pinned;
    rv_op_init(op, RV_OP_MEMCPY, device, "memcpy");
    op->u.copy.direction = rv_copy_direction(dst, src, &pinned);
    op->u.copy.bytes = (int64_t)n;
    op->u.copy.pinned = pinned;
    *e = (rv_effect){.kind = RV_EFFECT_COPY, .dst = dst, .src = src, .n = n};
}

void rv_memset_op(rv_op *op, rv_effect *e, int device, void *dst, int value, size_t count, size_t elem) {
    rv_op_init(op, RV_OP_MEMSET, device, "memset");
    op->u.memset.bytes = (int64_t)(count * elem);
    *e = (rv_effect){.kind = RV_EFFECT_MEMSET, .dst = dst, .n = count, .value = value, .elem_size = elem};
}

rv_ns rv_enqueue_copy(rv_stream *s, void *dst, const void *src, size_t n) {
    rv_op op;
    rv_effect e;
    rv_copy_op(&op, &e, rv_stream_device(s), dst, src, n);
    return rv_enqueue(s, &op, -1, &e);
}

rv_ns rv_enqueue_memset(rv_stream *s, void *dst, int value, size_t count, size_t elem) {
    rv_op op;
    rv_effect e;
    rv_memset_op(&op, &e, rv_stream_device(s), dst, value, count, elem);
    return rv_enqueue(s, &op, -1, &e);
}
