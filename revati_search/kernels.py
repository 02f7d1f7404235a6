"""Where a run's GPU time goes, kernel by kernel: the same table from a real run (torch.profiler,
`emulate --real --kernels`) and from an emulated one (the interposer's trace), and their difference.

Both tables cover the trace's replay alone (not model build or warm-up) and aggregate device work by
(class, name, launch geometry). GEMMs and attention are compared by class only: on a real GPU they are
cuBLAS / cuDNN kernels whose names the emulation never sees (it answers the library call).
"""
from __future__ import annotations

import gzip
import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

FILE = "kernels.json"
CLASSES = ("gemm", "attention", "kernel", "memcpy", "memset", "collective")

# name fragments of the library kernels a real trace shows for what the emulation predicts as one call
_GEMM = ("gemm", "nvjet", "cutlass", "xmma", "cublas", "sm90_", "sm80_", "gemv", "splitkreduce")
_ATTENTION = ("cudnn", "fmha", "flash", "sdpa", "attention")


@dataclass
class KernelRow:
    cls: str                   # one of CLASSES
    name: str                  # demangled; "" for gemm/attention/copies (compared by class)
    grid: tuple[int, ...] = ()
    block: tuple[int, ...] = ()
    count: int = 0
    total_ns: int = 0
    durations: list[int] = field(default_factory=list, repr=False)

    @property
    def median_ns(self) -> float:
        return statistics.median(self.durations) if self.durations else 0.0


# Device gaps shorter than this are bridged: back-to-back launches (a graph's kernels, a stream's
# queue) leave a microsecond or two between kernels on a real GPU; longer gaps are the host's turn.
BRIDGE_US = 20.0


@dataclass
class KernelTable:
    mode: str                  # "real" | "emulated"
    rows: list[KernelRow]
    # when the device was busy (any stream), µs from the first device event, gaps < BRIDGE_US bridged;
    # empty for tables saved before it was recorded
    busy: list[tuple[float, float]] = field(default_factory=list)

    def total_ns(self, cls: str | None = None) -> int:
        return sum(r.total_ns for r in self.rows if cls is None or r.cls == cls)

    def idle_gaps_us(self) -> list[float]:
        """The device's idle gaps (>= BRIDGE_US) between its first and last event: the host's turns."""
        return [b[0] - a[1] for a, b in zip(self.busy, self.busy[1:])]

    def save(self, out: Path) -> None:
        rows = [{"cls": r.cls, "name": r.name, "grid": list(r.grid), "block": list(r.block), "count": r.count,
                 "total_ns": r.total_ns, "median_ns": r.median_ns} for r in self.rows]
        body = ",\n".join(json.dumps(r) for r in rows)   # a row a line: diffable, greppable
        busy = json.dumps([[round(a, 1), round(b, 1)] for a, b in self.busy], separators=(",", ":"))
        (Path(out) / FILE).write_text(f'{{"mode": "{self.mode}", "busy": {busy}, "rows": [\n{body}\n]}}\n')

    @classmethod
    def load(cls, path: Path) -> KernelTable:
        """From a run folder, its kernels.json, or a gzipped copy (kernels.json.gz, as archived)."""
        path = Path(path)
        path = path / FILE if path.is_dir() else path
        data = json.loads(gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_text())
        rows = [KernelRow(r["cls"], r["name"], tuple(r["grid"]), tuple(r["block"]), r["count"], r["total_ns"],
                          [round(r["median_ns"])]) for r in data["rows"]]
        return cls(data["mode"], rows, [tuple(x) for x in data.get("busy", [])])


