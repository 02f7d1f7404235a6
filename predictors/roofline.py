"""Analytical roofline: an operation lasts as long as the slower of its math and its memory traffic,
plus a fixed overhead. Always available, needs nothing but the catalog entry."""
from __future__ import annotations

import math

from predictors.catalog import Hardware
from predictors.ops import (
    DTYPE_BYTES,
    AttentionOp,
    CollectiveOp,
    GemmOp,
    HostFnOp,
    KernelOp,
    MemcpyOp,
    MemsetOp,
    Op,
)

# Placeholders until profiled models (fitted to real-GPU measurements) arrive: the fraction of a
# peak rate that typical large operations reach, and fixed costs per operation. Spot-checked once
# on a real H200 (2026-11-21, torch 2.11): bf16 GEMM 4096^3 169 us and 8192^3 1366 us (~81% of
# peak), causal SDPA 2x32x4096x128 469 us, 256 MiB d2d 129 us, pinned h2d 55 GB/s, pageable 24 GB/s.
# Small GEMMs (e.g. 1024^3: 12 us) run far below these rates; the roofline does not model waves.
GEMM_EFFICIENCY = 0.80
ATTENTION_EFFICIENCY = 0.60
HBM_EFFICIENCY = 0.80
NVLINK_EFFICIENCY = 0.80
PAGEABLE_COPY_FACTOR = 0.45  # pageable host memory is staged through a pinned bounce buffer
HOST_MEMCPY_BYTES_PER_S = 10e9  # h2h copies run on the host CPU, not the GPU
KERNEL_OVERHEAD_NS = 2000  # launch-to-finish floor of an almost empty kernel
COPY_OVERHEAD_NS = 1500  # DMA setup of a copy engine transfer
COLLECTIVE_BASE_NS = 5000  # NCCL kernel start and rank handshake
COLLECTIVE_STEP_NS = 1000  # per ring step over NVLink
# A kernel known only by its launch geometry: assume each thread moves this many bytes of HBM.
# Crude; it only keeps big launches from looking free until kernels are profiled by name.
GENERIC_KERNEL_BYTES_PER_THREAD = 8

# Which peak rate (catalog peak_flops key) an element type computes at.
MATH_OF_DTYPE = {
    "f32": "fp32", "tf32": "tf32", "f16": "fp16", "bf16": "bf16",
    "f8e4m3": "fp8", "f8e5m2": "fp8", "f64": "fp64", "i8": "int8",
    "cf16": "fp16", "cbf16": "bf16", "cf32": "fp32", "cf64": "fp64",
}
COMPLEX = {"cf16", "cbf16", "cf32", "cf64"}
# cuBLAS compute types that run f32 data on tensor cores at a lower precision.
FAST_COMPUTE_MATH = {"fast_tf32": "tf32", "fast_bf16": "bf16", "fast_16bf": "bf16", "fast_f16": "fp16",
                     "fast_16f": "fp16"}


