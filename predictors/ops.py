"""The operations the interposer reports, one pydantic model per kind.

Every model carries ``kind`` (the discriminator) and ``device`` (the GPU ordinal). Unknown fields
are ignored so the interposer can send more than a model reads without breaking older predictors.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

# Element types, as the interposer names them (cudaDataType / cudnnDataType_t, shortened).
Dtype = Literal["f32", "f16", "bf16", "f8e4m3", "f8e5m2", "f64", "i8", "i32", "tf32", "cf16", "cbf16", "cf32", "cf64"]

DTYPE_BYTES: dict[str, int] = {
    "f32": 4, "f16": 2, "bf16": 2, "f8e4m3": 1, "f8e5m2": 1, "f64": 8, "i8": 1, "i32": 4, "tf32": 4,
    "cf16": 4, "cbf16": 4, "cf32": 8, "cf64": 16,
}

Count = Annotated[int, Field(ge=0)]
Dim = Annotated[int, Field(ge=1)]


class _Op(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    device: Count = 0


class KernelOp(_Op):
    """Any kernel launch: its launch geometry, and for some kernels the elements it works on."""

    kind: Literal["kernel"] = "kernel"
    name: str
    grid: tuple[Dim, Dim, Dim]
    block: tuple[Dim, Dim, Dim]
    shmem: Count = 0  # dynamic shared memory, bytes
    # a reduction's input elements and outputs, which the launch's arguments tell and its geometry
    # does not (torch's reductions cap their grid: interpose/native/core/kernel_args.c); 0 unknown
    elements: Count = 0
    outputs: Count = 0


class GemmOp(_Op):
    """A cuBLAS / cuBLASLt matrix multiply: C[m,n] = A[m,k] @ B[k,n], ``batch`` times."""

    kind: Literal["gemm"] = "gemm"
    m: Count
    n: Count
    k: Count
    batch: Dim = 1
    dtype_a: Dtype
    dtype_b: Dtype
    dtype_c: Dtype
    compute: str  # cublasComputeType_t shortened: "f32", "f32_fast_tf32", "f16", "f32_fast_bf16", ...
    trans_a: bool = False
    trans_b: bool = False
    epilogue: str = "none"  # "none", "bias", "relu", "gelu", "bias_relu", "bias_gelu", ...
    # grouped_mm: torch's grouped GEMM (MoE experts), a batch of the groups that get rows
    # (interpose/native/core/kernel_args.c); measured apart from cuBLAS's, the roofline where unmeasured
    library: Literal["cublas", "cublasLt", "grouped_mm"] = "cublas"


class AttentionOp(_Op):
    """A fused scaled-dot-product attention (cuDNN SDPA graph, flash attention)."""

    kind: Literal["attention"] = "attention"
    batch: Dim
    heads: Dim
    kv_heads: Dim  # defaults to heads
    q_len: Count
    kv_len: Count
    head_dim: Dim
    head_dim_v: Dim  # defaults to head_dim
    causal: bool = False
    dtype: Dtype
    library: str = "cudnn"
    # an explicit mask or bias tensor (not a causal flag) in the graph; None: not reported, and the
    # profiled model assumes what transformers does (a mask whenever q_len > 1 is not causal)
    mask: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _defaults_from_q(cls, data: Any) -> Any:
        # MHA callers need not repeat heads and head_dim for K/V
        if isinstance(data, dict):
            data = {**data}
            data.setdefault("kv_heads", data.get("heads"))
            data.setdefault("head_dim_v", data.get("head_dim"))
        return data


class MemcpyOp(_Op):
    kind: Literal["memcpy"] = "memcpy"
    bytes: Count
    direction: Literal["h2d", "d2h", "d2d", "h2h", "p2p"]
    pinned: bool = False  # host side page-locked (h2d, d2h)


class MemsetOp(_Op):
    kind: Literal["memset"] = "memset"
    bytes: Count


class CollectiveOp(_Op):
    """An NCCL collective or point-to-point call, as seen by one rank.

    ``bytes`` is the largest buffer of the call on one rank: the buffer of all_reduce, broadcast
    and reduce; the output of all_gather; the input of reduce_scatter and all_to_all; the message
    of send and recv.
    """

    kind: Literal["collective"] = "collective"
    name: Literal[
        "all_reduce", "all_gather", "reduce_scatter", "broadcast", "reduce", "send", "recv", "all_to_all"
    ]
    bytes: Count
    ranks: Dim
    dtype: str  # ncclDataType_t shortened; reductions cost no modelled time, so any name is accepted


class HostFnOp(_Op):
    """A host callback enqueued on a stream (cudaLaunchHostFunc); it takes no GPU time."""

    kind: Literal["host_fn"] = "host_fn"


Op = Annotated[
    Union[KernelOp, GemmOp, AttentionOp, MemcpyOp, MemsetOp, CollectiveOp, HostFnOp],
    Field(discriminator="kind"),
]
OP_KINDS: tuple[str, ...] = tuple(model.model_fields["kind"].default for model in get_args(get_args(Op)[0]))

_ADAPTER: TypeAdapter[Op] = TypeAdapter(Op)


def parse_op(data: dict[str, Any]) -> Op:
    """Validate one operation; ``data["kind"]`` picks the model. Raises pydantic.ValidationError."""
    return _ADAPTER.validate_python(data)
