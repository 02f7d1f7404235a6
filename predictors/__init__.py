"""Hardware catalog and duration models for GPU operations, served to the C interposer.

Depends on nothing else of the project (pydantic only), so the interposer and the product can
both use it.
"""
from predictors.base import Predictor, create
from predictors.catalog import Hardware, keys, load
from predictors.ops import (
    AttentionOp,
    CollectiveOp,
    GemmOp,
    HostFnOp,
    KernelOp,
    MemcpyOp,
    MemsetOp,
    Op,
    parse_op,
)
from predictors.server import PredictorServer

__all__ = [
    "AttentionOp",
    "CollectiveOp",
    "GemmOp",
    "Hardware",
    "HostFnOp",
    "KernelOp",
    "MemcpyOp",
    "MemsetOp",
    "Op",
    "Predictor",
    "PredictorServer",
    "create",
    "keys",
    "load",
    "parse_op",
]
