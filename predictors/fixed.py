"""Fixed predictor: every GPU operation lasts the same configured time (for testing the emulator)."""
from __future__ import annotations

import re

from predictors.catalog import Hardware
from predictors.ops import HostFnOp, Op

_UNIT_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|ms|s)?\s*$")


def parse_duration_ns(text: str) -> int:
    """``"1ms"``, ``"250us"``, ``"1000ns"``, ``"2s"``; a plain number is nanoseconds."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"bad duration {text!r}: expected a number with an optional unit ns, us, ms or s")
    number, unit = match.groups()
    return round(float(number) * _UNIT_NS[unit or "ns"])


class FixedPredictor:
    def __init__(self, hardware: Hardware, ns: int) -> None:
        self.hardware = hardware
        self.ns = ns

    def duration_ns(self, op: Op) -> int:
        # a host callback never occupies the GPU, whatever the model
        return 0 if isinstance(op, HostFnOp) else self.ns
