"""CPU speed of this host against the target GPU hosts: the clock page's ``cpu_scale``.

Virtual time advances with the participants' CPU time times ``cpu_scale`` (virtual ns per CPU ns
here), so CPU work between GPU steps costs what it would cost on the target host. The scale is
``t_target / t_here`` for a fixed benchmark: a pure-Python loop (interpreter work, as in a serving
engine's scheduler) and, where torch is importable, small torch CPU operations (dispatch-bound, as in
an engine's host-side step preparation). With both on both sides the scale is their geometric mean.

The targets' timings were measured once on the real GPU hosts and live in ``hosts.json``, beside a
reference measurement of the project's own emulation host. A target may also carry a ``serving_scale``:
the scale at which emulated serving runs on that emulation host matched real runs on the target's
GPU hosts (the median over several hosts; ``benchmarks/host_scale.py``). The micro-benchmark alone
misjudges serving there: GPU hosts of one kind differ by up to 1.8x in how fast they serve, and their
benchmark readings follow neither that nor themselves from one minute to the next. With a serving scale,
the benchmark only carries it from the stored emulation host to this one.
``revati-search calibrate`` measures this host and caches its timings per host name in
``$XDG_CACHE_HOME/revati-search/cpu_scale.json`` (``~/.cache`` by default).

This module needs only the standard library (and torch, optionally), so that
``python3 -m timekeeper.calibrate`` measures a target host that has nothing of this project installed.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import platform
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

# Bump when the benchmark changes: timings of different versions are not comparable.
BENCHMARK_VERSION = 1
HOSTS_FILE = Path(__file__).with_name("hosts.json")
REPEATS = 5
PYTHON_LOOP_N = 800_000
TORCH_OPS_N = 15_000


@dataclass(frozen=True)
class CpuTimings:
    """One host's benchmark result: seconds of process CPU time, best of REPEATS."""

    cpu_model: str
    python_loop_s: float
    torch_ops_s: float | None     # None: torch not importable there
    python: str
    torch: str | None
    measured: str                 # ISO date
    benchmark_version: int = BENCHMARK_VERSION
    note: str = ""


def _python_loop(n: int) -> int:
    # dict/list/str/int work and calls: the mix of a scheduler's bookkeeping
    table: dict[int, int] = {}
    items: list[str] = []
    acc = 0
    for i in range(n):
        k = i & 1023
        table[k] = table.get(k, 0) + i
        if i % 7 == 0:
            items.append(str(i))
        acc += len(items[-1]) if items else 0
    return acc + len(table)


def _torch_ops(torch: Any, n: int) -> float:
    x = torch.ones(64)
    acc = torch.zeros(())
    for _ in range(n):
        acc = acc + ((x * 2.0 + 1.0).relu().sum())
    return float(acc)


