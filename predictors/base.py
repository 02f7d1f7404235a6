"""The predictor interface, and ``create`` to build one from a spec string.

A spec is ``name`` or ``name:argument``: ``roofline`` (the default), ``fixed:1ms``. A new model
plugs in by adding its factory to ``FACTORIES``; the interposer only ever sees the server protocol.
"""
from __future__ import annotations

from typing import Callable, Protocol

from predictors.catalog import Hardware
from predictors.fixed import FixedPredictor, parse_duration_ns
from predictors.ops import Op
from predictors.roofline import RooflinePredictor

DEFAULT_SPEC = "roofline"


class Predictor(Protocol):
    hardware: Hardware

    def duration_ns(self, op: Op) -> int:
        """Predicted duration of ``op`` on ``hardware``; raises ValueError if the op cannot run there."""
        ...


def _roofline(argument: str, hardware: Hardware) -> Predictor:
    if argument:
        raise ValueError(f"roofline takes no argument, got {argument!r}")
    return RooflinePredictor(hardware)


def _fixed(argument: str, hardware: Hardware) -> Predictor:
    if not argument:
        raise ValueError("fixed needs a duration, e.g. fixed:1ms")
    return FixedPredictor(hardware, parse_duration_ns(argument))


# name -> factory(argument after the colon, or "", hardware)
FACTORIES: dict[str, Callable[[str, Hardware], Predictor]] = {"roofline": _roofline, "fixed": _fixed}


def create(spec: str, hardware: Hardware) -> Predictor:
    name, _, argument = spec.strip().partition(":")
    factory = FACTORIES.get(name)
    if factory is None:
        raise ValueError(f"unknown predictor {name!r} in {spec!r}; known: {', '.join(sorted(FACTORIES))}")
    return factory(argument.strip(), hardware)
