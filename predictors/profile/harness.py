"""The measurements of a profile, section by section, on whatever GPU torch sees.

Each section measures items (one GEMM shape, one attention shape, one copy size, one forward pass,
...) in chunks; a chunk is one torch.profiler session whose kernels are attributed to items by
labelled regions (see kineto.py). Durations are kernel (device) times as CUPTI reports them, the
median over repetitions, with the L2 cache flushed before each repetition of GEMMs, attention and
copies. After every chunk the profile file is rewritten, so a run stopped by its time budget (or
killed) resumes where it stopped.

Where CUPTI is unavailable (virtual GPUs), regions are timed with CUDA events instead: the numbers
are then not kernel times, but every code path runs, which is how the harness is tested without a GPU.
"""
from __future__ import annotations

import contextlib
import ctypes
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
import gc
from pathlib import Path
from typing import Any, Callable, Iterator

from predictors.profile import grid, kineto
from predictors.profile.llama import COMPOSITIONS, Composition, Forward, build_model, serve
from timekeeper.calibrate import cpu_model   # one reading of the host CPU's name, shared with calibrate

FORMAT = 1
# forward passes first (the end-to-end check), serving runs last (they size a KV cache from free memory)
SECTIONS = ["host", "copy", "forward-small", "forward-8b", "gemm", "attention", "kernels", "serve-small", "serve-8b",
            "collectives"]


