"""Readers for what the interposer writes with --trace: per-process Chrome traces (virtual time)
and per-API call counts."""
from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path


def load_trace(path: Path) -> list[dict]:
    """Events of one trace-<pid>.json (the JSON array format, written at the process's exit; a truncated one may lack the ']')."""
    text = Path(path).read_text().rstrip()
    if not text.endswith("]"):
        text = text.rstrip(",") + "]"
    return json.loads(text)


def demangle(names: list[str]) -> dict[str, str]:
    """C++ kernel names as people read them (c++filt, when binutils is there)."""
    mangled = [n for n in names if n.startswith("_Z")]
    if not mangled or not shutil.which("c++filt"):
        return {n: n for n in names}
    out = subprocess.run(["c++filt"], input="\n".join(mangled), capture_output=True, text=True).stdout.splitlines()
    table = dict(zip(mangled, out)) if len(out) == len(mangled) else {}
    return {n: table.get(n, n) for n in names}


@dataclass(frozen=True)
class ApiCount:
    lib: str
    name: str
    calls: int
    stub: bool   # no emulated behaviour: the call returned the library's "not supported" status


def load_api_counts(path: Path) -> list[ApiCount]:
    data = json.loads(Path(path).read_text())
    return [ApiCount(c["lib"], c["name"], c["calls"], c["stub"]) for c in data["calls"]]


@dataclass
class ProcessSummary:
    pid: int
    ops: Counter = field(default_factory=Counter)             # op name -> count
    busy_us: dict[int, float] = field(default_factory=dict)   # stream lane -> virtual busy time
    time_us: Counter = field(default_factory=Counter)         # op name -> total virtual time
    span_us: float = 0.0                                       # first start to last end
    api: list[ApiCount] = field(default_factory=list)

    @property
    def stub_hits(self) -> list[ApiCount]:
        return [c for c in self.api if c.stub]


def summarize(trace_dir: Path) -> list[ProcessSummary]:
    """One summary per process that used CUDA, from trace-<pid>.json and api-<pid>.json."""
    out: dict[int, ProcessSummary] = {}
    for f in sorted(Path(trace_dir).glob("trace-*.json")):
        pid = int(f.stem.split("-")[1])
        s = out.setdefault(pid, ProcessSummary(pid))
        busy: dict[int, float] = defaultdict(float)
        starts, ends = [], []
        for e in load_trace(f):
            if e.get("ph") != "X" or not e.get("tid"):
                continue
            s.ops[e["name"]] += 1
            s.time_us[e["name"]] += e["dur"]
            busy[e["tid"]] += e["dur"]
            starts.append(e["ts"])
            ends.append(e["ts"] + e["dur"])
        s.busy_us = dict(busy)
        s.span_us = max(ends) - min(starts) if starts else 0.0
    for f in sorted(Path(trace_dir).glob("api-*.json")):
        pid = int(f.stem.split("-")[1])
        out.setdefault(pid, ProcessSummary(pid)).api = load_api_counts(f)
    return [out[p] for p in sorted(out) if out[p].ops or out[p].api]
