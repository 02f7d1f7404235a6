"""Where one eager decode step of transformers continuous batching spends its time, on a real GPU
(or, for comparison, under `revati-search run --gpu h100 -- python tools/eager_step_real.py ...`).

1. micro: torch SDPA calls shaped like a paged|sdpa decode step (one query token, kv length L, the
   engine's float mask slice), new L every call vs the same L again, per SDPA backend: host time of
   the call and time to completion.
2. engine: the engine (ContinuousBatchingManager, eager, paged|sdpa) serving one request alone; per
   condition (default SDPA choice / cuDNN SDPA disabled) the median inter-token time, host time in
   SDPA calls and in model.forward per step, and -- with tools/cudnn_timing_shim.so preloaded -- host
   time in cudnnBackendFinalize / GetAttribute per descriptor type per step.

3. ops (--parts ops): host wall time per small torch op on CUDA and on CPU tensors.
With EAGER_STEP_PROFILE=1 the engine part also runs one request with cuDNN SDPA off under kineto
(GPU kernel count and time, CUDA runtime calls, from every thread).

Writes $OUT/eager_step.json (or --out). Needs transformers (5.18 as the validation set) and torch.
Results and what they showed: benchmarks/eager-step/README.md.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import statistics
import sys
import time

import torch

NSLOT = 263
PROFILE = os.environ.get("EAGER_STEP_PROFILE") == "1"
TYPE_NAMES = {2: "ENGINE", 3: "ENGINECFG", 4: "ENGINEHEUR", 5: "EXECUTION_PLAN", 13: "OP_POINTWISE",
              15: "OPERATIONGRAPH", 16: "VARIANT_PACK", 17: "TENSOR", 18: "MATMUL", 19: "OP_MATMUL",
              0: "POINTWISE", 7: "KNOB_CHOICE", 8: "KNOB_INFO", 38: "DEVICEPROP", 34: "KERNEL_CACHE",
              21: "REDUCTION", 22: "OP_REDUCTION", 63: "UNKNOWN"}


def shim():
    f = getattr(ctypes.CDLL(None), "cudnn_shim_snapshot", None)
    if f is None:
        return None
    f.argtypes = [ctypes.POINTER(ctypes.c_int64)]

    def snap():
        buf = (ctypes.c_int64 * NSLOT)()
        f(buf)
        return list(buf)
    return snap


SNAP = shim()


def shim_delta(a, b, per=1.0):
    if a is None or b is None:
        return None
    d = [(y - x) / per for x, y in zip(a, b)]
    out = {"finalize_ms": {}, "finalize_calls": {}, "getattr_ms": {}, "getattr_calls": {}}
    for t in range(64):
        name = TYPE_NAMES.get(t, str(t))
        if d[64 + t]:
            out["finalize_ms"][name] = round(d[t] / 1e6, 4)
            out["finalize_calls"][name] = round(d[64 + t], 2)
        if d[192 + t]:
            out["getattr_ms"][name] = round(d[128 + t] / 1e6, 4)
            out["getattr_calls"][name] = round(d[192 + t], 2)
    out["finalize_total_ms"] = round(sum(d[0:64]) / 1e6, 4)
    out["getattr_total_ms"] = round(sum(d[128:192]) / 1e6, 4)
    out["execute_ms"] = round(d[256] / 1e6, 4)
    out["execute_calls"] = round(d[257], 2)
    out["setattr_ms"] = round(d[258] / 1e6, 4)
    out["setattr_calls"] = round(d[259], 2)
    out["create_calls"] = round(d[260], 2)
    out["destroy_ms"] = round(d[261] / 1e6, 4)
    return out


def backend_ctx(name):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    if name == "default":
        return contextlib.nullcontext()
    return sdpa_kernel([{"cudnn": SDPBackend.CUDNN_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION,
                         "math": SDPBackend.MATH, "flash": SDPBackend.FLASH_ATTENTION}[name]])


def micro(heads: int, kv_heads: int, head_dim: int, base: int, n: int) -> dict:
    """Per backend and query shape (decode q=1, mixed q=3, prefill q=kv): n calls each with a kv
    length no earlier call used, then n calls repeating the last shape, then the first shape again."""
    dev, dt = "cuda", torch.bfloat16
    sdpa = torch.nn.functional.scaled_dot_product_attention
    cases = (("decode", lambda L: 1), ("mixed", lambda L: 3), ("prefill", lambda L: L))
    top = base + 3 * len(cases) * n + 64
    mask_buf = torch.zeros(1, 1, top, 1024 + top, dtype=dt, device=dev)
    res = {}
    used = base

    def call(qn, L):
        q = torch.randn(1, heads, qn, head_dim, dtype=dt, device=dev)
        k = torch.randn(1, heads, L, head_dim, dtype=dt, device=dev)
        v = torch.randn(1, heads, L, head_dim, dtype=dt, device=dev)
        m = mask_buf[..., :qn, :L]
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        sdpa(q, k, v, attn_mask=m, is_causal=False)
        t1 = time.perf_counter()
        torch.cuda.synchronize()
        t2 = time.perf_counter()
        return (t1 - t0) * 1e3, (t2 - t0) * 1e3

    for backend in ("default", "efficient"):
        for case, qfn in cases:
            key = f"{backend}/{case}"
            try:
                with backend_ctx(backend):
                    s0 = SNAP() if SNAP else None
                    lens = list(range(used, used + n))
                    used += n
                    new = [call(qfn(L), L) for L in lens]
                    s1 = SNAP() if SNAP else None
                    same = [call(qfn(lens[-1]), lens[-1]) for _ in range(n)]
                    s2 = SNAP() if SNAP else None
                    again = call(qfn(lens[0]), lens[0])
                res[key] = {"lens": [lens[0], lens[-1]],
                            "new_shape_host_ms": statistics.median(x[0] for x in new),
                            "new_shape_total_ms": statistics.median(x[1] for x in new),
                            "same_shape_host_ms": statistics.median(x[0] for x in same),
                            "same_shape_total_ms": statistics.median(x[1] for x in same),
                            "first_shape_again_host_ms": again[0],
                            "new_shape_host_ms_all": [round(x[0], 3) for x in new],
                            "cudnn_api_per_new_call": shim_delta(s0, s1, n),
                            "cudnn_api_per_same_call": shim_delta(s1, s2, n)}
            except Exception as e:  # noqa: BLE001
                res[key] = {"error": f"{type(e).__name__}: {e}"}
    try:   # which kernels the default choice runs
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            call(1, used + 7)
        res["default_ops"] = sorted({e.key for e in prof.key_averages()})[:40]
    except Exception as e:  # noqa: BLE001
        res["default_ops"] = f"{type(e).__name__}: {e}"
    return res


def op_costs(n: int = 2000) -> dict:
    """Host wall time per small torch op, on CUDA tensors and on CPU tensors (no profiler): the
    difference is what the CUDA path (dispatch to the CUDA kernel, the launch) costs the host."""
    out = {}
    for dev in ("cuda", "cpu"):
        x = torch.ones(16, device=dev)
        a = torch.randn(64, 64, device=dev)
        idx = torch.arange(8, device=dev)
        ops = {"add_": lambda: x.add_(1), "mul": lambda: x * 2, "mm64": lambda: a @ a,
               "index_select": lambda: a.index_select(0, idx), "sum": lambda: x.sum()}
        for name, op in ops.items():
            for _ in range(50):
                op()
            walls = []
            for _ in range(5):
                if dev == "cuda":
                    torch.cuda.synchronize()
                t = time.perf_counter()
                for _ in range(n):
                    op()
                walls.append((time.perf_counter() - t) / n * 1e6)
                if dev == "cuda":
                    torch.cuda.synchronize()
            out[f"{dev}/{name}_us"] = statistics.median(walls)
    return out


def profiled_window(manager, serve, ids, new) -> dict:
    """Kineto over one request: GPU kernels (count, summed duration) and CUDA runtime calls (count,
    summed host duration) from every thread (CUPTI sees the engine's thread too)."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        t = time.perf_counter()
        r = serve(ids, new, "prof")
        wall = time.perf_counter() - t
    ts = list(r.timestamps or [])
    itl = [(b - a) * 1e3 for a, b in zip(ts, ts[1:])]
    kern_n = kern_us = 0
    rt: dict = {}
    for e in prof.events():
        dt = str(getattr(e, "device_type", ""))
        if dt.endswith("CUDA"):
            kern_n += 1
            kern_us += e.device_time if hasattr(e, "device_time") else e.cuda_time
        elif e.name.startswith(("cuda", "cu")) and not e.name.startswith("cudnn"):
            d = rt.setdefault(e.name, [0, 0.0])
            d[0] += 1
            d[1] += e.cpu_time
    return {"wall_s": wall, "new": new, "median_itl_ms_profiled": statistics.median(itl) if itl else None,
            "kernels": kern_n, "kernel_us": kern_us,
            "runtime": {k: {"calls": v[0], "us": round(v[1], 1)} for k, v in sorted(rt.items(), key=lambda kv: -kv[1][1])[:12]}}


class Timers:
    """Host time in SDPA calls and in model.forward, per step (wrapping, not modifying the engine)."""

    def __init__(self, model):
        self.sdpa_ms = 0.0
        self.sdpa_calls = 0
        self.fwd_ms = 0.0
        self.fwd_calls = 0
        orig_sdpa = torch.nn.functional.scaled_dot_product_attention
        timers = self

        def sdpa(*a, **kw):
            t = time.perf_counter()
            try:
                return orig_sdpa(*a, **kw)
            finally:
                timers.sdpa_ms += (time.perf_counter() - t) * 1e3
                timers.sdpa_calls += 1
        torch.nn.functional.scaled_dot_product_attention = sdpa
        orig_fwd = model.forward

        def fwd(*a, **kw):
            t = time.perf_counter()
            try:
                return orig_fwd(*a, **kw)
            finally:
                timers.fwd_ms += (time.perf_counter() - t) * 1e3
                timers.fwd_calls += 1
        model.forward = fwd

    def snap(self):
        return (self.sdpa_ms, self.sdpa_calls, self.fwd_ms, self.fwd_calls)


def engine(model_dir: str, max_batch_tokens: int, conditions: list[str], prompt: int, new: int) -> dict:
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig
    from transformers.generation.configuration_utils import ContinuousBatchingConfig

    cfg = AutoConfig.from_pretrained(model_dir)
    cfg._attn_implementation = "paged|sdpa"
    torch.manual_seed(0)
    t = time.perf_counter()
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    model.eval()
    out = {"model": model_dir, "build_s": time.perf_counter() - t, "layers": cfg.num_hidden_layers}
    timers = Timers(model)
    gen = GenerationConfig(max_new_tokens=new, do_sample=False, eos_token_id=-1, pad_token_id=0)
    cb = ContinuousBatchingConfig(max_batch_tokens=max_batch_tokens, use_cuda_graph=False)
    with torch.no_grad():
        manager = model.init_continuous_batching(generation_config=gen, continuous_batching_config=cb)
        manager.warmup()
        manager.start()
        try:
            def serve(ids, n, rid):
                manager.add_request(ids, request_id=rid, max_new_tokens=n, record_timestamps=True)
                while True:
                    r = manager.get_result(request_id=rid, timeout=5.0)
                    if r is not None and r.is_finished():
                        return r
                    if not manager.is_running():
                        raise RuntimeError("engine stopped")
            serve(list(range(1, 17)), 2, "warm")
            for ci, cond in enumerate(conditions):
                if cond.startswith("no_cudnn"):
                    torch.backends.cuda.enable_cudnn_sdp(False)
                else:
                    torch.backends.cuda.enable_cudnn_sdp(True)
                p = prompt + 37 * ci          # distinct lengths: no shape seen before
                ids = [1 + (13 * j + ci) % 1000 for j in range(p)]
                s0, t0 = SNAP() if SNAP else None, timers.snap()
                w0 = time.perf_counter()
                r = serve(ids, new, f"r{ci}")
                wall = time.perf_counter() - w0
                s1, t1 = SNAP() if SNAP else None, timers.snap()
                ts = list(r.timestamps or [])
                itl = [(b - a) * 1e3 for a, b in zip(ts, ts[1:])]
                steps = max(t1[3] - t0[3], 1)
                out[cond] = {"prompt": p, "new": new, "wall_s": wall, "steps": steps,
                             "ttft_like_ms": (ts[0] - w0) * 1e3 if ts else None,
                             "median_itl_ms": statistics.median(itl) if itl else None,
                             "itl_ms_first10": [round(x, 2) for x in itl[:10]],
                             "sdpa_host_ms_per_step": (t1[0] - t0[0]) / steps,
                             "sdpa_calls_per_step": (t1[1] - t0[1]) / steps,
                             "forward_host_ms_per_step": (t1[2] - t0[2]) / steps,
                             "cudnn_api_per_step": shim_delta(s0, s1, steps)}
                print(cond, json.dumps({k: v for k, v in out[cond].items() if k != "cudnn_api_per_step"}), flush=True)
            if PROFILE:
                torch.backends.cuda.enable_cudnn_sdp(False)
                try:
                    out["profiled_no_cudnn"] = profiled_window(manager, serve, [1 + (17 * j) % 1000 for j in range(prompt + 300)], 24)
                except Exception as e:  # noqa: BLE001
                    out["profiled_no_cudnn"] = {"error": f"{type(e).__name__}: {e}"}
                print("profiled", json.dumps(out["profiled_no_cudnn"]), flush=True)
            torch.backends.cuda.enable_cudnn_sdp(True)
        finally:
            manager.stop(block=True, timeout=60)
    del model
    torch.cuda.empty_cache()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.environ.get("OUT", "runs/eager_step"))
    ap.add_argument("--parts", default="micro,1b,8b")
    ap.add_argument("--conditions", default="default,no_cudnn,default_again")
    ap.add_argument("--new", type=int, default=40)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    res: dict = {"torch": torch.__version__, "cudnn": torch.backends.cudnn.version(),
                 "gpu": torch.cuda.get_device_name(0), "shim": SNAP is not None}
    try:
        import transformers
        res["transformers"] = transformers.__version__
    except ImportError:
        pass
    path = os.path.join(args.out, "eager_step.json")
    here = os.path.dirname(os.path.abspath(__file__))
    models = os.path.join(here, "..", "studies", "models")
    conds = args.conditions.split(",")
    for part in args.parts.split(","):
        t = time.perf_counter()
        if part == "ops":
            res["op_costs"] = op_costs()
            print("op_costs", json.dumps({k: round(v, 2) for k, v in res["op_costs"].items()}), flush=True)
        elif part == "micro":
            res["micro_1b"] = micro(32, 8, 64, 700, 20)
            res["micro_8b"] = micro(32, 8, 128, 1300, 20)
        elif part == "1b":
            res["engine_1b"] = engine(os.path.join(models, "llama-3.2-1b"), 1024, conds, 512, args.new)
        elif part == "8b":
            res["engine_8b"] = engine(os.path.join(models, "llama-3.1-8b"), 2048, conds, 512, args.new)
        res.setdefault("part_wall_s", {})[part] = time.perf_counter() - t
        with open(path, "w") as f:
            json.dump(res, f, indent=1)
        print("done", part, round(time.perf_counter() - t, 1), "s", flush=True)
    for key in ("micro_1b", "micro_8b"):
        for b, r in res.get(key, {}).items():
            if isinstance(r, dict):
                api = r.get("cudnn_api_per_new_call") or {}
                print(key, b, {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()
                               if k.endswith("_ms")}, "finalize/new call", api.get("finalize_ms"),
                      "getattr/new", api.get("getattr_total_ms"), "first5", r.get("new_shape_host_ms_all", [])[:5])
        print(key, "ops", res.get(key, {}).get("default_ops"))
    for key in ("engine_1b", "engine_8b"):
        for c in conds:
            r = res.get(key, {}).get(c)
            if r:
                api = r.get("cudnn_api_per_step") or {}
                print(key, c, "itl", round(r["median_itl_ms"] or 0, 2), "fwd", round(r["forward_host_ms_per_step"], 2),
                      "sdpa", round(r["sdpa_host_ms_per_step"], 2), "finalize", api.get("finalize_ms"),
                      "getattr", api.get("getattr_total_ms"))


if __name__ == "__main__":
    main()
