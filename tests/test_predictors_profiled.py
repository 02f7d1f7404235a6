"""The profiled predictors: shipped profiles, fitted models, fallbacks, names across torch
versions, and the cost of a repeated lookup."""
from __future__ import annotations

import json
import math
import statistics
import sys
import time
from pathlib import Path

import pytest

from predictors import create, load, parse_op
from predictors.base import host_costs, native_config
from predictors.catalog import HostCosts
from predictors.names import demangle, level1, level2, template
from predictors.ops import AttentionOp, CollectiveOp, GemmOp, KernelOp, MemcpyOp
from predictors.profile import grid
from predictors.profiled import (
    HOST_COSTS,
    CollectiveModel,
    ProfiledPredictor,
    available,
    collective_samples,
    load_collectives,
    load_profile,
    rows,
    samples,
)
from predictors.roofline import ring_share_steps
from predictors.server import PredictorServer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def test_profiles_ship_for_h100_and_h200_with_versions() -> None:
    assert {"h100", "h200"} <= set(available())
    for key, gpu in [("h100", "NVIDIA H100 80GB HBM3"), ("h200", "NVIDIA H200")]:
        profile = load_profile(key)
        assert profile is not None
        meta = profile["meta"]
        assert meta["gpu"] == gpu and meta["torch"].startswith("2.") and meta["cuda"] and meta["driver"]
        assert len(profile["gemm"]["rows"]) > 1000 and len(profile["attention"]["rows"]) > 500
        assert len(profile["kernels"]["rows"]) > 1000 and profile["forward"]


def test_default_is_profiled_where_a_profile_exists(capsys: pytest.CaptureFixture[str]) -> None:
    predictor = create("default", load("h100"))
    assert isinstance(predictor, ProfiledPredictor)
    assert "profiled h100" in capsys.readouterr().err
    fallback = create("default", load("a100"))
    assert type(fallback).__name__ == "RooflinePredictor"
    assert "no profile for a100" in capsys.readouterr().err


def test_profiled_without_a_profile_says_so_and_uses_the_roofline(capsys: pytest.CaptureFixture[str]) -> None:
    predictor = create("profiled", load("l40s"))
    assert "roofline for every operation" in predictor.description  # type: ignore[attr-defined]
    assert "no profile for l40s" in capsys.readouterr().err
    roof = create("roofline", load("l40s"))
    op = parse_op(grid.gemm_op({"m": 64, "n": 4096, "k": 4096, "batch": 1, "dtype": "bf16", "form": "linear"}))
    assert predictor.duration_ns(op) == roof.duration_ns(op)


def test_measured_shapes_are_predicted_as_measured() -> None:
    """(Where a forward pass measured the same shape in place, that measurement wins: m = 384 is in none.)"""
    profile = load_profile("h100")
    assert profile is not None
    predictor = create("profiled", load("h100"))
    row = next(r for r in rows(profile["gemm"]) if r["source"] == "grid" and r["m"] == 384 and r["n"] == 14336
               and r["k"] == 4096 and r["dtype"] == "bf16" and r["form"] == "linear")
    op = parse_op(grid.gemm_op(row))
    assert predictor.duration_ns(op) == pytest.approx(row["ns"], rel=0.01)


def test_between_measured_shapes_the_prediction_lies_between() -> None:
    predictor = create("profiled", load("h100"))

    def gemm(m: int) -> int:
        return predictor.duration_ns(GemmOp(m=m, n=4096, k=4096, dtype_a="bf16", dtype_b="bf16", dtype_c="bf16",
                                            compute="f32", trans_b=True))

    assert gemm(1024) <= gemm(1300) <= gemm(1536)
    decode = [predictor.duration_ns(AttentionOp(batch=8, heads=32, kv_heads=8, q_len=1, kv_len=kv, head_dim=128,
                                                dtype="bf16")) for kv in (1024, 1500, 2048)]
    assert decode == sorted(decode)


