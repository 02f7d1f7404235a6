"""The hf-transformers backend: transformers' continuous batching engine (ContinuousBatchingManager),
unmodified, on whatever GPU the process sees (virtual under the interposer, real without it).

The model is built from its config.json on the GPU with random weights; the engine is configured
with the run's `serving:` options (ContinuousBatchingConfig fields), warmed up and started; the load
generator then hands each request to the engine at its arrival time (time.sleep/perf_counter, which
the timekeeper makes virtual) with its exact output length (EOS disabled), and every generated
token's time is recorded by the engine itself (record_timestamps, perf_counter).

Tensor parallelism (`hardware.count` > 1): every rank (a process started by the harness with torchrun's
environment) joins torch.distributed (NCCL, env:// rendezvous), builds the model with its TP plan
(`DistributedConfig(tp_plan="auto")`: the model's `base_model_tp_plan`, random weights sharded over the
GPUs) and runs the same engine; transformers' DistributedHelper makes rank 0 the TP driver, which owns
the request queue and broadcasts each step's new requests to the other ranks over a gloo CPU group.
Rank 0 runs `run` (the load generator, as with one GPU), the others `follow`.
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from ..spec import RunSpec
from ..workloads import Request, prompt_ids

# On virtual time the result waits have no timeout: a timed wait is a deadline the timekeeper may jump
# the clock to whenever it sees every thread blocked -- including a thread of the engine that is
# only waiting in the kernel for the predictor service's reply (interpose/native/core/predict.c
# ask() is not announced to the timekeeper), which would stretch that engine step to the deadline.
# A dead or hung engine is then caught by the timekeeper's hang detection (all blocked, no deadline).
VIRTUAL_TIME = bool(os.environ.get("REVATI_TIMEKEEPER"))
POLL_S = None if VIRTUAL_TIME else 1.0
WARMUP_SWEEP = os.environ.get("REVATI_WARMUP_SWEEP", "1") == "1"
IDLE_LIMIT_S = float(os.environ.get("REVATI_ENGINE_IDLE_LIMIT_S", "1800"))   # (virtual) s without a completion


class EngineError(RuntimeError):
    """The engine failed or hung; the message is the engine's own where it gave one."""


def model_config(spec: RunSpec) -> Any:
    from transformers import AutoConfig
    return AutoConfig.from_pretrained(str(spec.model))


def max_model_len(cfg: Any) -> int | None:
    text = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
    return getattr(text, "max_position_embeddings", None)


def tp_size(spec: RunSpec) -> int:
    return spec.hardware.count


def init_distributed(spec: RunSpec) -> None:
    """Joins the run's process group as torchrun's workers do (RANK, LOCAL_RANK, WORLD_SIZE,
    MASTER_ADDR/PORT from the harness): NCCL on this rank's GPU. What transformers' own
    `_ensure_torch_distributed` would do, with the rank's errors raised here."""
    import datetime

    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world != tp_size(spec):
        raise EngineError(f"hardware.count is {tp_size(spec)} but WORLD_SIZE is {world}: "
                          "start tensor-parallel runs through revati_search.harness")
    local = int(os.environ["LOCAL_RANK"])
    torch.cuda.set_device(local)
    dist.init_process_group("nccl", rank=int(os.environ["RANK"]), world_size=world,
                            device_id=torch.device("cuda", local), timeout=datetime.timedelta(hours=2))


def build_model(spec: RunSpec) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    cfg = model_config(spec)
    cfg._attn_implementation = spec.serving.attn_implementation
    torch.manual_seed(spec.seed)
    if tp_size(spec) == 1:
        with torch.device("cuda"):
            model = AutoModelForCausalLM.from_config(cfg, dtype=getattr(torch, spec.dtype))
        return model.eval()
    return _build_tp_model(spec, cfg).eval()