def log(msg: str) -> None:
    print(f"[profile {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---- the profile file ---------------------------------------------------------------------------

class ProfileFile:
    """profile.json: {"format", "meta", "names": [...], "sections": {section: {key: record}}}.
    Kernel names are stored once in ``names`` and referred to by index."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.exists():
            self.data = json.loads(path.read_text())
            if self.data.get("format") != FORMAT:
                raise SystemExit(f"{path}: profile format {self.data.get('format')}, expected {FORMAT}")
        else:
            self.data = {"format": FORMAT, "meta": {}, "names": [], "sections": {}, "runs": []}
        self._name_index = {n: i for i, n in enumerate(self.data["names"])}

    def name(self, text: str) -> int:
        i = self._name_index.get(text)
        if i is None:
            i = self._name_index[text] = len(self.data["names"])
            self.data["names"].append(text)
        return i

    def section(self, name: str) -> dict[str, Any]:
        return self.data["sections"].setdefault(name, {})

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, separators=(",", ":")))
        os.replace(tmp, self.path)


# ---- timing ---------------------------------------------------------------------------------------

class Timer:
    """One session at a time; ``region(label)`` marks what belongs to an item repetition."""

    kernels: bool  # whether per-kernel records (names, geometry) come back

    def session(self, ops: bool = False) -> contextlib.AbstractContextManager[Any]: ...
    def region(self, label: str) -> contextlib.AbstractContextManager[Any]: ...
    def result(self) -> dict[str, list[kineto.DeviceEvent]]: ...


class KinetoTimer(Timer):
    kernels = True

    def __init__(self, raw: Path | None) -> None:
        self.raw = raw
        self._parsed: kineto.Parsed | None = None
        self.last_runtime: list[tuple[str, float, int]] = []

    @contextlib.contextmanager
    def session(self, ops: bool = False, tag: str = "") -> Iterator[None]:
        import torch
        from torch.profiler import ProfilerActivity, profile

        self._parsed = None
        activities = [ProfilerActivity.CPU, ProfilerActivity.CUDA]
        if os.environ.get("REVATI_PROFILE_CPU_ONLY"):  # tests: the kineto code path without CUPTI
            activities = [ProfilerActivity.CPU]
        with profile(activities=activities, record_shapes=ops) as prof:
            yield
            torch.cuda.synchronize()
        trace = kineto.exported(prof)
        self._parsed = kineto.parse(trace, ops=ops)
        self.last_runtime = self._parsed.runtime
        if self.raw is not None:
            group = "forward" if tag.startswith("forward") else "serve" if tag.startswith("serve") else "grid"
            with gzip.open(self.raw.with_name(f"raw-{group}.jsonl.gz"), "at") as f:
                f.write(json.dumps({"tag": tag, "events": kineto.keep_for_raw(trace, ops)},
                                   separators=(",", ":")) + "\n")

    def region(self, label: str) -> contextlib.AbstractContextManager[Any]:
        from torch.profiler import record_function

        return record_function(label)

    def result(self) -> dict[str, list[kineto.DeviceEvent]]:
        assert self._parsed is not None
        return self._parsed.by_label()

    def everything(self) -> list[kineto.DeviceEvent]:
        """Every device event of the session, whichever thread launched it."""
        assert self._parsed is not None
        return self._parsed.events


class EventTimer(Timer):
    """CUDA events around each region: one pseudo-event per region (virtual GPUs, no CUPTI)."""

    kernels = False

    def __init__(self) -> None:
        self._marks: list[tuple[str, Any, Any]] = []
        self.last_runtime: list[tuple[str, float, int]] = []

    @contextlib.contextmanager
    def session(self, ops: bool = False, tag: str = "") -> Iterator[None]:
        import torch

        self._marks = []
        yield
        torch.cuda.synchronize()

    @contextlib.contextmanager
    def region(self, label: str) -> Iterator[None]:
        import torch

        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        yield
        end.record()
        self._marks.append((label, start, end))

    def result(self) -> dict[str, list[kineto.DeviceEvent]]:
        return {label: [kineto.DeviceEvent("region", "region", 0.0, round(s.elapsed_time(e) * 1e6))]
                for label, s, e in self._marks}


def make_timer(kind: str, raw: Path | None) -> Timer:
    if kind == "events":
        return EventTimer()
    if kind == "kineto":
        return KinetoTimer(raw)
    # auto: kineto where CUPTI works (a kernel shows up in a test session)
    try:
        import torch

        timer = KinetoTimer(None)
        x = torch.ones(8, device="cuda")
        with timer.session(tag="probe"):
            with timer.region("rv|probe|0|0"):
                x.add_(1)
        if timer.result().get("rv|probe|0|0"):
            timer.raw = raw
            return timer
        log("kineto recorded no kernel; timing regions with CUDA events")
    except Exception as error:  # noqa: BLE001 - a failed CUPTI start shows up in many ways
        log(f"kineto unavailable ({error!r:.200}); timing regions with CUDA events")
    return EventTimer()


# ---- the run --------------------------------------------------------------------------------------

# How the L2 cache is emptied before each repetition of an item, per section: "clean" reads a buffer
# of four times the L2's size (the item finds a cold cache of clean lines), "dirty" writes it (the item
# also pays the write-back of a cache full of dirty lines). Chosen by tools/l2_flush_check.py, which
# times the GEMMs and attention calls of Llama forward passes alone in each state against the same calls
# inside the passes (benchmarks/l2_flush_check-2026-11-22-*.txt): GEMMs median -1.9% clean, +12.5% dirty
# (H100; H200 -2.3 / +8.6%); attention -5.5% clean, +3.2% dirty (H200 -4.7 / +3.0%).
L2_FLUSHES = ("clean", "dirty")
L2_FLUSH = {"gemm": "clean", "attention": "dirty", "copy": "dirty"}


class Run:
    def __init__(self, out: Path, budget_s: float, reps: int, timer: str, quick: bool,
                 l2_flush: str | None = None) -> None:
        """``l2_flush`` (one of L2_FLUSHES) overrides every section's L2_FLUSH."""
        import torch

        if l2_flush not in (None, *L2_FLUSHES):
            raise ValueError(f"l2_flush {l2_flush!r}; allowed: {', '.join(L2_FLUSHES)}")
        self.torch = torch
        out.mkdir(parents=True, exist_ok=True)
        self.file = ProfileFile(out / "profile.json")
        self.raw = out / "raw.jsonl.gz"
        self.deadline = time.monotonic() + budget_s
        self.reps = reps
        self.quick = quick
        self.timer = make_timer(timer, self.raw)
        self.file.data["meta"] = self.file.data["meta"] or meta(type(self.timer).__name__)
        self.file.data["runs"].append({"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "budget_s": budget_s,
                                       "timer": type(self.timer).__name__,
                                       "l2_flush": l2_flush or L2_FLUSH})
        props = torch.cuda.get_device_properties(0)
        l2 = getattr(props, "L2_cache_size", 50 * 2 ** 20) or 50 * 2 ** 20
        self._flush = torch.empty(4 * l2, dtype=torch.uint8, device="cuda")
        self.l2_flush = l2_flush
        self.stopped = False
        self._tensors: dict[tuple[Any, ...], Any] = {}

    def tensor(self, shape: tuple[int, ...], dtype: Any) -> Any:
        """A random tensor, shared by the items of one chunk (weights of one n x k serve every m)."""
        key = (tuple(shape), dtype)
        t = self._tensors.get(key)
        if t is None:
            torch = self.torch
            if dtype in (torch.float8_e4m3fn,):
                t = torch.randn(*shape, device="cuda").to(dtype)
            else:
                t = torch.randn(*shape, device="cuda", dtype=dtype)
            self._tensors[key] = t
        return t

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def flush_l2(self, section: str) -> None:
        if (self.l2_flush or L2_FLUSH.get(section, "dirty")) == "clean":
            self._flush.max()
        else:
            self._flush.fill_(1)

    # One chunk of items, each measured `reps` times after one warm-up run.
    def measure(self, section: str, items: list[tuple[str, dict[str, Any], Callable[[], None]]],
                flush: bool = True, ops: bool = False, reps: int | None = None) -> dict[str, dict[str, Any]]:
        reps = reps or self.reps
        for _, _, fn in items:
            fn()
        self.torch.cuda.synchronize()
        with self.timer.session(ops=ops, tag=section):
            for i, (key, _, fn) in enumerate(items):
                for r in range(reps):
                    if flush:
                        self.flush_l2(section)
                    with self.timer.region(f"rv|{section}|{i}|{r}"):
                        fn()
        regions = self.timer.result()
        out = {}
        for i, (key, item, _) in enumerate(items):
            per_rep = [regions.get(f"rv|{section}|{i}|{r}", []) for r in range(reps)]
            sums = [sum(e.dur_ns for e in evs) for evs in per_rep]
            record: dict[str, Any] = {"item": item, "ns": statistics.median(sums), "reps": sums}
            if self.timer.kernels:
                record["kernels"] = self.kernel_rows(per_rep)
            out[key] = record
        return out

    def kernel_rows(self, per_rep: list[list[kineto.DeviceEvent]]) -> list[list[Any]]:
        """[name index, grid, block, median ns, category, bytes] per device event of the first
        repetition, with the median over the repetitions that launched the same sequence."""
        first = per_rep[0]
        same = [evs for evs in per_rep if len(evs) == len(first)]
        rows = []
        for j, e in enumerate(first):
            ns = statistics.median(evs[j].dur_ns for evs in same)
            rows.append([self.file.name(e.name), list(e.grid) if e.grid else None, list(e.block) if e.block else None,
                         ns, e.cat, e.nbytes])
        return rows

    def run_items(self, section: str, pending: list[tuple[str, dict[str, Any], Callable[[], Callable[[], None]]]],
                  chunk: int = 48, max_bytes: int = 0, **kw: Any) -> None:
        """Measure ``pending`` (key, item, factory) in chunks until done or out of time."""
        store = self.file.section(section)
        todo = [p for p in pending if p[0] not in store]
        if not todo:
            return
        log(f"{section}: {len(todo)} items to measure ({len(store)} done before), {self.left():.0f} s left")
        t0, done = time.monotonic(), 0
        chunks: list[list[Any]] = [[]]
        held = 0
        for p in todo:  # at most `chunk` items and about `max_bytes` of inputs alive at once
            size = bytes_of(p[1]) if max_bytes else 0
            if chunks[-1] and (len(chunks[-1]) >= chunk or held + size > max_bytes > 0):
                chunks.append([])
                held = 0
            chunks[-1].append(p)
            held += size
        for part in chunks:
            if self.left() < 5:
                self.stopped = True
                log(f"{section}: budget reached with {len(todo) - done} items left; run again to resume")
                return
            batch = []
            for key, item, factory in part:
                try:
                    batch.append((key, item, factory()))
                except Exception as error:  # noqa: BLE001 - one unsupported shape must not end the run
                    store[key] = {"item": item, "error": f"{type(error).__name__}: {error}"[:300]}
            try:
                store.update(self.measure(section, batch, **kw))
            except Exception as error:  # noqa: BLE001
                log(f"{section}: chunk failed ({error!r:.300}); measuring its items one by one")
                traceback.print_exc()
                for one in batch:
                    try:
                        store.update(self.measure(section, [one], **kw))
                    except Exception as error1:  # noqa: BLE001
                        store[one[0]] = {"item": one[1], "error": f"{type(error1).__name__}: {error1}"[:300]}
            del batch
            self._tensors.clear()
            self.torch.cuda.empty_cache()
            done += len(part)
            self.file.save()
        log(f"{section}: {done} items in {time.monotonic() - t0:.1f} s")


# ---- sections ---------------------------------------------------------------------------------------

def bytes_of(it: dict[str, Any]) -> int:
    """Input bytes an attention item holds on the GPU (q, k, v, out)."""
    b, h, kvh, q, kv, d = it["batch"], it["heads"], it["kv_heads"], it["q_len"], it["kv_len"], it["head_dim"]
    return 2 * (2 * b * h * q * d + 2 * b * kvh * kv * d) + (b * q * kv if it.get("mask") else 0)


def gemm_factory(run: Run, it: dict[str, Any]) -> Callable[[], Callable[[], None]]:
    torch = run.torch
    F = torch.nn.functional

    def make() -> Callable[[], None]:
        m, n, k, b = it["m"], it["n"], it["k"], it["batch"]
        dev = "cuda"
        if it["dtype"] == "fp8":
            a = run.tensor((m, k), torch.float8_e4m3fn)
            w = run.tensor((n, k), torch.float8_e4m3fn)
            one = torch.ones((), device=dev)
            return lambda: torch._scaled_mm(a, w.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
        dt = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32, "tf32": torch.float32}[it["dtype"]]
        tf32 = it["dtype"] == "tf32"

        def with_tf32(fn: Callable[[], Any]) -> Callable[[], None]:
            def call() -> None:
                old = torch.backends.cuda.matmul.allow_tf32
                torch.backends.cuda.matmul.allow_tf32 = tf32
                try:
                    fn()
                finally:
                    torch.backends.cuda.matmul.allow_tf32 = old
            return call

        if it["form"] == "linear":
            x, w = run.tensor((m, k), dt), run.tensor((n, k), dt)
            return with_tf32(lambda: F.linear(x, w))
        if it["form"] == "matmul":
            x, w = run.tensor((m, k), dt), run.tensor((k, n), dt)
            return with_tf32(lambda: x @ w)
        if it["form"] == "grouped":   # b experts, m rows each, weights stored [n, k]
            x, w = run.tensor((b * m, k), dt), run.tensor((b, n, k), dt).transpose(1, 2)
            offs = torch.arange(1, b + 1, device=dev, dtype=torch.int32) * m
            return lambda: torch._grouped_mm(x, w, offs=offs)
        x, w = run.tensor((b, m, k), dt), run.tensor((b, k, n), dt)
        return with_tf32(lambda: torch.bmm(x, w))

    return make


def attention_factory(run: Run, it: dict[str, Any]) -> Callable[[], Callable[[], None]]:
    torch = run.torch

    def make() -> Callable[[], None]:
        dt = {"bf16": torch.bfloat16, "fp16": torch.float16}[it["dtype"]]
        b, h, kvh, q, kv, d = it["batch"], it["heads"], it["kv_heads"], it["q_len"], it["kv_len"], it["head_dim"]
        qt = run.tensor((b, h, q, d), dt)
        kt = run.tensor((b, kvh, kv, d), dt)
        vt = torch.randn(b, kvh, kv, d, device="cuda", dtype=dt)
        sdpa = torch.nn.functional.scaled_dot_product_attention
        gqa = kvh != h
        if it.get("mask"):
            # bottom-right causal blocks, as transformers builds for new tokens after a cache
            qi = torch.arange(q, device="cuda")[:, None]
            ki = torch.arange(kv, device="cuda")[None, :]
            mask = (ki <= qi + (kv - q)).expand(b, 1, q, kv)
            return lambda: sdpa(qt, kt, vt, attn_mask=mask)
        return lambda: sdpa(qt, kt, vt, is_causal=it["causal"], enable_gqa=gqa)

    return make


def copy_factory(run: Run, it: dict[str, Any]) -> Callable[[], Callable[[], None]]:
    torch = run.torch

    def make() -> Callable[[], None]:
        n, direction = it["bytes"], it["direction"]
        if direction == "memset":
            cudart = _cudart()
            buf = torch.empty(n, dtype=torch.uint8, device="cuda")
            stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
            cudart.cudaMemsetAsync.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t, ctypes.c_void_p]
            return lambda: _check(cudart.cudaMemsetAsync(ctypes.c_void_p(buf.data_ptr()), 0, n, stream))
        dev = torch.empty(n, dtype=torch.uint8, device="cuda")
        if direction == "d2d":
            src = torch.empty(n, dtype=torch.uint8, device="cuda")
            return lambda: dev.copy_(src)
        host = torch.empty(n, dtype=torch.uint8, pin_memory=it["pinned"])
        host.fill_(1)
        if direction == "h2d":
            return lambda: dev.copy_(host, non_blocking=it["pinned"])
        return lambda: host.copy_(dev, non_blocking=it["pinned"])

    return make