def test_kernel_geometries_between_llm_launches_follow_the_llm_launches() -> None:
    """A kernel name can cost several times more per block in the sweep (a strided copy) than in LLM
    work (the broadcast copy that repeats KV heads for SDPA). Between launches measured in serving
    runs and forward passes, the time follows those: before, a 66560-block copy (1B model, KV padded
    to 16384) was predicted at 261 us from the sweep's points while the LLM launches on both sides
    cost 1.4 ns and 1.1 ns per block (23 us at 16640 blocks, 146 us at 131320)."""
    kernels = create("profiled", load("h100")).kernels
    [name] = [n for n in kernels.names if n.startswith("void at::native::elementwise_kernel<128, 4, at::native::gpu_kernel_"
                                                        "impl_nocast<at::native::direct_copy_kernel_cuda") and "BFloat16" in n]
    ns = {g: kernels.predict(KernelOp(name=name, grid=(g, 1, 1), block=(128, 1, 1)))[0] for g in (16640, 66560, 131320)}
    assert ns[16640] < ns[66560] < ns[131320]
    per_block = ns[66560] / 66560
    assert ns[131320] / 131320 * 0.9 <= per_block <= ns[16640] / 16640 * 1.1, ns


def test_held_out_accuracy_meets_the_targets() -> None:
    """The acceptance figures, fitted to 80% and tested on the held-out 20% (the full report is
    benchmarks/predictors_accuracy.py)."""
    import predictors_accuracy

    for gpu in ("h100", "h200"):
        errors = predictors_accuracy.held_out_errors(gpu)
        median = {cls: statistics.median(abs(e) for e in v["profiled"]) for cls, v in errors.items()}
        assert median["gemm (all)"] <= 0.10, (gpu, median)
        assert median["attention (all)"] <= 0.10, (gpu, median)
        assert median["memory-bound kernels"] <= 0.15, (gpu, median)
        assert median["copies/memsets"] <= 0.15, (gpu, median)
        # torch's reductions by the elements their launch arguments carry (their grid is capped)
        assert median["reductions by shape"] <= 0.15 < median["reductions by geometry"], (gpu, median)


def test_train_split_never_sees_held_out_items() -> None:
    profile = load_profile("h200")
    assert profile is not None
    train = samples(profile, keep=lambda cls, key: cls == "source" or not grid.held_out(key))
    test = samples(profile, keep=lambda cls, key: cls == "source" or grid.held_out(key))
    def key(op) -> str:   # bf16 x @ W^T: linear layers, or torch's grouped GEMM
        form = "grouped" if op.library == "grouped_mm" else "linear"
        return grid.gemm_key({"m": op.m, "n": op.n, "k": op.k, "batch": op.batch, "dtype": "bf16", "form": form})

    seen = {key(op) for op, _, _ in train["gemm"] if op.dtype_a == "bf16" and op.trans_b}
    held = [key(op) for op, _, _ in test["gemm"] if op.dtype_a == "bf16" and op.trans_b]
    assert held and not seen & set(held)


def test_kernels_are_matched_across_torch_versions() -> None:
    """torch 2.14 (virtual GPUs here) adds a template argument that torch 2.11 (the profiled GPUs)
    lacks; the normalised names still match."""
    mangled = ("_ZN2at6native29vectorized_elementwise_kernelILi8ENS0_21CUDAFunctorOnSelf_addIN3c108BFloat16EEES"
               "t5arrayIPcLm2EELb0EEEviT0_T1_")
    text = demangle(mangled)
    assert text.startswith("void at::native::vectorized_elementwise_kernel<8, at::native::CUDAFunctorOnSelf_add")
    older = ("void at::native::vectorized_elementwise_kernel<8, at::native::CUDAFunctorOnSelf_add<c10::BFloat16>, "
             "std::array<char*, 2ul> >(int, at::native::CUDAFunctorOnSelf_add<c10::BFloat16>, std::array<char*, 2ul>)")
    assert level1(text) == level1(older) and level2(text) == level2(older)
    assert template(older) == "vectorized_elementwise_kernel"
    assert template("void at::native::(anonymous namespace)::CatArrayBatchedCopy<int>(int*)") == "CatArrayBatchedCopy"
    predictor = create("profiled", load("h100"))
    op = KernelOp(name=mangled, grid=(64, 1, 1), block=(128, 1, 1))
    ns, how = predictor.explain(op)  # type: ignore[attr-defined]
    assert how != "roofline" and 500 < ns < 20_000