def _build_tp_model(spec: RunSpec, cfg: Any) -> Any:
    """The model sharded over the process group by its TP plan, with random weights: built on the
    meta device, sharded by transformers (`maybe_distribute_model`: DTensor parameters, the TP forward
    hooks), then each rank's shards materialised on its own GPU and initialised (`init_weights`, which
    also computes the rotary buffers). What `from_pretrained(..., distributed_config=...)` does with a
    checkpoint, without one: no GPU ever holds the whole model, and no `accelerate` is needed."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.distributed import DistributedConfig

    init_distributed(spec)
    if VIRTUAL_TIME:
        # DTensor's RNG tracker compares the ranks' generator states read back from the GPU: bytes a
        # virtual GPU never computes, so it would warn that they differ (on real GPUs they agree: the
        # same torch.manual_seed on every rank)
        logging.getLogger("torch.distributed.tensor._random").setLevel(logging.ERROR)
    dist_cfg = DistributedConfig(tp_size=tp_size(spec), tp_plan="auto")
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=getattr(torch, spec.dtype))
    dist_cfg, device, mesh = type(model).prepare_distribute_model(dist_cfg)
    model = type(model).maybe_distribute_model(model, dist_cfg, mesh)
    model.to_empty(device=device)
    model.init_weights()
    return model


def versions() -> dict[str, Any]:
    import torch
    import transformers

    v: dict[str, Any] = {"torch": torch.__version__, "transformers": transformers.__version__,
                         "cuda": torch.version.cuda}
    try:
        v["gpu"] = torch.cuda.get_device_name(0)
        v["gpu_count"] = torch.cuda.device_count()
    except Exception as e:  # noqa: BLE001
        v["gpu"] = f"unavailable: {e}"
    return v


def run(spec: RunSpec, requests: list[Request], log=print,
        kernels_out: Path | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Serves the requests; returns one row per request (times in s from the trace's start) and
    facts about the run (versions, warm-up times, the engine's resolved configuration). With
    ``kernels_out`` (real GPUs) the replay's kernels are profiled into kernels_out/kernels.json."""
    import torch

    info: dict[str, Any] = {"versions": versions()}
    if tp_size(spec) > 1:
        info["tensor_parallel_size"] = tp_size(spec)
    # the engine's config first: with TP it sets NCCL_GRAPH_MIXING_SUPPORT=0 before NCCL starts
    gen, cb = _engine_configs(spec, requests)
    t = time.perf_counter()
    model = build_model(spec)
    cfg = model.config.get_text_config()
    vocab = cfg.vocab_size
    info["model_build_s"] = time.perf_counter() - t
    shared = spec.workload.synthetic.shared_prefix if spec.workload.synthetic else 0
    prompts = [prompt_ids(r, i, spec.workload.block_size, vocab, spec.seed, shared) for i, r in enumerate(requests)]

    with torch.no_grad():
        manager = model.init_continuous_batching(generation_config=gen, continuous_batching_config=cb)
        t = time.perf_counter()
        manager.warmup()
        manager.start()
        try:
            # one short request first, so lazy initialisation (handles, allocator pools) is not in the trace
            _serve_one(manager, list(range(1, 17)), 2)
            info["warmup_sweep"] = _sweep(manager, vocab) if WARMUP_SWEEP else 0   # both modes: same engine state
            info["warmup_s"] = time.perf_counter() - t
            resolved = manager.continuous_batching_config
            info["engine_config"] = {k: repr(v) for k, v in vars(resolved).items()} if resolved else {}
            w, cpu = _wall(), _ranks_cpu_s()
            with _kernel_profile(kernels_out):
                rows, info["t0_perf_counter"] = _drive(manager, requests, prompts, log)
            info["serving_wall_s"] = _wall() - w     # the trace's replay alone, in wall time
            # host CPU each rank's process used during the replay (rank 0 first; real seconds)
            info["serving_cpu_s"] = [after - cpu.get(pid, 0.0) for pid, after in _ranks_cpu_s().items()]
            offset = _interposer_clock_offset()
            if offset is not None:   # the trace's start on the interposer's timeline (its trace ts, in s)
                info["t0_timeline_s"] = info["t0_perf_counter"] - offset
        finally:
            manager.stop(block=True, timeout=60)
            manager.destroy()
    _leave_distributed()
    return rows, info