_CUDART: Any = None


def _cudart() -> Any:
    global _CUDART
    if _CUDART is None:
        for name in ("libcudart.so.13", "libcudart.so.12", "libcudart.so"):
            try:
                _CUDART = ctypes.CDLL(name)
                break
            except OSError:
                continue
        else:
            raise OSError("no libcudart to call cudaMemsetAsync with")
    return _CUDART


def _check(status: int) -> None:
    if status != 0:
        raise RuntimeError(f"CUDA error {status}")


def kernel_op_factory(run: Run, it: dict[str, Any]) -> Callable[[], Callable[[], None]]:
    torch = run.torch
    F = torch.nn.functional

    def make() -> Callable[[], None]:
        dt = {"bf16": torch.bfloat16, "f32": torch.float32}[it["dtype"]]
        r, c = it["rows"], it["cols"]
        a = torch.randn(r, c, device="cuda", dtype=dt)
        b = torch.randn(r, c, device="cuda", dtype=dt)
        op = it["op"]
        if op == "add":
            return lambda: a + b
        if op == "mul":
            return lambda: a * b
        if op == "silu":
            return lambda: F.silu(a)
        if op == "silu_mul":
            return lambda: F.silu(a) * b
        if op == "cast":
            other = torch.float32 if dt == torch.bfloat16 else torch.bfloat16
            return lambda: a.to(other)
        if op == "copy":
            return lambda: a.t().contiguous()
        if op == "fill":
            return lambda: a.fill_(1.5)
        if op == "rmsnorm":
            w = torch.randn(c, device="cuda", dtype=dt)

            def rms() -> None:
                h = a.to(torch.float32)
                var = h.pow(2).mean(-1, keepdim=True)
                h = h * torch.rsqrt(var + 1e-6)
                _ = w * h.to(dt)
            return rms
        if op == "softmax":
            return lambda: torch.softmax(a, dim=-1)
        if op == "sum_last":
            return lambda: a.sum(-1)
        if op == "mean_last":
            return lambda: a.mean(-1)
        if op == "cat":
            return lambda: torch.cat([a, b], dim=-1)
        if op == "embedding":
            table = torch.randn(32000, c, device="cuda", dtype=dt)
            idx = torch.randint(0, 32000, (r,), device="cuda")
            return lambda: F.embedding(idx, table)
        if op == "argmax":
            return lambda: a.argmax(-1)
        if op == "neg_cat":
            half = c // 2
            return lambda: torch.cat((-a[..., half:], a[..., :half]), dim=-1)
        if op == "exp":
            return lambda: a.exp()
        if op == "where":
            mask = a > 0
            return lambda: torch.where(mask, a, b)
        rows = torch.randperm(r, device="cuda")   # every row once, in random order
        if op == "index_select":
            return lambda: torch.index_select(a, 0, rows)
        if op == "index_copy":
            return lambda: a.index_copy_(0, rows, b)
        if op == "index_add":
            return lambda: a.index_add_(0, rows, b)
        if op == "masked_scatter":
            # a row mask over the whole tensor (a cache's new-token slots): cub's scan over every
            # element, then the scatter; an eighth of the rows selected
            mask = (torch.arange(r, device="cuda") % 8 == 0).view(r, 1).expand(r, c)
            return lambda: a.masked_scatter_(mask, b)
        if op == "gather":
            idx = torch.randint(0, c, (r, c), device="cuda")
            return lambda: torch.gather(a, 1, idx)
        if op == "cumsum":
            return lambda: torch.cumsum(a, dim=-1)
        if op == "topk":
            return lambda: torch.topk(a, min(8, c), dim=-1)
        if op == "sort":
            return lambda: torch.sort(a, dim=-1)
        raise ValueError(f"unknown kernel op {op}")

    return make


