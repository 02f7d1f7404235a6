"""Reading torch.profiler (kineto) Chrome traces: which device activity (kernel, memcpy, memset)
was launched inside which labelled region and which aten operator.

A device event carries ``args.correlation``; the CUDA runtime/driver call that launched it carries
the same number, on the launching CPU thread. The region is the innermost ``user_annotation``
(``torch.profiler.record_function``) on that thread whose span holds the launch call; the operator
is the innermost ``cpu_op`` that holds it. Pure Python: unit-tested on CPU with recorded traces.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Iterable

DEVICE_CATS = ("kernel", "gpu_memcpy", "gpu_memset")
LAUNCH_CATS = ("cuda_runtime", "cuda_driver")


@dataclass
class DeviceEvent:
    name: str
    cat: str  # kernel | gpu_memcpy | gpu_memset
    ts: float  # us
    dur_ns: int
    grid: tuple[int, int, int] | None = None
    block: tuple[int, int, int] | None = None
    shmem: int = 0
    nbytes: int | None = None
    stream: int | None = None
    label: str | None = None
    op: tuple[str, Any, Any, float] | None = None  # innermost aten op: (name, input dims, input types, start us)
    launch: str | None = None  # runtime call that launched it
    launch_ns: int | None = None  # how long that call took on the CPU
    launch_ts: float | None = None


@dataclass
class Parsed:
    events: list[DeviceEvent] = field(default_factory=list)
    runtime: list[tuple[str, float, int]] = field(default_factory=list)  # (name, ts us, dur ns): all launch-side calls

    def by_label(self) -> dict[str, list[DeviceEvent]]:
        out: dict[str, list[DeviceEvent]] = {}
        for e in self.events:
            if e.label is not None:
                out.setdefault(e.label, []).append(e)
        return out


class _Spans:
    """Nested spans on one thread; innermost(ts) finds the deepest span holding ts."""

    def __init__(self, spans: list[tuple[float, float, Any]]) -> None:
        spans.sort(key=lambda s: (s[0], -s[1]))
        self.starts = [s[0] for s in spans]
        self.spans = spans

    def innermost(self, ts: float) -> Any:
        # scan back from the last span starting at or before ts; nested spans start later, so the
        # first one found that still covers ts is the innermost (few spans per launch to skip)
        i = bisect.bisect_right(self.starts, ts) - 1
        best = None
        steps = 0
        while i >= 0 and steps < 4096:
            start, end, payload = self.spans[i]
            if end >= ts:
                return payload
            i -= 1
            steps += 1
        return best


def _xyz(value: Any) -> tuple[int, int, int] | None:
    if isinstance(value, (list, tuple)) and len(value) == 3:
        return (int(value[0]), int(value[1]), int(value[2]))
    return None


def parse(trace: dict[str, Any] | list[dict[str, Any]], label_prefix: str = "rv|",
          ops: bool = False) -> Parsed:
    events: Iterable[dict[str, Any]] = trace["traceEvents"] if isinstance(trace, dict) else trace
    launches: dict[int, tuple[Any, float, str, int]] = {}
    labels: dict[Any, list[tuple[float, float, Any]]] = {}
    cpu_ops: dict[Any, list[tuple[float, float, Any]]] = {}
    device: list[dict[str, Any]] = []
    parsed = Parsed()
    for e in events:
        if e.get("ph") != "X":
            continue
        cat = e.get("cat")
        args = e.get("args") or {}
        if cat in DEVICE_CATS:
            device.append(e)
        elif cat in LAUNCH_CATS:
            thread = (e.get("pid"), e.get("tid"))
            dur_ns = round(float(e.get("dur", 0)) * 1000)
            parsed.runtime.append((e.get("name", ""), float(e["ts"]), dur_ns))
            corr = args.get("correlation")
            if corr is not None:
                launches[int(corr)] = (thread, float(e["ts"]), e.get("name", ""), dur_ns)
        elif cat == "user_annotation" and str(e.get("name", "")).startswith(label_prefix):
            ts = float(e["ts"])
            labels.setdefault((e.get("pid"), e.get("tid")), []).append((ts, ts + float(e.get("dur", 0)), e["name"]))
        elif ops and cat == "cpu_op" and str(e.get("name", "")).startswith("aten::"):
            ts = float(e["ts"])
            payload = (e["name"], args.get("Input Dims"), args.get("Input type"), ts)
            cpu_ops.setdefault((e.get("pid"), e.get("tid")), []).append((ts, ts + float(e.get("dur", 0)), payload))
    label_spans = {thread: _Spans(spans) for thread, spans in labels.items()}
    op_spans = {thread: _Spans(spans) for thread, spans in cpu_ops.items()}
    for e in device:
        args = e.get("args") or {}
        ev = DeviceEvent(
            name=e.get("name", ""), cat=e["cat"], ts=float(e["ts"]), dur_ns=round(float(e.get("dur", 0)) * 1000),
            grid=_xyz(args.get("grid")), block=_xyz(args.get("block")),
            shmem=int(args.get("shared memory", 0) or 0),
            nbytes=int(args["bytes"]) if "bytes" in args else None,
            stream=args.get("stream"),
        )
        corr = args.get("correlation")
        launch = launches.get(int(corr)) if corr is not None else None
        if launch is not None:
            thread, ts, ev.launch, ev.launch_ns = launch
            ev.launch_ts = ts
            spans = label_spans.get(thread)
            if spans is not None:
                ev.label = spans.innermost(ts)
            spans = op_spans.get(thread)
            if spans is not None:
                ev.op = spans.innermost(ts)
        parsed.events.append(ev)
    parsed.events.sort(key=lambda ev: ev.ts)
    return parsed


def exported(prof: Any) -> dict[str, Any]:
    """A finished torch.profiler session's Chrome trace, as a dict (torch writes it only to a file)."""
    import json
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.json"
        prof.export_chrome_trace(str(path))
        return json.loads(path.read_text())


def keep_for_raw(trace: dict[str, Any] | list[dict[str, Any]], ops: bool) -> list[dict[str, Any]]:
    """The events worth keeping of a trace (to re-parse later): device activity, the calls that
    launched it, labels and, where asked, aten operators with their input shapes."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    out = []
    for e in events:
        cat = e.get("cat")
        if cat in DEVICE_CATS or cat in LAUNCH_CATS or (cat == "user_annotation") or (ops and cat == "cpu_op"):
            keep = {k: e[k] for k in ("ph", "cat", "name", "pid", "tid", "ts", "dur") if k in e}
            args = e.get("args") or {}
            if cat == "cpu_op":
                keep["args"] = {k: args[k] for k in ("Input Dims", "Input type") if k in args}
            elif cat in LAUNCH_CATS:
                keep["args"] = {k: args[k] for k in ("correlation",) if k in args}
            else:
                keep["args"] = {k: args[k] for k in ("correlation", "grid", "block", "shared memory", "bytes",
                                                       "stream", "device") if k in args}
            out.append(keep)
    return out