def test_peer_copies_and_unmeasured_collectives_use_the_alpha_beta_model() -> None:
    predictor = create("profiled", load("h100"))
    roof = create("roofline", load("h100"))
    for op in (MemcpyOp(bytes=1 << 24, direction="p2p"), CollectiveOp(name="send", bytes=1 << 24, ranks=2, dtype="bf16"),
               CollectiveOp(name="all_reduce", bytes=1 << 24, ranks=1, dtype="bf16")):
        assert predictor.duration_ns(op) == roof.duration_ns(op)


# ---- collectives -------------------------------------------------------------------------------------

def h200_curves() -> list[tuple[str, int, int, float]]:
    data = load_collectives(load("h200"))
    assert data is not None and data["gpu"] == "h200"
    return collective_samples(data)


def test_collective_curves_ship_for_h200_on_2_3_and_4_gpus() -> None:
    measured = h200_curves()
    assert {r for _, r, _, _ in measured} == {2, 3, 4}
    for name in ("all_reduce", "all_gather", "reduce_scatter", "broadcast"):
        for ranks in (2, 4):
            sizes = sorted(b for n, r, b, _ in measured if n == name and r == ranks)
            assert sizes[0] == 4096 and sizes[-1] == 1 << 30 and len(sizes) == 10, (name, ranks)
    # the NVLink 4 of an H200 moves an all_reduce of 1 GiB at 300-450 GB/s of bus bandwidth
    model = CollectiveModel(measured)
    for ranks in (2, 4):
        bw = model.bus_bandwidth("all_reduce", ranks)
        assert bw is not None and 300e9 < bw < 450e9


def test_collective_curves_are_exact_at_measured_sizes() -> None:
    measured = h200_curves()
    predictor = create("profiled", load("h200"))
    for name, ranks, nbytes, ns in measured:
        op = CollectiveOp(name=name, ranks=ranks, bytes=nbytes, dtype="bf16")
        assert predictor.explain(op) == (math.ceil(ns), "curve")  # type: ignore[attr-defined]


def test_collective_predictions_grow_with_bytes_and_ranks() -> None:
    predictor = create("profiled", load("h200"))
    sizes = sorted({0, 1, 3000, 5000, 100_000, 3 << 20, 777_777_777, 3 << 30} | {int(2 ** (e / 4)) for e in range(0, 129)})
    for name in grid.COLLECTIVE_NAMES:
        previous_ranks: list[int] | None = None
        for ranks in (2, 4, 8, 16):
            times = [predictor.duration_ns(CollectiveOp(name=name, ranks=ranks, bytes=b, dtype="bf16")) for b in sizes]
            assert times == sorted(times), (name, ranks)
            if previous_ranks is not None and name != "all_to_all":  # more ranks: more steps and a larger share
                assert all(t >= p * 0.97 for t, p in zip(times, previous_ranks)), (name, ranks)
            previous_ranks = times
    # a dip in the measurements (noise at small sizes) is lifted, not followed
    dip = CollectiveModel([("all_reduce", 2, 4096, 9000), ("all_reduce", 2, 16384, 8000), ("all_reduce", 2, 65536, 10000)])
    assert dip.predict(CollectiveOp(name="all_reduce", ranks=2, bytes=16384, dtype="bf16"))[0] == 9000