def busy_intervals(spans: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """(start, end) µs of device events -> their union, gaps < BRIDGE_US bridged, from the first start."""
    out: list[list[float]] = []
    for a, b in sorted(spans):
        if out and a - out[-1][1] < BRIDGE_US:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    t0 = out[0][0] if out else 0.0
    return [(a - t0, b - t0) for a, b in out]


def _classify_real(name: str, cat: str) -> str:
    if cat == "gpu_memcpy":
        return "memcpy"
    if cat == "gpu_memset":
        return "memset"
    low = name.lower()
    if "nccl" in low:
        return "collective"
    if any(f in low for f in _ATTENTION):
        return "attention"
    if any(f in low for f in _GEMM):
        return "gemm"
    return "kernel"


def _aggregate(items: Iterable[tuple[str, str, tuple[int, ...], tuple[int, ...], int, float]], mode: str) -> KernelTable:
    """(class, name, grid, block, duration ns, start µs) per device event -> the table."""
    from predictors.names import demangle

    rows: dict[tuple[Any, ...], KernelRow] = {}
    spans = []
    for cls, name, grid, block, dur, ts in items:
        spans.append((ts, ts + dur / 1e3))
        if cls != "kernel":
            name, grid, block = "", (), ()   # compared by class: library kernels / copies of any size
        else:
            name = demangle(name)
        row = rows.get(key := (cls, name, grid, block))
        if row is None:
            row = rows[key] = KernelRow(cls, name, grid, block)
        row.count += 1
        row.total_ns += dur
        row.durations.append(dur)
    return KernelTable(mode, sorted(rows.values(), key=lambda r: -r.total_ns), busy_intervals(spans))


def from_kineto(trace: dict[str, Any] | list[dict[str, Any]]) -> KernelTable:
    """A real run's table from a torch.profiler Chrome trace (every device event in it)."""
    from predictors.profile import kineto

    events = kineto.parse(trace).events
    return _aggregate(((_classify_real(e.name, e.cat), e.name, e.grid or (), e.block or (), e.dur_ns, e.ts)
                       for e in events), "real")


def _interposer_events(trace_dir: Path, start_us: float, end_us: float) -> Iterator[tuple[str, str, tuple[int, ...], tuple[int, ...], int, float]]:
    from interpose.trace import load_trace

    for path in sorted(Path(trace_dir).glob("trace-*.json")):
        for e in load_trace(path):
            if e.get("ph") != "X" or not e.get("tid") or not (start_us <= e["ts"] <= end_us):
                continue
            args = e.get("args") or {}
            name = e["name"]
            if "m" in args:
                cls = "gemm"
            elif "heads" in args:
                cls = "attention"
            elif name.startswith("memcpy"):
                cls = "memcpy"
            elif name == "memset":
                cls = "memset"
            elif "ranks" in args:
                cls = "collective"
            else:
                cls = "kernel"
            yield cls, name, tuple(args.get("grid", ())), tuple(args.get("block", ())), round(e["dur"] * 1000), e["ts"]


def from_interposer(trace_dir: Path, start_s: float, end_s: float) -> KernelTable:
    """An emulated run's table from the interposer's per-process traces, between two instants of its
    timeline (s): the replay's start and its last completion."""
    return _aggregate(_interposer_events(trace_dir, start_s * 1e6, end_s * 1e6), "emulated")


# ---- comparison ------------------------------------------------------------------------------------

@dataclass
class Difference:
    cls: str
    name: str
    grid: tuple[int, ...]
    block: tuple[int, ...]
    real_count: int
    emulated_count: int
    real_ns: int
    emulated_ns: int

    @property
    def delta_ns(self) -> int:
        return self.emulated_ns - self.real_ns


def compare(real: KernelTable, emulated: KernelTable) -> list[Difference]:
    """One line per (class, kernel, geometry) found on either side, largest |difference| first."""
    from predictors.names import level1

    # names compared as the predictor matches them: torch builds differ in template arguments and
    # lambda numbers (the emulation sees this machine's torch, the real run the GPU host's)
    joined: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: ["", 0, 0, 0, 0])
    for i, table in enumerate((real, emulated)):
        for r in table.rows:
            j = joined[(r.cls, level1(r.name) if r.name else "", r.grid, r.block)]
            j[0] = j[0] or r.name
            j[1 + i] += r.count
            j[3 + i] += r.total_ns
    out = [Difference(cls, name, grid, block, rc, ec, rn, en)
           for (cls, _, grid, block), (name, rc, ec, rn, en) in joined.items()]
    return sorted(out, key=lambda d: -abs(d.delta_ns))


def short(name: str, width: int = 90) -> str:
    """A kernel name people can scan: template arguments elided past the first level."""
    out, depth = [], 0
    for ch in name:
        if ch == "<":
            depth += 1
            if depth == 1:
                out.append("<")
            continue
        if ch == ">":
            depth -= 1
            if depth == 0:
                out.append("…>")
            continue
        if depth == 0:
            out.append(ch)
    text = "".join(out)
    return text if len(text) <= width else text[:width - 1] + "…"


def report(real: KernelTable, emulated: KernelTable, top: int = 20) -> str:
    lines = [f"{'class':12s} {'real ms':>10s} {'emulated ms':>12s} {'error':>8s} {'launches real/emulated':>24s}"]
    for cls in CLASSES:
        rn, en = real.total_ns(cls), emulated.total_ns(cls)
        if not rn and not en:
            continue
        rc = sum(r.count for r in real.rows if r.cls == cls)
        ec = sum(r.count for r in emulated.rows if r.cls == cls)
        err = f"{(en / rn - 1) * 100:+.1f}%" if rn else "-"
        lines.append(f"{cls:12s} {rn / 1e6:10.2f} {en / 1e6:12.2f} {err:>8s} {f'{rc}/{ec}':>24s}")
    rn, en = real.total_ns(), emulated.total_ns()
    lines.append(f"{'all':12s} {rn / 1e6:10.2f} {en / 1e6:12.2f} {(en / rn - 1) * 100 if rn else 0:+7.1f}%")
    if real.busy and emulated.busy:
        lines += ["", f"device timeline (gaps < {BRIDGE_US:.0f} µs bridged)   real   emulated"]
        for what, f in (("span, first to last event, ms", lambda t: (t.busy[-1][1] - t.busy[0][0]) / 1e3),
                        ("busy, ms", lambda t: sum(b - a for a, b in t.busy) / 1e3),
                        ("idle (the host's turns), ms", lambda t: sum(t.idle_gaps_us()) / 1e3),
                        ("idle gaps", lambda t: len(t.idle_gaps_us())),
                        ("median idle gap, µs", lambda t: statistics.median(t.idle_gaps_us() or [0.0]))):
            r, e = f(real), f(emulated)
            err = f"{(e / r - 1) * 100:+.1f}%" if r else "-"
            lines.append(f"  {what:36s} {r:10.1f} {e:10.1f} {err:>8s}")
    lines.append("")
    lines.append(f"largest differences (emulated - real), top {top}:")
    lines.append(f"{'delta ms':>9s} {'real ms':>8s} {'emu ms':>8s} {'n real/emu':>11s} {'µs/launch r/e':>15s}  kernel [grid] [block]")
    for d in compare(real, emulated)[:top]:
        per = (f"{d.real_ns / d.real_count / 1e3 if d.real_count else 0:.1f}/"
               f"{d.emulated_ns / d.emulated_count / 1e3 if d.emulated_count else 0:.1f}")
        what = d.cls if d.cls != "kernel" else f"{short(d.name)} {list(d.grid)} {list(d.block)}"
        lines.append(f"{d.delta_ns / 1e6:+9.2f} {d.real_ns / 1e6:8.2f} {d.emulated_ns / 1e6:8.2f} "
                     f"{f'{d.real_count}/{d.emulated_count}':>11s} {per:>15s}  {what}")
    return "\n".join(lines)