def host_section(run: Run) -> None:
    """Host-side costs: CPU time of a kernel launch (the runtime call, and a whole torch op), of an
    idle synchronize, and the launch-to-start delay of a kernel on an idle GPU."""
    torch = run.torch
    store = run.file.section("host")
    if store:
        return
    x = torch.ones(16, device="cuda")
    for _ in range(50):
        x.add_(1)
    torch.cuda.synchronize()
    n = 400
    walls = []
    for _ in range(5):
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(n):
            x.add_(1)
        walls.append((time.perf_counter() - t) / n * 1e9)
        torch.cuda.synchronize()
    syncs = []
    for _ in range(200):
        t = time.perf_counter()
        torch.cuda.synchronize()
        syncs.append((time.perf_counter() - t) * 1e9)
    stream_syncs = []
    stream = torch.cuda.current_stream()
    for _ in range(200):
        t = time.perf_counter()
        stream.synchronize()
        stream_syncs.append((time.perf_counter() - t) * 1e9)
    record: dict[str, Any] = {
        "torch_op_wall_ns": statistics.median(walls),
        "idle_device_sync_ns": statistics.median(syncs),
        "idle_stream_sync_ns": statistics.median(stream_syncs),
    }
    if isinstance(run.timer, KinetoTimer):
        with run.timer.session(tag="host"):
            for i in range(200):
                with run.timer.region(f"rv|host|{i}|0"):
                    x.add_(1)
            for i in range(50):
                torch.cuda.synchronize()
                with run.timer.region(f"rv|host-idle|{i}|0"):
                    x.add_(1)
                torch.cuda.synchronize()
        regions = run.timer.result()
        launch = [e.launch_ns for i in range(200) for e in regions.get(f"rv|host|{i}|0", []) if e.launch_ns]
        kernel = [e.dur_ns for i in range(200) for e in regions.get(f"rv|host|{i}|0", [])]
        delay = [round((e.ts - e.launch_ts) * 1000) for i in range(50)
                 for e in regions.get(f"rv|host-idle|{i}|0", []) if e.launch_ts is not None]
        syncs_rt = [d for name, _, d in run.timer.last_runtime if "Synchronize" in name]
        record.update({
            "launch_call_ns": statistics.median(launch) if launch else None,
            "small_kernel_ns": statistics.median(kernel) if kernel else None,
            "idle_launch_to_start_ns": statistics.median(delay) if delay else None,
            "sync_call_ns": statistics.median(syncs_rt) if syncs_rt else None,
        })
    store.update(record)
    run.file.save()
    log(f"host: {json.dumps(record)}")