def test_unmeasured_ranks_scale_the_nearest_curve_by_alpha_beta() -> None:
    measured = h200_curves()
    model = CollectiveModel(measured)

    def at(name: str, ranks: int, nbytes: int) -> tuple[float, str]:
        ns, how = model.predict(CollectiveOp(name=name, ranks=ranks, bytes=nbytes, dtype="bf16"))
        assert ns is not None
        return ns, how

    for name in ("all_reduce", "all_gather", "reduce_scatter", "broadcast"):
        big4, _ = at(name, 4, 1 << 30)
        big8, how = at(name, 8, 1 << 30)
        assert how == "scaled"
        # bandwidth-bound: the 4-GPU bus bandwidth, with the 8-GPU ring's share of the buffer
        share4, _ = ring_share_steps(name, 4)
        share8, _ = ring_share_steps(name, 8)
        assert big8 == pytest.approx(big4 * share8 / share4, rel=0.02), name
        # latency-bound: on the line through the measured 2-, 3- and 4-GPU latencies
        lat = {r: at(name, r, 4096)[0] for r in (2, 3, 4, 8)}
        steps = {r: ring_share_steps(name, r)[1] for r in lat}
        slope = (lat[4] - lat[2]) / (steps[4] - steps[2])
        assert lat[8] == pytest.approx(lat[4] + slope * (steps[8] - steps[4]), rel=0.15), name
        assert lat[8] > lat[4]
    # one measured count: the latency grows in the roofline's base-plus-steps proportion
    single = CollectiveModel([s for s in measured if s[1] == 2])
    ns2 = single.predict(CollectiveOp(name="all_reduce", ranks=2, bytes=4096, dtype="bf16"))[0]
    ns4 = single.predict(CollectiveOp(name="all_reduce", ranks=4, bytes=4096, dtype="bf16"))[0]
    assert ns2 is not None and ns4 is not None and ns4 / ns2 == pytest.approx((5 + 6) / (5 + 2), rel=0.02)
    # never measured: the roofline answers
    assert model.predict(CollectiveOp(name="send", ranks=2, bytes=4096, dtype="bf16")) == (None, "none")
    assert CollectiveModel([]).predict(CollectiveOp(name="all_reduce", ranks=8, bytes=4096, dtype="bf16")) == (None, "none")


def test_collective_curves_apply_only_to_gpus_with_the_same_nvlink() -> None:
    h100, h200 = load("h100"), load("h200")
    assert h100.nvlink_bandwidth_bytes_per_s == h200.nvlink_bandwidth_bytes_per_s
    assert load_collectives(h100) == load_collectives(h200)
    op = CollectiveOp(name="all_reduce", ranks=4, bytes=1 << 24, dtype="bf16")
    assert create("profiled", h100).duration_ns(op) == create("profiled", h200).duration_ns(op)
    assert "same NVLink as h200" in create("profiled", h100).description  # type: ignore[attr-defined]
    # a GPU the file names, but whose catalog NVLink differs, keeps the analytical model
    other = h100.model_copy(update={"nvlink_bandwidth_bytes_per_s": 300e9})
    assert load_collectives(other) is None
    assert load_collectives(load("h100-pcie")) is None and load_collectives(load("b200")) is None
    predictor = ProfiledPredictor(other, quiet=True)
    assert predictor.duration_ns(op) == create("roofline", other).duration_ns(op)
    assert "roofline for collectives" in predictor.description
    # GPUs without a profile: the roofline for everything, collectives included
    for key in ("b200", "a100"):
        assert create("default", load(key)).duration_ns(op) == create("roofline", load(key)).duration_ns(op)


# ---- host costs -------------------------------------------------------------------------------------

def test_host_costs_come_from_the_profile_where_there_is_one() -> None:
    for key in ("h100", "h200"):
        hardware = load(key)
        profile = load_profile(key)
        assert profile is not None
        want = {item: round(profile["host"][field]) for item, field in HOST_COSTS.items()}
        predictor = create("profiled", hardware)
        costs = host_costs(predictor)
        assert {"launch_latency_ns": costs.launch_latency_ns, "sync_latency_ns": costs.sync_latency_ns} == want
        assert f"profile {key}" in costs.source
        text = native_config(predictor, 2)
        assert f"launch_latency_ns {want['launch_latency_ns']}\n" in text
        assert f"sync_latency_ns {want['sync_latency_ns']}\n" in text
        assert f"# host costs: profile {key}" in text
        # the analytical and fixed models keep the catalog's figures
        for spec in ("roofline", "fixed:1ms"):
            other = create(spec, hardware)
            assert host_costs(other) == hardware.host_costs()
            assert native_config(other, 2) == hardware.native_config(2)