def _engine_configs(spec: RunSpec, requests: list[Request]) -> tuple[Any, Any]:
    from transformers import GenerationConfig
    from transformers.generation.configuration_utils import ContinuousBatchingConfig

    # per-request lengths come with each request; EOS is disabled so each runs to exactly its length
    gen = GenerationConfig(max_new_tokens=max((r.output_len for r in requests), default=1), do_sample=False,
                           eos_token_id=-1, pad_token_id=0)
    return gen, ContinuousBatchingConfig(**spec.serving.engine_options())


def follow(spec: RunSpec, requests: list[Request]) -> None:
    """A tensor-parallel rank other than 0: the same model and engine as rank 0, warmed up the same
    way; its generation loop runs every step rank 0's engine schedules (requests arrive through
    transformers' TP broadcast) until rank 0 stops the group."""
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()   # rank 0 speaks for the run
    gen, cb = _engine_configs(spec, requests)
    model = build_model(spec)
    with torch.no_grad():
        manager = model.init_continuous_batching(generation_config=gen, continuous_batching_config=cb)
        if manager.is_tp_driver:
            raise EngineError("a follower rank became the TP driver (RANK 0 twice?)")
        manager.warmup()
        manager.start()
        try:
            manager.join(time.perf_counter(), timeout=None)   # until rank 0's stop reaches the group
            err = _fatal(manager)
            if err:
                raise EngineError(f"the engine failed on this rank: {err}")
        finally:
            if manager.is_running():
                manager.stop(block=True, timeout=60)
            manager.destroy()
    _leave_distributed()