def forward_section(run: Run, model_name: str, compositions: list[Composition] | None = None) -> None:
    torch = run.torch
    store = run.file.section("forward")
    comps = [c for c in compositions or COMPOSITIONS if c.model == model_name and c.id not in store]
    if run.quick:
        comps = comps[:2]
    if not comps:
        return
    log(f"forward {model_name}: {len(comps)} compositions, {run.left():.0f} s left")
    t = time.monotonic()
    model = build_model(model_name)
    torch.cuda.synchronize()
    log(f"forward {model_name}: model built in {time.monotonic() - t:.1f} s")
    for comp in comps:
        if run.left() < 20:
            run.stopped = True
            log(f"forward: budget reached before {comp.id}; run again to resume")
            break
        t = time.monotonic()
        try:
            fwd = Forward(model, comp)
            fwd.run()
            fwd.run()
            torch.cuda.synchronize()
            with run.timer.session(ops=True, tag=f"forward {comp.id}"):
                for r in range(3):
                    with run.timer.region(f"rv|fwd|0|{r}"):
                        fwd.run()
            regions = run.timer.result()
            per_rep = [regions.get(f"rv|fwd|0|{r}", []) for r in range(3)]
            sums = [sum(e.dur_ns for e in evs) for evs in per_rep]
            record: dict[str, Any] = {"composition": comp.__dict__, "ns": statistics.median(sums), "reps": sums,
                                      "count": [len(evs) for evs in per_rep]}
            if run.timer.kernels:
                record["kernels"] = run.kernel_rows(per_rep)
                ops: dict[Any, int] = {}
                instances: dict[Any, int] = {}
                record["ops"] = []
                record["kernel_op"] = []
                record["kernel_inst"] = []  # which call of an operator launched it (kernels of one call share it)
                for e in per_rep[0]:
                    key = json.dumps(e.op[:3]) if e.op else None
                    if key is not None and key not in ops:
                        ops[key] = len(record["ops"])
                        record["ops"].append(e.op[:3])
                    record["kernel_op"].append(ops.get(key) if key else None)
                    inst = (e.op[0], e.op[3]) if e.op else None
                    if inst is not None and inst not in instances:
                        instances[inst] = len(instances)
                    record["kernel_inst"].append(instances.get(inst) if inst else None)
            store[comp.id] = record
            log(f"forward {comp.id}: {statistics.median(sums) / 1e6:.3f} ms GPU, {len(per_rep[0])} device events "
                f"({time.monotonic() - t:.1f} s)")
            del fwd
        except Exception as error:  # noqa: BLE001
            store[comp.id] = {"composition": comp.__dict__, "error": f"{type(error).__name__}: {error}"[:400]}
            log(f"forward {comp.id}: failed: {error!r:.300}")
            traceback.print_exc()
        torch.cuda.empty_cache()
        run.file.save()
    del model
    gc.collect()
    torch.cuda.empty_cache()


