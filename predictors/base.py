"""The predictor interface, and ``create`` to build one from a spec string.

A spec is ``name`` or ``name:argument``: ``default`` (``profiled`` where the GPU has a profile,
else ``roofline``, and says which on stderr), ``profiled`` (measured models; ``profiled:train``
leaves the held-out items out, ``profiled:train,noforward`` also every kernel measured inside a
forward pass: what the accuracy benchmark uses), ``roofline`` (analytical), ``fixed:1ms``. A new
model plugs in by adding its factory to ``FACTORIES``; the interposer only ever sees the server
protocol.
"""
from __future__ import annotations

from typing import Callable, Protocol

from predictors.catalog import Hardware, HostCosts
from predictors.fixed import FixedPredictor, parse_duration_ns
from predictors.ops import Op
from predictors.roofline import RooflinePredictor

DEFAULT_SPEC = "default"


class Predictor(Protocol):
    hardware: Hardware

    def duration_ns(self, op: Op) -> int:
        """Predicted duration of ``op`` on ``hardware``; raises ValueError if the op cannot run there."""
        ...


def host_costs(predictor: Predictor) -> HostCosts:
    """The launch and sync latencies the interposer gets (hardware file, the service's hello):
    those measured with the predictor's data where it has them (a profiled predictor whose profile
    has host costs: ``ProfiledPredictor.host_costs``), else the catalog's."""
    measured = getattr(predictor, "host_costs", None)
    return measured if isinstance(measured, HostCosts) else predictor.hardware.host_costs()


def native_config(predictor: Predictor, gpus: int, library_scale: float = 1.0) -> str:
    """The hardware file for ``gpus`` virtual GPUs served by ``predictor`` (``library_scale``: see
    ``Hardware.native_config``)."""
    return predictor.hardware.native_config(gpus, host_costs(predictor), library_scale)


def _roofline(argument: str, hardware: Hardware) -> Predictor:
    if argument:
        raise ValueError(f"roofline takes no argument, got {argument!r}")
    return RooflinePredictor(hardware)


def _fixed(argument: str, hardware: Hardware) -> Predictor:
    if not argument:
        raise ValueError("fixed needs a duration, e.g. fixed:1ms")
    return FixedPredictor(hardware, parse_duration_ns(argument))


def _profiled(argument: str, hardware: Hardware) -> Predictor:
    from predictors.profile.grid import held_out
    from predictors.profiled import ProfiledPredictor

    flags = {f.strip() for f in argument.split(",") if f.strip()}
    unknown = flags - {"train", "noforward"}
    if unknown:
        raise ValueError(f"profiled takes flags train, noforward; got {', '.join(sorted(unknown))}")

    def keep(cls: str, key: str) -> bool:
        if cls == "source":
            return not ("noforward" in flags and key.startswith("forward:"))
        return not ("train" in flags and held_out(key))

    return ProfiledPredictor(hardware, keep=keep)


def _default(argument: str, hardware: Hardware) -> Predictor:
    import sys

    from predictors.profiled import available

    if argument:
        raise ValueError(f"default takes no argument, got {argument!r}")
    if hardware.key in available():
        predictor = _profiled("", hardware)
        print(f"predictors: {predictor.description}", file=sys.stderr, flush=True)  # type: ignore[attr-defined]
        return predictor
    print(f"predictors: no profile for {hardware.key}; using the analytical roofline", file=sys.stderr, flush=True)
    return RooflinePredictor(hardware)


# name -> factory(argument after the colon, or "", hardware)
FACTORIES: dict[str, Callable[[str, Hardware], Predictor]] = {
    "default": _default, "profiled": _profiled, "roofline": _roofline, "fixed": _fixed,
}


def create(spec: str, hardware: Hardware) -> Predictor:
    name, _, argument = spec.strip().partition(":")
    factory = FACTORIES.get(name)
    if factory is None:
        raise ValueError(f"unknown predictor {name!r} in {spec!r}; known: {', '.join(sorted(FACTORIES))}")
    return factory(argument.strip(), hardware)