def _best_cpu_seconds(work: Callable[[], object], repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.process_time_ns()
        work()
        best = min(best, (time.process_time_ns() - start) / 1e9)
    return best


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def measure(repeats: int = REPEATS) -> CpuTimings:
    """Runs the benchmark here (about 2 s with torch); torch on one thread, like an engine's host code."""
    python_s = _best_cpu_seconds(lambda: _python_loop(PYTHON_LOOP_N), repeats)
    try:
        import torch
    except ImportError:
        torch_s, torch_version = None, None
    else:
        torch.set_num_threads(1)
        _torch_ops(torch, 200)  # first calls initialise the dispatcher
        torch_s = _best_cpu_seconds(lambda: _torch_ops(torch, TORCH_OPS_N), repeats)
        torch_version = str(torch.__version__)
    return CpuTimings(cpu_model=cpu_model(), python_loop_s=python_s, torch_ops_s=torch_s,
                      python=platform.python_version(), torch=torch_version,
                      measured=datetime.date.today().isoformat())


def scale(target: CpuTimings, here: CpuTimings) -> float:
    """Virtual ns per CPU ns here: geometric mean of t_target / t_here over the benchmarks both ran."""
    if target.benchmark_version != here.benchmark_version:
        raise ValueError(f"benchmark versions differ: target {target.benchmark_version}, here {here.benchmark_version}")
    ratios = [target.python_loop_s / here.python_loop_s]
    if target.torch_ops_s is not None and here.torch_ops_s is not None:
        ratios.append(target.torch_ops_s / here.torch_ops_s)
    return math.prod(ratios) ** (1 / len(ratios))


def _hosts() -> dict[str, Any]:
    hosts: dict[str, Any] = json.loads(HOSTS_FILE.read_text())
    return hosts


def targets() -> list[str]:
    return sorted(_hosts()["targets"])


def reference(target: str) -> CpuTimings:
    """The stored timings of a target GPU host (KeyError if none was measured)."""
    return _timings(_hosts()["targets"][target])


def serving_scale(target: str) -> float | None:
    """The target's stored serving scale (virtual ns per CPU ns on the stored emulation host), if any."""
    value = _hosts()["targets"].get(target, {}).get("serving_scale")
    return None if value is None else float(value)


def target_scale(target: str, here: CpuTimings) -> float:
    """The scale that models target on a host with these timings: the target's serving scale carried
    from the stored emulation host to this one by the benchmark, else the benchmark ratio alone."""
    stored = serving_scale(target)
    if stored is None:
        return scale(reference(target), here)
    return stored * scale(default_host(), here)


def measured_host_scale(target: str) -> float:
    """The scale that models the very host the target's reference timings were measured on (where the
    libraries' host costs were measured too); the default scale for a target never measured."""
    try:
        return scale(reference(target), _here()[0])
    except KeyError:
        return cpu_scale(target)[0]


def default_host() -> CpuTimings:
    """The stored reference measurement of the project's emulation host."""
    return CpuTimings(**_hosts()["emulation_host"])


def cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "revati-search" / "cpu_scale.json"


def _read_cache() -> dict[str, dict[str, dict[str, Any]]]:
    try:
        cache: dict[str, dict[str, dict[str, Any]]] = json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return {}
    return cache


def save(target: str, value: float, here: CpuTimings) -> Path:
    """Caches this host's scale for target; keyed by host name, since a home folder may be shared."""
    cache = _read_cache()
    cache.setdefault(socket.gethostname(), {})[target] = {"cpu_scale": value, **dataclasses.asdict(here)}
    path = cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cache, indent=2) + "\n")
    tmp.replace(path)
    return path


def cpu_scale(target: str) -> tuple[float, str]:
    """The scale a run on target uses, and where it came from: this host's calibration (of the current
    benchmark), else the stored default (this project's emulation host), else 1.0 for a target
    whose host was never measured."""
    if target not in targets():
        return 1.0, f"no reference CPU timings for target {target!r}: virtual time = CPU time here"
    what = "serving scale" if serving_scale(target) is not None else "benchmark"
    entry = _read_cache().get(socket.gethostname(), {}).get(target)
    if entry and entry.get("benchmark_version") == BENCHMARK_VERSION:
        return target_scale(target, _timings(entry)), f"calibrated on this host {entry['measured']} ({what})"
    return target_scale(target, default_host()), f"default ({what}; reference emulation host: run `revati-search calibrate`)"


def _timings(data: dict[str, Any]) -> CpuTimings:
    """CpuTimings from a JSON object that may carry more keys (the cache's cpu_scale)."""
    fields = {f.name for f in dataclasses.fields(CpuTimings)}
    return CpuTimings(**{k: v for k, v in data.items() if k in fields})


def _here() -> tuple[CpuTimings, str]:
    """This host's benchmark timings: its calibration, else the stored emulation host's."""
    for entry in _read_cache().get(socket.gethostname(), {}).values():
        if entry.get("benchmark_version") == BENCHMARK_VERSION:
            return _timings(entry), f"this host's calibration of {entry['measured']}"
    return default_host(), "the stored emulation host"


def load_timings(path: Path) -> CpuTimings:
    """A host's benchmark result as `python3 -m timekeeper.calibrate` writes it (ValueError if it is not one)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read {path}: {e}") from None
    try:
        timings = _timings(data)
    except (TypeError, AttributeError):
        raise ValueError(f"{path} is not the output of `python3 -m timekeeper.calibrate` "
                         "(needs cpu_model, python_loop_s, torch_ops_s, python, torch, measured)") from None
    if timings.benchmark_version != BENCHMARK_VERSION:
        raise ValueError(f"{path} holds benchmark version {timings.benchmark_version}; this one is {BENCHMARK_VERSION}: measure again")
    return timings


def scale_to(target: CpuTimings) -> tuple[float, str]:
    """The scale that models one measured target host (its `calibrate.json`), and where it came from."""
    here, source = _here()
    return scale(target, here), f"target host measured {target.measured} ({target.cpu_model}) against {source}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Measure this host's CPU benchmark timings (JSON on stdout).")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args(argv)
    json.dump(dataclasses.asdict(measure(args.repeats)), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
