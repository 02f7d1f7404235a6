"""Accuracy of the profiled predictors against real-GPU measurements they were not fitted to.

    python benchmarks/predictors_accuracy.py [--gpu h100,h200] [--no-forward] [--json OUT]

1. Held-out shapes: every GPU profile (predictors/profiles/<gpu>/profile.json, measured on the real
   GPU by `revati-search profile`) keeps ~20% of its items out of fitting, chosen by a fixed hash of
   the item's key (predictors.profile.grid.held_out). A predictor fitted to the other 80% predicts
   them; printed per operation class: median, p90 and mean |error|, and the roofline's for comparison.
   NCCL collectives (the GPU's collectives.json, or the one it shares by NVLink figure) are held out
   differently, as their curves are short: every other size inside each (collective, ranks) curve
   (16 KiB, 256 KiB, 4 MiB, 64 MiB: each then lies in a x16 gap), and whole numbers of ranks (4 GPUs
   predicted from the 2-GPU curves alone, and from the 2- and 3-GPU ones; 3 from the 2- and 4-GPU
   ones: the scaling that serves 8 GPUs from the measured 2-4).
2. Llama forward passes: the same forward passes that the profile measured on the real GPU (sum of
   kernel times from torch.profiler, median of 3) run on virtual GPUs under the interposer
   (predictors.profile.emulate); the predicted GPU time of each is the sum of the predicted
   durations of its operations in the run's trace. Predictors: `profiled` (what ships: all the
   data), `profiled:train` (held-out items removed) and `profiled:train,noforward` (also without
   any kernel measured inside a forward pass: the kernel table comes from the kernel sweep and the
   serving runs only).
3. Lookup cost of a cached prediction (same operation again), and of a repeated request line
   through the server's reply cache.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from predictors import create, load, parse_op  # noqa: E402
from predictors.names import template  # noqa: E402
from predictors.profile import grid  # noqa: E402
from predictors.profiled import (  # noqa: E402
    CollectiveModel,
    ProfiledPredictor,
    reduced_shape,
    available,
    collective_samples,
    load_collectives,
    load_profile,
    rows,
    samples,
)

LIBRARY_KERNELS = ("nvjet", "cudnn", "cutlass", "gemm", "cublas", "xmma", "sm90_", "sm80_", "flash", "fmha")


def is_library_kernel(name: str) -> bool:
    lowered = name.lower()
    return any(tag in lowered for tag in LIBRARY_KERNELS)


def stats(errors: list[float]) -> dict[str, Any]:
    if not errors:
        return {"n": 0}
    e = sorted(abs(x) for x in errors)
    return {"n": len(e), "median": statistics.median(e), "p90": e[min(len(e) - 1, int(0.9 * len(e)))],
            "mean": sum(e) / len(e), "bias": statistics.median(errors)}


def held_out_errors(gpu: str) -> dict[str, dict[str, list[float]]]:
    """class -> {"profiled": [relative errors], "roofline": [...]} over held-out items."""
    profile = load_profile(gpu)
    assert profile is not None
    hw = load(gpu)
    train = ProfiledPredictor(hw, profile, keep=lambda cls, key: cls == "source" or not grid.held_out(key))
    roof = create("roofline", hw)
    test = samples(profile, keep=lambda cls, key: cls == "source" or grid.held_out(key))
    out: dict[str, dict[str, list[float]]] = {}

    def add(cls: str, predicted: float, rooflined: float, measured: float) -> None:
        d = out.setdefault(cls, {"profiled": [], "roofline": []})
        d["profiled"].append(predicted / measured - 1)
        d["roofline"].append(rooflined / measured - 1)

    for op, ns, _ in test["gemm"]:
        add(f"gemm {op.dtype_a}", train.duration_ns(op), roof.duration_ns(op), ns)
        add("gemm (all)", train.duration_ns(op), roof.duration_ns(op), ns)
    for op, ns, _ in test["attention"]:
        kind = "decode" if op.q_len == 1 else "prefill" if op.q_len == op.kv_len else "chunked"
        add(f"attention {kind}", train.duration_ns(op), roof.duration_ns(op), ns)
        add("attention (all)", train.duration_ns(op), roof.duration_ns(op), ns)
    # kernel table: one test point per held-out (name, grid, block), measured = median over sources
    from predictors.ops import KernelOp
    entries: dict[tuple[Any, ...], list[float]] = {}
    for name, g, b, ns, _ in test["kernel"]:
        entries.setdefault((name, g, b), []).append(ns)
    for (name, g, b), values in entries.items():
        if is_library_kernel(name):
            continue
        op = KernelOp(name=name, grid=g, block=b)
        add("memory-bound kernels", train.duration_ns(op), roof.duration_ns(op), statistics.median(values))
    # reductions whose sweep item names their shape: priced by it (as the interposer reports it from
    # the launch's arguments) and, for comparison, by their geometry alone
    for name, g, b, ns, source in test["kernel"]:
        shape = reduced_shape(name, source)
        if shape:
            by_shape = KernelOp(name=name, grid=g, block=b, outputs=shape[0], elements=shape[0] * shape[1])
            add("reductions by shape", train.duration_ns(by_shape), roof.duration_ns(by_shape), ns)
            add("reductions by geometry", train.duration_ns(KernelOp(name=name, grid=g, block=b)), roof.duration_ns(by_shape), ns)
    from predictors.ops import MemcpyOp, MemsetOp
    for direction, pinned, nbytes, ns in test["copy"]:
        op = MemsetOp(bytes=nbytes) if direction == "memset" else MemcpyOp(bytes=nbytes, direction=direction, pinned=pinned)
        add("copies/memsets", train.duration_ns(op), roof.duration_ns(op), ns)
    for cls, errs in collective_errors(gpu).items():
        out[cls] = errs
    return out


def collective_errors(gpu: str) -> dict[str, dict[str, list[float]]]:
    """Collectives: every other size inside each measured curve held out, then whole numbers of
    ranks (see the module's docstring); class -> {"profiled": [...], "roofline": [...]}."""
    from predictors.ops import CollectiveOp

    hw = load(gpu)
    data = load_collectives(hw)
    if data is None or data["gpu"] != gpu:  # none, or another GPU's curves (checked under that GPU)
        return {}
    measured = collective_samples(data)
    roof = create("roofline", hw)
    out: dict[str, dict[str, list[float]]] = {}

    def check(cls: str, model: CollectiveModel, test: list[tuple[str, int, int, float]]) -> None:
        for name, ranks, nbytes, ns in test:
            op = CollectiveOp.model_validate({"name": name, "ranks": ranks, "bytes": nbytes, "dtype": "bf16"})
            predicted, _ = model.predict(op)
            assert predicted is not None, op
            for c in (cls, f"{cls} {name}") if cls == "collectives: sizes" else (cls,):
                d = out.setdefault(c, {"profiled": [], "roofline": []})
                d["profiled"].append(predicted / ns - 1)
                d["roofline"].append(roof.duration_ns(op) / ns - 1)

    sizes: dict[tuple[str, int], list[int]] = {}
    for name, ranks, nbytes, _ in measured:
        sizes.setdefault((name, ranks), []).append(nbytes)
    held = {(n, r, b) for (n, r), bs in sizes.items() for i, b in enumerate(sorted(bs)) if i % 2 == 1 and i < len(bs) - 1}
    check("collectives: sizes", CollectiveModel([s for s in measured if s[:3] not in held]),
          [s for s in measured if s[:3] in held])
    present = {r for _, r, _, _ in measured}
    for target, train in ((4, {2}), (4, {2, 3}), (3, {2, 4})):
        if target in present and train <= present:
            check(f"collectives: {target} from {'+'.join(map(str, sorted(train)))} GPUs",
                  CollectiveModel([s for s in measured if s[1] in train]), [s for s in measured if s[1] == target])
    return out


def emulate_forwards(gpu: str, spec: str) -> dict[str, dict[str, Any]]:
    from predictors.profile.emulate import forward_times
    from predictors.profile.llama import COMPOSITIONS

    ids = [c.id for c in COMPOSITIONS]
    with tempfile.TemporaryDirectory() as tmp:
        # real time is enough: the trace holds each operation's predicted duration whatever the clock
        cmd = [sys.executable, "-m", "revati_search.cli", "run", "--gpu", gpu, "--predictor", spec, "--trace", tmp, "--no-timekeeper",
               "--", sys.executable, "-m", "predictors.profile.emulate", *ids]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            raise RuntimeError(f"emulated forwards failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return forward_times(Path(tmp), ids)


def lookup_cost() -> dict[str, float]:
    from predictors.ops import KernelOp
    from predictors.server import PredictorServer

    hw = load(available()[0])
    pred = create("profiled", hw)
    ops = [parse_op(grid.gemm_op({"m": m, "n": 4096, "k": 4096, "batch": 1, "dtype": "bf16", "form": "linear"}))
           for m in range(1, 513)]
    ops += [KernelOp(name="_ZN2at6native29vectorized_elementwise_kernelILi8ENS0_21CUDAFunctorOnSelf_addIN3c108BFloat16EEESt5arrayIPcLm2EELb0EEEviT0_T1_",
                     grid=(g, 1, 1), block=(128, 1, 1)) for g in range(1, 513)]
    for op in ops:
        pred.duration_ns(op)
    n = 200_000
    seq = [ops[i % len(ops)] for i in range(n)]
    t = time.perf_counter()
    for op in seq:
        pred.duration_ns(op)
    per_op = (time.perf_counter() - t) / n * 1e9
    server = PredictorServer(pred, "/tmp/unused.sock")
    lines = [json.dumps({"op": "gemm", **{k: v for k, v in op.model_dump().items() if k != "kind"}}).encode() + b"\n"
             for op in ops[:512]]
    for line in lines:
        server.answer(line)
    seq_l = [lines[i % len(lines)] for i in range(n)]
    t = time.perf_counter()
    for line in seq_l:
        server.answer(line)
    per_line = (time.perf_counter() - t) / n * 1e9
    return {"duration_ns_cached_ns": per_op, "server_answer_cached_ns": per_line}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gpu", default=",".join(available()), help="profiles to evaluate (default: all shipped)")
    ap.add_argument("--no-forward", action="store_true", help="skip the forward passes on virtual GPUs")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    a = ap.parse_args()
    report: dict[str, Any] = {}
    for gpu in [g for g in a.gpu.split(",") if g]:
        profile = load_profile(gpu)
        assert profile is not None, f"no profile for {gpu}"
        meta = profile["meta"]
        print(f"\n=== {gpu}: {meta['gpu']}, torch {meta['torch']}, CUDA {meta['cuda']}, driver {meta.get('driver')}, "
              f"measured {meta['date']} ===")
        errs = held_out_errors(gpu)
        print(f"\nheld-out shapes (fitted to the other {100 - grid.HOLDOUT_PERCENT}%), |error| of predicted vs measured:")
        print(f"  {'class':34s} {'n':>5s} {'median':>8s} {'p90':>8s} {'mean':>8s} {'bias':>8s}   roofline median")
        report[gpu] = {"held_out": {}}
        for cls in sorted(errs):
            s, r = stats(errs[cls]["profiled"]), stats(errs[cls]["roofline"])
            report[gpu]["held_out"][cls] = {"profiled": s, "roofline": r}
            print(f"  {cls:34s} {s['n']:5d} {100 * s['median']:7.1f}% {100 * s['p90']:7.1f}% {100 * s['mean']:7.1f}% "
                  f"{100 * s['bias']:+7.1f}%   {100 * r['median']:7.1f}%")
        colls = load_collectives(load(gpu))
        if colls is not None and colls["gpu"] != gpu:
            print(f"  (collectives: {colls['gpu']}'s NCCL curves, same NVLink figure in the catalog; checked under {colls['gpu']})")
        if a.no_forward:
            continue
        measured = profile["forward"]
        print("\nLlama forward passes: predicted on virtual GPUs vs measured on the real GPU (sum of kernel times)")
        specs = ["profiled", "profiled:train", "profiled:train,noforward", "roofline"]
        results = {spec: emulate_forwards(gpu, spec) for spec in specs}
        report[gpu]["forward"] = {}
        header = "".join(f" {s:>26s}" for s in specs)
        print(f"  {'forward':34s} {'measured ms':>11s}{header}")
        for cid, m in measured.items():
            cells = []
            for spec in specs:
                p = results[spec].get(cid)
                if p is None:
                    cells.append(f" {'-':>26s}")
                    continue
                err = p["ns"] / m["ns"] - 1
                cells.append(f" {p['ns'] / 1e6:10.3f} ms {100 * err:+7.1f}%      ")
                report[gpu]["forward"].setdefault(cid, {"measured_ns": m["ns"], "measured_by_class": m["by_class"]})[spec] = {
                    "ns": p["ns"], "error": err, "by_class": p["by_class"], "count": p["count"]}
            print(f"  {cid:34s} {m['ns'] / 1e6:9.3f} ms" + "".join(cells))
        for spec in specs:
            errors = [abs(v[spec]["error"]) for v in report[gpu]["forward"].values() if spec in v]
            big = [abs(v[spec]["error"]) for k, v in report[gpu]["forward"].items() if spec in v and k.startswith("8b")]
            print(f"  {spec:34s} |error| median {100 * statistics.median(errors):.1f}%, max {100 * max(errors):.1f}%; "
                  f"8B forwards max {100 * max(big):.1f}%")
        print("\n  by class, profiled (predicted / measured ms):")
        for cid, v in report[gpu]["forward"].items():
            p = v["profiled"]["by_class"]
            mm = v["measured_by_class"]
            cells = "  ".join(f"{c} {p.get(c, 0) / 1e6:.3f}/{mm.get(c, 0) / 1e6:.3f}" for c in ("gemm", "attention", "kernel", "copy"))
            print(f"  {cid:34s} {cells}")
    cost = lookup_cost()
    report["lookup"] = cost
    print(f"\ncached lookup: duration_ns {cost['duration_ns_cached_ns']:.0f} ns per call; "
          f"server answer to a repeated request line {cost['server_answer_cached_ns']:.0f} ns")
    if a.json:
        a.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