class RooflinePredictor:
    def __init__(self, hardware: Hardware) -> None:
        self.hardware = hardware
        self._hbm = hardware.memory_bandwidth_bytes_per_s * HBM_EFFICIENCY
        self._nvlink = hardware.nvlink_bandwidth_bytes_per_s * NVLINK_EFFICIENCY

    def duration_ns(self, op: Op) -> int:
        match op:
            case GemmOp():
                ns = self._gemm(op)
            case AttentionOp():
                ns = self._attention(op)
            case MemcpyOp():
                ns = self._memcpy(op)
            case MemsetOp():
                ns = KERNEL_OVERHEAD_NS + _ns(op.bytes, self._hbm)
            case CollectiveOp():
                ns = self._collective(op)
            case KernelOp():
                threads = math.prod(op.grid) * math.prod(op.block)
                ns = KERNEL_OVERHEAD_NS + _ns(threads * GENERIC_KERNEL_BYTES_PER_THREAD, self._hbm)
            case HostFnOp():
                ns = 0.0
        return math.ceil(ns)

    def _gemm(self, op: GemmOp) -> float:
        flops = 2 * op.m * op.n * op.k * op.batch
        if op.dtype_a in COMPLEX:
            flops *= 4   # a complex multiply-add is four real ones
        in_bytes = op.m * op.k * DTYPE_BYTES[op.dtype_a] + op.k * op.n * DTYPE_BYTES[op.dtype_b]
        out_bytes = op.m * op.n * DTYPE_BYTES[op.dtype_c]
        bias_bytes = op.n * DTYPE_BYTES[op.dtype_c] if "bias" in op.epilogue else 0
        traffic = (in_bytes + out_bytes) * op.batch + bias_bytes
        peak = self._peak(_gemm_math(op), op) * GEMM_EFFICIENCY
        return KERNEL_OVERHEAD_NS + max(_ns(flops, peak), _ns(traffic, self._hbm))

    def _attention(self, op: AttentionOp) -> float:
        pairs = _attended_pairs(op.q_len, op.kv_len, op.causal)
        flops = 2 * op.batch * op.heads * pairs * (op.head_dim + op.head_dim_v)
        elements = op.batch * (
            op.heads * op.q_len * (op.head_dim + op.head_dim_v)  # Q in, O out
            + op.kv_heads * op.kv_len * (op.head_dim + op.head_dim_v)  # K, V in
        )
        peak = self._peak(MATH_OF_DTYPE.get(op.dtype, op.dtype), op) * ATTENTION_EFFICIENCY
        return KERNEL_OVERHEAD_NS + max(_ns(flops, peak), _ns(elements * DTYPE_BYTES[op.dtype], self._hbm))

    def _memcpy(self, op: MemcpyOp) -> float:
        match op.direction:
            case "h2d" | "d2h":
                pcie = self.hardware.pcie_bandwidth_bytes_per_s
                transfer = _ns(op.bytes, pcie if op.pinned else pcie * PAGEABLE_COPY_FACTOR)
            case "d2d":
                transfer = _ns(2 * op.bytes, self._hbm)  # read and write the same HBM
            case "p2p":
                transfer = _ns(op.bytes, self._nvlink)
            case "h2h":
                transfer = _ns(op.bytes, HOST_MEMCPY_BYTES_PER_S)
        return COPY_OVERHEAD_NS + transfer

    def _collective(self, op: CollectiveOp) -> float:
        if op.ranks == 1:
            return KERNEL_OVERHEAD_NS  # NCCL degenerates to a local copy or nothing
        share, steps = ring_share_steps(op.name, op.ranks)
        return COLLECTIVE_BASE_NS + steps * COLLECTIVE_STEP_NS + _ns(share * op.bytes, self._nvlink)

    def _peak(self, math_type: str, op: GemmOp | AttentionOp) -> float:
        peak = self.hardware.peak_flops.get(math_type)
        if peak is None:
            raise ValueError(f"{self.hardware.key} has no {math_type} math for this {op.kind}")
        return peak


def ring_share_steps(name: str, ranks: int) -> tuple[float, int]:
    """Ring algorithms: the fraction of the buffer (CollectiveOp.bytes) each rank sends, and the
    number of latency-bound steps. The share is nccl-tests' bus-bandwidth factor."""
    r = ranks
    match name:
        case "all_reduce":
            return 2 * (r - 1) / r, 2 * (r - 1)
        case "all_gather" | "reduce_scatter" | "all_to_all":
            return (r - 1) / r, r - 1
        case "broadcast" | "reduce":
            return 1.0, r - 1
        case "send" | "recv":
            return 1.0, 1
    raise ValueError(f"unknown collective {name!r}")


def _ns(amount: float, per_second: float) -> float:
    return amount / per_second * 1e9


def _gemm_math(op: GemmOp) -> str:
    for marker, math_type in FAST_COMPUTE_MATH.items():
        if marker in op.compute:
            return math_type
    # mixed inputs (e.g. fp8 weights, bf16 activations) run at the rate of the wider type
    wider = max((op.dtype_a, op.dtype_b), key=DTYPE_BYTES.__getitem__)
    return MATH_OF_DTYPE.get(wider, wider)


def _attended_pairs(q_len: int, kv_len: int, causal: bool) -> int:
    """(query, key) pairs that are computed; causal masks align bottom-right, as cuDNN and flash
    attention do for q_len < kv_len: query i sees keys up to kv_len - q_len + i."""
    if not causal:
        return q_len * kv_len
    rows = min(q_len, kv_len)  # with q_len > kv_len the first rows see no key at all
    return rows * (kv_len - rows) + rows * (rows + 1) // 2
