"""One serving run: `revati-search emulate RUN.yaml --out DIR [--real]`.

The parent resolves the run file, writes the workload (DIR/workload.jsonl) and the resolved spec
(DIR/run.json), starts the harness (`python -m revati_search.harness`) on virtual GPUs (under
VirtualGPUs: interposer + predictor service + timekeeper) or, with real=True, plainly on the real
GPU, then computes the metrics from DIR/requests.csv into DIR/summary.json and merges the
interposer's per-process traces into DIR/trace.json.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from . import kernels, metrics, spec as spec_mod, workloads
from .procs import run_group

if TYPE_CHECKING:
    from timekeeper.calibrate import CpuTimings

RUN_FAILED = 125


class RunError(RuntimeError):
    """The run failed; the message says why (the engine's own error where there is one)."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


@dataclass
class Options:
    real: bool = False
    trace: bool = True
    predictor: str = "default"
    cpu_scale: Optional[float] = None
    target_host: Optional[CpuTimings] = None   # a measured host's benchmark: its cpu_scale
    timeout_s: Optional[float] = None   # wall-clock limit for the harness
    kernels: bool = False   # real runs: profile the replay's kernels (torch.profiler) into kernels.json


def _max_model_len(model_dir: Path) -> Optional[int]:
    cfg = json.loads((model_dir / "config.json").read_text())
    cfg = cfg.get("text_config", cfg)
    return cfg.get("max_position_embeddings")


def prepare(spec: spec_mod.RunSpec, out: Path) -> list[workloads.Request]:
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("requests.csv", "summary.json", "error.txt", "harness.json", "trace.json", kernels.FILE,
                  "kernels-error.txt"):
        (out / stale).unlink(missing_ok=True)
    for old in (out / "traces").glob("*-*.json"):   # a previous run's per-process traces
        old.unlink()
    for old in out.glob("error-rank*.txt"):         # a previous tensor-parallel run's rank errors
        old.unlink()
    reqs = workloads.load(spec.workload, _max_model_len(spec.model))
    if not reqs:
        raise RunError("the workload has no requests (check workload.start_s/end_s/max_requests)", 2)
    workloads.write_jsonl(reqs, out / "workload.jsonl")
    (out / "run.json").write_text(spec_mod.dump(spec))
    return reqs


def _price(gpu: str) -> float:
    try:
        from predictors import load
        return float(load(gpu).price_per_gpu_hour_usd)
    except Exception:  # noqa: BLE001  (no catalog entry: no cost figure)
        return 0.0


CORE_LIBRARY = "librevati_core.so"   # interpose/build.py CORE: marks the interposer's library folder


def real_env(environ: dict[str, str]) -> dict[str, str]:
    """The environment of a --real run: without the interposer (REVATI_* variables, and the LD_PRELOAD
    entries that lie in a folder holding its core library), but with the caller's own preloads, such as
    tools/cudnn_timing_shim.c, which must reach the engine to measure it."""
    env = {k: v for k, v in environ.items() if not k.startswith("REVATI_")}
    keep = [p for p in env.pop("LD_PRELOAD", "").replace(" ", ":").split(":")
            if p and not (Path(p).parent / CORE_LIBRARY).exists()]
    if keep:
        env["LD_PRELOAD"] = ":".join(keep)
    return env


def run(spec: spec_mod.RunSpec, out: Path, opts: Options = Options()) -> dict[str, Any]:
    out = Path(out).resolve()
    reqs = prepare(spec, out)
    cmd = [sys.executable, "-m", "revati_search.harness", str(out / "run.json"), str(out)]
    if opts.kernels and opts.real:
        cmd.append("--kernels")
    trace_dir = out / "traces"
    reason = None
    t = time.perf_counter()
    if opts.real:
        code, timed_out = run_group(cmd, real_env(os.environ), opts.timeout_s)
    else:
        from interpose.launcher import VirtualGPUConfig, VirtualGPUs

        cfg = VirtualGPUConfig(gpu=spec.hardware.gpu, gpus=spec.hardware.count, predictor=opts.predictor,
                               trace_dir=trace_dir if opts.trace else None, cpu_scale=opts.cpu_scale,
                               target_host=opts.target_host)
        with VirtualGPUs(cfg) as v:
            code, timed_out = run_group(cmd, v.env(), opts.timeout_s)
            reason = v.timekeeper.failure if v.timekeeper else None
            cpu_scale = {"cpu_scale": v.cpu_scale, "cpu_scale_source": v.cpu_scale_source}
    wall = time.perf_counter() - t
    if code != 0 or timed_out or reason:
        err = out / "error.txt"
        why = err.read_text().strip().split("\n\n")[0] if err.exists() else ""
        if timed_out:
            why = f"the run exceeded its wall-clock limit of {opts.timeout_s:.0f} s (engine hung?)" + (f"; {why}" if why else "")
        if reason:   # the engine's own error, where it left one, is the cause: it leads
            why = f"{why} (the timekeeper also failed the run: {reason})" if why else f"the timekeeper failed the run: {reason}"
        raise RunError(why or f"the harness exited with status {code}", code if code > 0 else RUN_FAILED)

    harness = json.loads((out / "harness.json").read_text())
    rows = metrics.read_requests(out / "requests.csv")
    slo = spec.slo.model_dump() if spec.slo else None
    summary: dict[str, Any] = metrics.summarize(rows, slo)
    summary["mode"] = "real" if opts.real else "emulated"
    if opts.real and opts.kernels:
        summary["kernels_profiled"] = True   # CUPTI slowed its launches: not a plain run's metrics
    summary["hardware"] = spec.hardware.model_dump()
    summary["versions"] = harness.get("versions", {})
    summary["wall_time_s"] = wall                      # the whole harness process, model build included
    summary["model_build_s"] = harness.get("model_build_s")
    summary["warmup_s"] = harness.get("warmup_s")      # virtual when emulated
    if not opts.real:
        summary["emulation_wall_s"] = wall
        summary["serving_wall_s"] = harness.get("serving_wall_s")   # the replay alone (no start-up, build, warm-up)
        if summary["serving_wall_s"] is not None and summary["duration"]:
            summary["serving_wall_per_virtual_s"] = summary["serving_wall_s"] / summary["duration"]
        summary["emulation_wall_per_virtual_s"] = wall / summary["duration"] if summary["duration"] else None
        summary["predictor"] = opts.predictor
        summary.update(cpu_scale)
    summary["requests"] = len(reqs)
    price = _price(spec.hardware.gpu) * spec.hardware.count
    if price and summary["total_output_tokens"]:
        # what the deployment costs per million output tokens at this run's throughput
        summary["price_per_hour_usd"] = price
        summary["cost_per_million_output_tokens_usd"] = price / 3600 * summary["duration"] / summary["total_output_tokens"] * 1e6
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    if opts.trace and not opts.real:
        t0 = harness.get("t0_timeline_s")
        merge_traces(trace_dir, out / "trace.json", rows, t0)
        ends = [r["last_token_s"] for r in rows if r.get("status") == "ok"]
        if t0 is not None and ends:   # the replay's kernels, as `--real --kernels` measures them
            kernels.from_interposer(trace_dir, t0, t0 + max(ends)).save(out)
    return summary


def merge_traces(trace_dir: Path, dest: Path, rows: Optional[list[dict[str, Any]]] = None,
                 t0: Optional[float] = None) -> int:
    """One Perfetto/Chrome trace of the run: every process's GPU streams (the interposer's
    trace-<pid>.json), plus one track per request (queued -> first token -> last token) in the
    virtual time (t0: the trace's start on the interposer's timeline, in s)."""
    from interpose.trace import load_trace

    events: list[dict[str, Any]] = []
    for path in sorted(Path(trace_dir).glob("trace-*.json")):
        try:
            events.extend(load_trace(path))
        except (OSError, ValueError):
            continue
    if rows and t0 is not None:
        pid = 0
        events.append({"ph": "M", "pid": pid, "name": "process_name", "args": {"name": "requests"}})
        for i, r in enumerate(rows):
            if r.get("status") != "ok":
                continue
            us = lambda s: (t0 + s) * 1e6  # noqa: E731
            events.append({"ph": "X", "pid": pid, "tid": i, "name": f"{r['request_id']} queued+prefill",
                           "ts": us(r["sent_s"]), "dur": (r["first_token_s"] - r["sent_s"]) * 1e6,
                           "args": {"input_tokens": r["input_tokens"]}})
            events.append({"ph": "X", "pid": pid, "tid": i, "name": f"{r['request_id']} decode",
                           "ts": us(r["first_token_s"]), "dur": (r["last_token_s"] - r["first_token_s"]) * 1e6,
                           "args": {"output_tokens": r["output_tokens"]}})
    dest.write_text(json.dumps({"traceEvents": events, "displayTimeUnit": "ms"}))
    return len(events)


COMPARED = ("duration", "request_throughput", "output_throughput", "mean_ttft_ms", "median_ttft_ms", "p99_ttft_ms",
            "mean_tpot_ms", "median_tpot_ms", "p99_tpot_ms", "mean_itl_ms", "median_itl_ms", "p99_itl_ms",
            "mean_e2el_ms", "median_e2el_ms", "p99_e2el_ms")


def compare(emulated: dict[str, Any], real: dict[str, Any]) -> dict[str, Any]:
    """The emulation against the same run on a real GPU: each metric's relative error, and the
    emulation's wall time beside the real serving duration."""
    rows = {}
    for k in COMPARED:
        e, r = emulated.get(k), real.get(k)
        if e is None or r is None:
            continue
        rows[k] = {"emulated": e, "real": r, "error": (e - r) / r if r else None}
    out: dict[str, Any] = {"metrics": rows}
    wall = emulated.get("emulation_wall_s")
    if wall is not None and real.get("duration"):
        out["emulation_wall_s"] = wall
        out["real_duration_s"] = real["duration"]
        out["emulation_wall_per_real_s"] = wall / real["duration"]
        if emulated.get("serving_wall_s") is not None:
            out["serving_wall_s"] = emulated["serving_wall_s"]
            out["serving_wall_per_real_s"] = emulated["serving_wall_s"] / real["duration"]
    out["versions"] = {"emulated": emulated.get("versions"), "real": real.get("versions")}
    return out


def read_summary(path: Path) -> dict[str, Any]:
    path = Path(path)
    return json.loads((path / "summary.json" if path.is_dir() else path).read_text())
