"""What the profile measures: the shape grids, the held-out split, and how a measured item maps to
the operation the interposer reports for it.

Pure Python (no torch): the profiled predictor and the accuracy benchmark read the same grids.
"""
from __future__ import annotations

import hashlib
from typing import Any, Iterator

HOLDOUT_PERCENT = 20  # of items, by a fixed hash of their key: never used for fitting


def held_out(key: str) -> bool:
    """True for the ~20% of item keys kept out of fitting (stable across runs and machines)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % 100 < HOLDOUT_PERCENT


# ---- GEMMs ------------------------------------------------------------------------------------
# tokens (m): dense at the small end, where decode batches live
M_FULL = [1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096,
          6144, 8192, 12288, 16384]
M_SPARSE = [1, 8, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
# (n, k) of LLM weights: Llama-3.1-8B (q/o 4096, k/v 1024, gate/up 14336, down, lm_head, fused
# qkv 6144, fused gate_up 28672), 70B (8192, 28672, 1024) and their tensor-parallel splits, Qwen/
# Mistral-like 5120/13824/3584/18944, the small example model (1024, 256, 2816, 32000)
LLM_NK = [
    (4096, 4096), (1024, 4096), (6144, 4096), (14336, 4096), (28672, 4096), (4096, 14336), (128256, 4096),
    (8192, 8192), (1024, 8192), (10240, 8192), (28672, 8192), (57344, 8192), (8192, 28672),
    (2048, 4096), (512, 4096), (7168, 4096), (4096, 7168), (3072, 4096), (4096, 2048),
    (5120, 5120), (13824, 5120), (5120, 13824), (3584, 3584), (18944, 3584), (3584, 18944),
    (1024, 1024), (256, 1024), (2816, 1024), (1024, 2816), (32000, 1024), (2048, 8192), (8192, 2048),
]
GENERIC = [256, 512, 1024, 2048, 4096, 8192, 16384]


def gemm_items() -> Iterator[dict[str, Any]]:
    """In priority order: bf16 linear (x @ W^T) on LLM weights and a generic n x k grid, then plain
    matmuls, fp16, fp8, fp32/tf32 and batched."""
    seen: set[str] = set()

    def item(m: int, n: int, k: int, dtype: str = "bf16", form: str = "linear", batch: int = 1) -> Iterator[dict[str, Any]]:
        it = {"m": m, "n": n, "k": k, "batch": batch, "dtype": dtype, "form": form}
        key = gemm_key(it)
        if key not in seen:
            seen.add(key)
            yield it

    for n, k in LLM_NK:
        for m in M_FULL:
            yield from item(m, n, k)
    for n in GENERIC:
        for k in GENERIC:
            for m in M_SPARSE:
                yield from item(m, n, k)
    for n, k in [(4096, 4096), (14336, 4096), (4096, 14336), (1024, 4096), (8192, 8192)]:
        for m in M_SPARSE:
            yield from item(m, n, k, form="matmul")
            yield from item(m, n, k, dtype="fp16")
            yield from item(m, n, k, dtype="fp8")
    for n in [1024, 4096, 16384]:
        for k in [1024, 4096, 16384]:
            for m in [1, 16, 128, 1024, 4096, 16384]:
                yield from item(m, n, k, dtype="fp16")
                yield from item(m, n, k, dtype="fp8")
                yield from item(m, n, k, dtype="tf32")
                yield from item(m, n, k, dtype="fp32")
    for n, k in LLM_NK[:8]:
        for m in M_FULL:
            yield from item(m, n, k, dtype="fp16")
    for n in [1024, 2048, 4096, 8192, 16384]:
        for k in [1024, 4096, 16384]:
            for m in M_SPARSE:
                yield from item(m, n, k, dtype="tf32")
                yield from item(m, n, k, dtype="fp32")
                yield from item(m, n, k, dtype="fp8")
    for batch in [8, 32, 128]:
        for m, n, k in [(1, 128, 1024), (16, 128, 512), (128, 128, 128), (512, 512, 128), (1024, 128, 1024),
                        (128, 1024, 128), (2048, 2048, 128)]:
            yield from item(m, n, k, form="bmm", batch=batch)
    yield from grouped_items()


# MoE experts' (n, k): fused gate/up and down projections of small to Mixtral-sized experts
GROUPED_NK = [(1536, 2048), (2048, 768), (2816, 2048), (2048, 1408), (8192, 4096), (4096, 4096),
              (28672, 4096), (4096, 14336)]


def grouped_items() -> Iterator[dict[str, Any]]:
    """torch._grouped_mm as MoE layers call it (2d x 3d with offsets): `batch` experts that get
    rows, `m` rows each (the interposer's grouped_mm op: interpose/native/core/kernel_args.c)."""
    for n, k in GROUPED_NK:
        for groups in [1, 2, 4, 8, 16, 32, 64, 128]:
            if groups * n * k * 2 > 8 * 2 ** 30:
                continue
            for m in [1, 2, 4, 8, 16, 64, 256, 1024]:
                if groups * m <= 65536:
                    yield {"m": m, "n": n, "k": k, "batch": groups, "dtype": "bf16", "form": "grouped"}


def gemm_key(it: dict[str, Any]) -> str:
    return f"gemm|{it['dtype']}|{it['form']}|{it['batch']}x{it['m']}x{it['n']}x{it['k']}"


# element types of a measured dtype name: (A, B, C, cuBLAS compute type), as the interposer names them
GEMM_DTYPES = {
    "bf16": ("bf16", "bf16", "bf16", "f32"),
    "fp16": ("f16", "f16", "f16", "f32"),
    "fp32": ("f32", "f32", "f32", "f32"),
    "tf32": ("f32", "f32", "f32", "f32_fast_tf32"),
    "fp8": ("f8e4m3", "f8e4m3", "bf16", "f32"),
}


def gemm_op(it: dict[str, Any]) -> dict[str, Any]:
    """The gemm operation the interposer reports for this item (checked by tests/test_predictors_profile.py
    against a run under the interposer): row-major, as torch's caller wrote it."""
    a, b, c, compute = GEMM_DTYPES[it["dtype"]]
    op = {"kind": "gemm", "m": it["m"], "n": it["n"], "k": it["k"], "batch": it["batch"],
          "trans_a": False, "trans_b": it["form"] in ("linear", "grouped") or it["dtype"] == "fp8",
          "dtype_a": a, "dtype_b": b, "dtype_c": c, "compute": compute}
    if it["form"] == "grouped":
        op["library"] = "grouped_mm"
    return op


# ---- attention --------------------------------------------------------------------------------

def attention_items() -> Iterator[dict[str, Any]]:
    """Prefill (causal, q = kv), decode (q = 1) and chunked prefill / packed batches (q < kv,
    no causal flag), Llama-like heads (32 q heads; 8, 32 kv heads), head dim 128 and 64."""
    seen: set[str] = set()

    def item(batch: int, heads: int, kv_heads: int, q: int, kv: int, hd: int, causal: bool,
             dtype: str = "bf16", mask: bool = False) -> Iterator[dict[str, Any]]:
        it = {"batch": batch, "heads": heads, "kv_heads": kv_heads, "q_len": q, "kv_len": kv, "head_dim": hd,
              "causal": causal, "dtype": dtype}
        if mask:
            it["mask"] = True
        key = attention_key(it)
        flops = 4 * batch * heads * q * kv * hd / (2 if causal else 1)
        if key not in seen and flops <= 4e12 and batch * kv_heads * kv * hd * 2 <= 2 ** 31:
            seen.add(key)
            yield it

    for hd, heads, kvh in [(128, 32, 8), (128, 32, 32), (64, 16, 4), (128, 64, 8)]:
        for batch in [1, 2, 4, 8, 16, 32]:
            for length in [64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192, 16384]:
                yield from item(batch, heads, kvh, length, length, hd, True)
        for batch in [1, 2, 4, 8, 16, 32, 64, 128, 256]:
            for kv in [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768]:
                yield from item(batch, heads, kvh, 1, kv, hd, False)
    for hd, heads, kvh in [(128, 32, 8), (128, 32, 32)]:
        for q in [16, 64, 256, 512, 1024, 2048, 4096]:
            for kv in [256, 1024, 4096, 16384, 65536]:
                if kv >= q:
                    yield from item(1, heads, kvh, q, kv, hd, False)
    for batch in [1, 4, 16]:
        for length in [256, 1024, 4096]:
            yield from item(batch, 32, 8, length, length, 128, True, "fp16")
            yield from item(batch, 32, 8, 1, length, 128, False, "fp16")
    # with an explicit boolean mask, as transformers attends whenever a cache or padding is in play
    # (packed continuous batches, chunked prefill): K/V repeated to all heads, no causal flag
    for q in [16, 64, 128, 256, 512, 1024, 2048, 4096]:
        for kv in [256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]:
            if kv >= q:
                yield from item(1, 32, 32, q, kv, 128, False, mask=True)
    for batch in [2, 4, 8]:
        for length in [128, 512, 2048]:
            yield from item(batch, 32, 32, length, length, 128, False, mask=True)
    for q, kv in [(64, 4096), (512, 8192), (1024, 16384)]:
        yield from item(1, 16, 16, q, kv, 64, False, mask=True)
    # fewer heads than Llama's 32 (Qwen 16, StarCoder2 24, Gemma 8): a launch of few thread blocks
    # leaves SMs idle, so time does not shrink with the heads; measured, not scaled
    for heads in [8, 16, 24]:
        for q in [16, 64, 128, 256, 512, 1024, 2048]:
            for kv in [1024, 4096, 16384, 65536]:
                if kv >= q:
                    yield from item(1, heads, heads, q, kv, 128, False, mask=True)
    # the other common head dims (Phi: 80, 96; Gemma: 256), masked as transformers' paged path attends
    for hd in [80, 96, 256]:
        for heads in [8, 32]:
            for q in [1, 16, 64, 256, 1024, 4096]:
                for kv in [256, 1024, 4096, 16384, 65536]:
                    if kv >= q:
                        yield from item(1, heads, heads, q, kv, hd, False, mask=True)


def attention_key(it: dict[str, Any]) -> str:
    return (f"attn|{it['dtype']}|b{it['batch']}h{it['heads']}kv{it['kv_heads']}|q{it['q_len']}k{it['kv_len']}"
            f"|d{it['head_dim']}|{'causal' if it['causal'] else 'full'}{'|mask' if it.get('mask') else ''}")


ATTN_DTYPES = {"bf16": "bf16", "fp16": "f16"}


def attention_op(it: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "attention", "batch": it["batch"], "heads": it["heads"], "kv_heads": it["kv_heads"],
            "q_len": it["q_len"], "kv_len": it["kv_len"], "head_dim": it["head_dim"], "head_dim_v": it["head_dim"],
            "causal": it["causal"], "dtype": ATTN_DTYPES[it["dtype"]], "mask": bool(it.get("mask"))}


# ---- copies and memsets -------------------------------------------------------------------------

COPY_BYTES = [2 ** e for e in range(6, 31, 2)] + [3 * 2 ** e for e in range(9, 29, 4)]


def copy_items() -> Iterator[dict[str, Any]]:
    for direction, pinned in [("d2d", True), ("h2d", True), ("d2h", True), ("h2d", False), ("d2h", False)]:
        for nbytes in sorted(COPY_BYTES):
            yield {"direction": direction, "pinned": pinned, "bytes": nbytes}
    for nbytes in sorted(COPY_BYTES):
        yield {"direction": "memset", "pinned": True, "bytes": nbytes}


def copy_key(it: dict[str, Any]) -> str:
    return f"copy|{it['direction']}|{'pinned' if it['pinned'] else 'pageable'}|{it['bytes']}"


# ---- memory-bound torch kernels (elementwise, reductions, copies) --------------------------------

KERNEL_OPS = ["add", "mul", "silu", "silu_mul", "cast", "copy", "fill", "rmsnorm", "softmax",
              "sum_last", "mean_last", "cat", "embedding", "argmax", "neg_cat", "exp", "where",
              # indexing of paged KV caches (sliding-window layers), MoE routing and sampling
              "index_select", "index_copy", "masked_scatter", "gather", "index_add", "cumsum", "topk", "sort"]
KERNEL_ROWS = [1, 4, 16, 64, 256, 1024, 4096, 16384]
KERNEL_COLS = [128, 1024, 4096, 14336, 32000]


def kernel_items() -> Iterator[dict[str, Any]]:
    for op in KERNEL_OPS:
        for dtype in ["bf16", "f32"]:
            if dtype == "f32" and op in ("embedding", "silu_mul", "neg_cat"):
                continue
            for rows in KERNEL_ROWS:
                for cols in KERNEL_COLS:
                    if rows * cols <= 2 ** 28:
                        yield {"op": op, "dtype": dtype, "rows": rows, "cols": cols}


def kernel_item_key(it: dict[str, Any]) -> str:
    return f"kop|{it['op']}|{it['dtype']}|{it['rows']}x{it['cols']}"


def kernel_key(name: str, grid: Any, block: Any) -> str:
    """Held-out key of a kernel table entry."""
    return f"kernel|{name}|{tuple(grid)}|{tuple(block)}"


# ---- NCCL collectives (several GPUs; predictors.profile.collectives) ------------------------------

# what torch.distributed calls; send/recv (point to point) stay with the analytical model
COLLECTIVE_NAMES = ["all_reduce", "all_gather", "reduce_scatter", "broadcast", "reduce", "all_to_all"]
COLLECTIVE_BYTES = [4096 * 4 ** i for i in range(10)]  # 4 KiB .. 1 GiB, x4 steps


def collective_sizes(ranks: int, sizes: list[int] | None = None) -> list[int]:
    """The sizes measured on ``ranks`` GPUs: each a whole number of bf16 elements per rank."""
    step = 2 * ranks
    return [b - b % step for b in (COLLECTIVE_BYTES if sizes is None else sizes)]


def collective_buffers(name: str, nbytes: int, ranks: int) -> tuple[int, int]:
    """(input, output) bytes on one rank for a collective of ``nbytes`` as CollectiveOp counts them
    (the largest buffer of the call on one rank)."""
    if name == "all_gather":
        return nbytes // ranks, nbytes
    if name == "reduce_scatter":
        return nbytes, nbytes // ranks
    return nbytes, nbytes


def collective_key(name: str, ranks: int, nbytes: int) -> str:
    return f"coll|{name}|{ranks}|{nbytes}"