def serve_section(run: Run, model_name: str, requests: int = 16, prompt: int = 128, new: int = 16) -> None:
    """Every device event of a continuous-batching run (the kernels an emulated serving run
    launches), aggregated by name and launch geometry."""
    torch = run.torch
    store = run.file.section("serve")
    if model_name in store or run.left() < 30:
        return
    t = time.monotonic()
    try:
        model = build_model(model_name)
        serve(model, 2, 16, 2)  # warm-up: paged cache, cuDNN plans, cuBLAS heuristics
        torch.cuda.synchronize()
        with run.timer.session(tag=f"serve {model_name}"):
            with run.timer.region("rv|serve|0|0"):
                tokens = serve(model, requests, prompt, new)
        # continuous batching launches from its own thread: take every event of the session
        events = (run.timer.everything() if isinstance(run.timer, KinetoTimer)
                  else run.timer.result().get("rv|serve|0|0", []))
        table: dict[tuple[Any, ...], list[int]] = {}
        for e in events:
            key = (e.name, e.grid, e.block, e.cat, e.nbytes)
            table.setdefault(key, []).append(e.dur_ns)
        rows = [[run.file.name(name), list(g) if g else None, list(b) if b else None, statistics.median(d), len(d),
                 cat, nbytes] for (name, g, b, cat, nbytes), d in table.items()]
        store[model_name] = {"requests": requests, "prompt": prompt, "new": new, "tokens": tokens,
                             "device_ns": sum(e.dur_ns for e in events), "events": len(events), "table": rows}
        log(f"serve {model_name}: {tokens} tokens, {len(events)} device events, {len(rows)} distinct "
            f"({time.monotonic() - t:.1f} s)")
        del model
    except Exception as error:  # noqa: BLE001
        store[model_name] = {"error": f"{type(error).__name__}: {error}"[:400]}
        log(f"serve {model_name}: failed: {error!r:.300}")
        traceback.print_exc()
    gc.collect()
    torch.cuda.empty_cache()
    run.file.save()