def test_host_costs_a_profile_lacks_stay_the_catalogs(tmp_path: Path) -> None:
    hardware = load("h200")
    profile = load_profile("h200")
    assert profile is not None
    only_sync = {**profile, "host": {"idle_stream_sync_ns": 1234.4, "launch_call_ns": 999}}
    costs = ProfiledPredictor(hardware, only_sync, quiet=True).host_costs
    assert costs == HostCosts(hardware.launch_latency_ns, 1234, costs.source if costs else "")
    assert ProfiledPredictor(hardware, {**profile, "host": {}}, quiet=True).host_costs is None
    # the service's hello says what the hardware file says
    predictor = create("profiled", hardware)
    server = PredictorServer(predictor, tmp_path / "unused.sock")
    hello = json.loads(server.answer(b'{"op":"hello"}\n'))
    assert hello == {"hardware": "h200", "launch_latency_ns": host_costs(predictor).launch_latency_ns,
                     "sync_latency_ns": host_costs(predictor).sync_latency_ns}


def test_the_launcher_writes_the_predictors_host_costs() -> None:
    from interpose.launcher import VirtualGPUConfig, VirtualGPUs

    with VirtualGPUs(VirtualGPUConfig(gpu="h200", predictor="default", timekeeper=False)) as v:
        text = v.hardware_file.read_text()
    assert f"launch_latency_ns {host_costs(create('profiled', load('h200'))).launch_latency_ns}\n" in text
    with VirtualGPUs(VirtualGPUConfig(gpu="h200", predictor="roofline", timekeeper=False)) as v:
        assert v.hardware_file.read_text() == load("h200").native_config(1)


def test_a_slower_modelled_host_scales_the_libraries_host_time() -> None:
    """cuDNN's plan-build time was measured on the host of the target's reference timings; a run that
    models another host (the default's typical host, a given scale) scales that CPU work with the rest of it."""
    from interpose.launcher import VirtualGPUConfig, VirtualGPUs
    from predictors.catalog import library_host_costs
    from timekeeper import calibrate

    measured = library_host_costs("h100")[0]["cudnn_plan_build_ns"]
    there = calibrate.measured_host_scale("h100")

    def plan_build_ns(cpu_scale: float | None) -> int:
        with VirtualGPUs(VirtualGPUConfig(gpu="h100", cpu_scale=cpu_scale)) as v:
            line = next(x for x in v.hardware_file.read_text().splitlines() if x.startswith("cudnn_plan_build_ns "))
        return int(line.split()[1])

    assert plan_build_ns(there) == pytest.approx(measured, abs=1)
    assert plan_build_ns(there * 1.5) == pytest.approx(measured * 1.5, abs=1)
    assert plan_build_ns(None) == pytest.approx(measured * calibrate.cpu_scale("h100")[0] / there, abs=1)


def test_a_repeated_lookup_costs_under_a_microsecond() -> None:
    predictor = create("profiled", load("h100"))
    ops = [GemmOp(m=m, n=4096, k=4096, dtype_a="bf16", dtype_b="bf16", dtype_c="bf16", compute="f32", trans_b=True)
           for m in range(1, 257)]
    for op in ops:
        predictor.duration_ns(op)
    n = 50_000
    seq = [ops[i % len(ops)] for i in range(n)]
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for op in seq:
            predictor.duration_ns(op)
        best = min(best, (time.perf_counter() - t) / n)
    assert best < 1e-6, f"{best * 1e9:.0f} ns per lookup"


@pytest.mark.parametrize("gpu", ["h100", "h200"])
def test_masked_attention_with_few_heads_is_measured_not_scaled(gpu: str) -> None:
    """Masked attention at 8/16/24 heads is predicted from its own measurements: the time of a launch
    of few thread blocks does not follow the roofline's heads ratio (on the H100, 16 heads of 64 query
    rows over 16k keys take about as long as 32; on the H200 the 32-head launch is the faster one)."""
    from predictors.ops import AttentionOp
    predictor = create("profiled", load(gpu))

    def ns(heads: int, q: int) -> float:
        op = AttentionOp(batch=1, heads=heads, kv_heads=heads, q_len=q, kv_len=16384, head_dim=128,
                         head_dim_v=128, causal=False, dtype="bf16", mask=True)
        value, how = predictor.attention.predict(op)
        assert how == "exact" and value is not None, (heads, q, how)
        return value

    for heads in (8, 16, 24):
        for q in (64, 1024):
            ns(heads, q)   # each one its own measurement
    if gpu == "h100":   # one wave of thread blocks either way; the roofline's heads ratio would say half
        assert ns(16, 64) == pytest.approx(ns(32, 64), rel=0.15)