def _leave_distributed() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def _sweep(manager: Any, vocab: int) -> int:
    """Prompts of every padded length up to max_batch_tokens, one at a time: the engine runs (nearly)
    every GEMM/attention shape it will meet, so the interposer asks the predictor service about them
    before the trace starts. Each first-seen shape is a blocking round trip to the service that the
    timekeeper does not know about (interpose/native/core/predict.c ask()): seen as blocked, the
    engine thread lets the clock jump to the load generator's next arrival, stretching that step."""
    cfg = manager.continuous_batching_config
    top = int(getattr(cfg, "max_batch_tokens", 0) or 0)
    step = max(int(getattr(cfg, "q_padding_interval_size", 0) or 64), top // 128, 1)
    n = 0
    for length in range(step, top + 1, step):
        _serve_one(manager, [1 + (7 * j + length) % (vocab - 1) for j in range(length)], 2)
        n += 1
    return n


def _wall() -> float:
    """Wall-clock seconds (CLOCK_MONOTONIC as the kernel has it), also under the timekeeper."""
    import ctypes

    real = getattr(ctypes.CDLL(None), "rvtk_real_ns", None) if VIRTUAL_TIME else None
    if real is None:
        return time.perf_counter()
    real.restype = ctypes.c_int64
    real.argtypes = [ctypes.c_int]
    return real(time.CLOCK_MONOTONIC) / 1e9


def _ranks_cpu_s() -> dict[int, float]:
    """CPU seconds (user + system, all threads) of this process and of its child processes: with
    tensor parallelism, the other ranks."""
    def cpu(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    me = os.getpid()
    kids: list[int] = []
    for task in Path(f"/proc/{me}/task").glob("*"):
        try:
            kids += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return {pid: cpu(pid) for pid in [me, *sorted(kids)]}


def _interposer_clock_offset() -> float | None:
    """perf_counter minus the interposer's timeline clock (rvtk_now, what its trace ts count), when
    running on virtual GPUs."""
    import ctypes

    now = getattr(ctypes.CDLL(None), "rvtk_now", None) if VIRTUAL_TIME else None
    if now is None:
        return None
    now.restype = ctypes.c_int64
    a = time.perf_counter()
    n = now()
    b = time.perf_counter()
    return (a + b) / 2 - n / 1e9


@contextlib.contextmanager
def _kernel_profile(out: Path | None) -> Iterator[None]:
    """torch.profiler's device activity (CUPTI) over the block, aggregated into out/kernels.json.
    CUPTI slows every launch (eager runs markedly), so a profiled run's metrics are not a plain run's."""
    if out is None:
        yield
        return
    import torch
    from torch.profiler import ProfilerActivity, profile

    from predictors.profile.kineto import exported

    from .. import kernels

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        yield
        torch.cuda.synchronize()
    try:   # the run's metrics stand without the table
        kernels.from_kineto(exported(prof)).save(out)
    except Exception as e:  # noqa: BLE001
        (out / "kernels-error.txt").write_text(f"{type(e).__name__}: {e}\n")


def _fatal(manager: Any) -> str | None:
    status = getattr(manager, "background_thread_status", None)
    err = getattr(status, "fatal_error", None)
    return None if err is None else f"{type(err).__name__}: {err}"


def _serve_one(manager: Any, ids: list[int], n: int) -> None:
    rid = manager.add_request(ids, request_id="warmup", max_new_tokens=n)
    while True:
        res = manager.get_result(request_id=rid, timeout=POLL_S)
        if res is not None and res.is_finished():
            if res.error:
                raise EngineError(f"warm-up request failed in the engine: {res.error}")
            return
        if not manager.is_running():
            raise EngineError(f"the engine stopped during warm-up: {_fatal(manager) or 'no error given'}")


def _drive(manager: Any, requests: list[Request], prompts: list[list[int]], log) -> tuple[list[dict[str, Any]], float]:
    n = len(requests)
    sent: dict[str, float] = {}
    results: dict[str, Any] = {}
    failure: list[str] = []
    t0 = time.perf_counter()

    def collect() -> None:
        last = time.perf_counter()
        while len(results) < n:
            res = manager.get_result(timeout=POLL_S)
            now = time.perf_counter()
            if res is None:
                if not manager.is_running():
                    failure.append(f"the engine stopped with {n - len(results)} requests unfinished: "
                                   f"{_fatal(manager) or 'no error given'}")
                    return
                if now - last > IDLE_LIMIT_S:
                    failure.append(f"the engine hung: no request finished in {IDLE_LIMIT_S:.0f} s "
                                   f"({n - len(results)} unfinished)")
                    return
                continue
            if res.is_finished():
                results[res.request_id] = res
                last = now

    collector = threading.Thread(target=collect, name="revati-collector", daemon=True)
    collector.start()
    for r, ids in zip(requests, prompts):
        delay = t0 + r.arrival_s - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        if failure:
            break
        sent[r.request_id] = time.perf_counter() - t0
        rid = manager.add_request(ids, request_id=r.request_id, max_new_tokens=r.output_len, record_timestamps=True)
        if rid is None:
            failure.append(f"the engine refused request {r.request_id} (not accepting requests: "
                           f"{_fatal(manager) or 'stopped'})")
            break
    collector.join()

    rows = []
    for r in requests:
        res = results.get(r.request_id)
        row: dict[str, Any] = {"request_id": r.request_id, "arrival_s": r.arrival_s, "sent_s": sent.get(r.request_id, ""),
                               "input_tokens": r.input_len}
        if res is None:
            row.update(status="lost", output_tokens=0, error="no result")
        else:
            times = [x - t0 for x in (res.timestamps or [])]
            row.update(status="ok" if res.error is None else "failed", error=res.error or "",
                       output_tokens=len(res.generated_tokens), token_times_s=times,
                       first_token_s=times[0] if times else "", last_token_s=times[-1] if times else "")
            if res.error is None and len(res.generated_tokens) != r.output_len:
                row.update(status="failed", error=f"generated {len(res.generated_tokens)} tokens, expected {r.output_len}")
        rows.append(row)
    errors = [row["error"] for row in rows if row["status"] != "ok"]
    if failure or errors:
        raise EngineError("; ".join(failure) or f"{len(errors)} requests failed: {errors[0]}", rows)  # type: ignore[call-arg]
    return rows, t0