def collectives_section(run: Run, out: Path) -> None:
    """NCCL collectives on 2, 4 and 8 of this host's GPUs (as many as there are), one process per
    GPU: written to ``out/collectives.json`` (see predictors.profile.collectives)."""
    from predictors.profile import collectives

    ranks = [n for n in (2, 4, 8) if n <= run.torch.cuda.device_count()]
    if not ranks:
        log("collectives: one GPU here; skipped")
        return
    collectives.sweep(out, ranks, budget_s=run.left() - 5, quick=run.quick)


def meta(timer: str) -> dict[str, Any]:
    import torch

    props = torch.cuda.get_device_properties(0)
    info: dict[str, Any] = {
        "gpu": torch.cuda.get_device_name(0),
        "sm_count": props.multi_processor_count,
        "total_memory": props.total_memory,
        "capability": f"{props.major}.{props.minor}",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "python": sys.version.split()[0],
        "host": platform.node(),
        "cpu": cpu_model(),
        "date": time.strftime("%Y-%m-%d"),
        "timer": timer,
    }
    try:
        import transformers
        info["transformers"] = transformers.__version__
    except ImportError:
        pass
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem,power.limit",
                              "--format=csv,noheader"], capture_output=True, text=True, timeout=20).stdout.strip()
        info["nvidia_smi"] = out
        info["driver"] = out.split(",")[1].strip() if "," in out else None
    except (OSError, subprocess.SubprocessError):
        info["driver"] = None
    return info


