"""Hardware catalog and duration models for GPU operations, served to the C interposer.

Depends on nothing else of the project (pydantic only), so the interposer and the product can
both use it. Names are imported lazily: ``predictors.profile`` (the real-GPU harness) runs on
images without pydantic.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Predictor": "predictors.base", "create": "predictors.base", "host_costs": "predictors.base",
    "native_config": "predictors.base",
    "Hardware": "predictors.catalog", "HostCosts": "predictors.catalog", "keys": "predictors.catalog",
    "load": "predictors.catalog",
    "AttentionOp": "predictors.ops", "CollectiveOp": "predictors.ops", "GemmOp": "predictors.ops",
    "HostFnOp": "predictors.ops", "KernelOp": "predictors.ops", "MemcpyOp": "predictors.ops",
    "MemsetOp": "predictors.ops", "Op": "predictors.ops", "parse_op": "predictors.ops",
    "PredictorServer": "predictors.server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'predictors' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