def limit(items: list[Any], quick: bool, n: int = 24) -> list[Any]:
    if not quick:
        return items
    step = max(1, len(items) // n)
    return items[::step][:n]


def main(out: Path, budget_s: float, sections: list[str], reps: int = 5, timer: str = "auto",
         quick: bool = False, kernel_ops: list[str] | None = None, head_dims: list[int] | None = None,
         gemm_forms: list[str] | None = None, attention_heads: list[int] | None = None,
         l2_flush: str | None = None) -> int:
    t0 = time.monotonic()
    run = Run(out, budget_s, reps, timer, quick, l2_flush)
    meta_info = run.file.data["meta"]
    log(f"{meta_info.get('gpu')} torch {meta_info.get('torch')} cuda {meta_info.get('cuda')} "
        f"timer {type(run.timer).__name__}, L2 flush {l2_flush or L2_FLUSH}; budget {budget_s:.0f} s; sections {','.join(sections)}")
    for section in sections:
        if run.left() < 5:
            run.stopped = True
            break
        if section == "host":
            host_section(run)
        elif section == "copy":
            items = [(grid.copy_key(it), it, copy_factory(run, it)) for it in grid.copy_items()]
            run.run_items("copy", limit(items, quick), chunk=64)
        elif section == "gemm":
            items = [(grid.gemm_key(it), it, gemm_factory(run, it)) for it in grid.gemm_items()
                     if gemm_forms is None or it["form"] in gemm_forms]
            run.run_items("gemm", limit(items, quick), chunk=64)
        elif section == "attention":
            items = [(grid.attention_key(it), it, attention_factory(run, it)) for it in grid.attention_items()
                     if (head_dims is None or it["head_dim"] in head_dims)
                     and (attention_heads is None or it["heads"] in attention_heads)]
            run.run_items("attention", limit(items, quick), chunk=48, max_bytes=12 * 2 ** 30)
        elif section == "kernels":
            items = [(grid.kernel_item_key(it), it, kernel_op_factory(run, it)) for it in grid.kernel_items()
                     if kernel_ops is None or it["op"] in kernel_ops]
            run.run_items("kernels", limit(items, quick), chunk=96, flush=False, reps=3)
        elif section.startswith("serve-"):
            serve_section(run, section.removeprefix("serve-"))
        elif section.startswith("forward-"):
            forward_section(run, section.removeprefix("forward-"))
        elif section == "collectives":
            collectives_section(run, out)
        else:
            raise SystemExit(f"unknown section {section!r}; known: {', '.join(SECTIONS)}")
    run.file.data["runs"][-1]["seconds"] = round(time.monotonic() - t0, 1)
    run.file.data["runs"][-1]["complete"] = not run.stopped
    run.file.save()
    counts = {name: len(s) for name, s in run.file.data["sections"].items()}
    errors = {name: sum(1 for r in s.values() if isinstance(r, dict) and "error" in r)
              for name, s in run.file.data["sections"].items()}
    log(f"{'stopped at the budget' if run.stopped else 'complete'} after {time.monotonic() - t0:.0f} s: "
        f"items {counts}, errors {errors}")
    return 0
