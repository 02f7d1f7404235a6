"""The profiling harness (predictors.profile): trace parsing, grids and held-out split, item-to-op
mapping against the interposer, and an end-to-end run on virtual GPUs with resume."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from predictors.profile import grid, kineto

ROOT = Path(__file__).resolve().parents[1]


def kineto_trace() -> dict[str, Any]:
    """The shape of a torch 2.x kineto trace: labels and aten ops on the CPU thread, runtime calls
    with correlation ids, kernels and copies on the GPU stream carrying the same ids."""
    cpu = {"pid": 100, "tid": 100}
    gpu = {"pid": 0, "tid": 7}
    return {"traceEvents": [
        {"ph": "X", "cat": "user_annotation", "name": "rv|gemm|0|0", "ts": 10.0, "dur": 20.0, **cpu},
        {"ph": "X", "cat": "cpu_op", "name": "aten::linear", "ts": 11.0, "dur": 18.0, **cpu,
         "args": {"Input Dims": [[16, 64], [32, 64], []], "Input type": ["c10::BFloat16", "c10::BFloat16", ""]}},
        {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "ts": 12.0, "dur": 15.0, **cpu,
         "args": {"Input Dims": [[16, 64], [64, 32]], "Input type": ["c10::BFloat16", "c10::BFloat16"]}},
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "ts": 13.0, "dur": 3.5, **cpu,
         "args": {"correlation": 5, "cbid": 211}},
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaMemsetAsync", "ts": 17.0, "dur": 1.0, **cpu,
         "args": {"correlation": 6}},
        {"ph": "X", "cat": "user_annotation", "name": "rv|gemm|0|1", "ts": 40.0, "dur": 10.0, **cpu},
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "ts": 41.0, "dur": 2.0, **cpu,
         "args": {"correlation": 9}},
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "ts": 60.0, "dur": 2.0, **cpu,
         "args": {"correlation": 11}},  # outside any label
        {"ph": "X", "cat": "kernel", "name": "nvjet_tst_64x8_64x16_4x1_v_bz_TNT", "ts": 100.0, "dur": 4.25, **gpu,
         "args": {"correlation": 5, "grid": [32, 1, 1], "block": [384, 1, 1], "shared memory": 1024, "stream": 7}},
        {"ph": "X", "cat": "gpu_memset", "name": "Memset (Device)", "ts": 105.0, "dur": 1.0, **gpu,
         "args": {"correlation": 6, "bytes": 4096, "stream": 7}},
        {"ph": "X", "cat": "kernel", "name": "nvjet_tst_64x8_64x16_4x1_v_bz_TNT", "ts": 120.0, "dur": 4.0, **gpu,
         "args": {"correlation": 9, "grid": [32, 1, 1], "block": [384, 1, 1]}},
        {"ph": "X", "cat": "kernel", "name": "other", "ts": 130.0, "dur": 1.0, **gpu,
         "args": {"correlation": 11, "grid": [1, 1, 1], "block": [1, 1, 1]}},
        {"ph": "i", "cat": "flow", "name": "ignored", "ts": 1.0},
    ]}


def test_kineto_parse_attributes_device_events_to_labels_and_ops() -> None:
    parsed = kineto.parse(kineto_trace(), ops=True)
    regions = parsed.by_label()
    assert sorted(regions) == ["rv|gemm|0|0", "rv|gemm|0|1"]
    first = regions["rv|gemm|0|0"]
    assert [(e.cat, e.dur_ns) for e in first] == [("kernel", 4250), ("gpu_memset", 1000)]
    assert first[0].grid == (32, 1, 1) and first[0].block == (384, 1, 1) and first[0].shmem == 1024
    assert first[0].op is not None and first[0].op[0] == "aten::mm" and first[0].op[3] == 12.0  # the innermost operator
    assert first[0].launch == "cudaLaunchKernel" and first[0].launch_ns == 3500
    assert first[1].nbytes == 4096
    assert [e.dur_ns for e in regions["rv|gemm|0|1"]] == [4000]
    assert len(parsed.events) == 4 and parsed.events[-1].label is None
    kept = kineto.keep_for_raw(kineto_trace(), ops=True)
    assert kineto.parse(kept, ops=True).by_label().keys() == regions.keys()


def test_held_out_split_is_stable_and_about_a_fifth() -> None:
    keys = [grid.gemm_key(it) for it in grid.gemm_items()]
    share = sum(map(grid.held_out, keys)) / len(keys)
    assert 0.15 < share < 0.25
    assert grid.held_out("gemm|bf16|linear|1x1x4096x4096") == grid.held_out("gemm|bf16|linear|1x1x4096x4096")
    assert len(set(keys)) == len(keys)


# ---- the harness on virtual GPUs ------------------------------------------------------------------

MAPPING_SCRIPT = r"""
import json, sys, torch
from predictors.profile import grid, harness

class Stub:   # what the factories need of a harness run
    torch = torch
    def tensor(self, shape, dtype):
        return torch.randn(*shape, device="cuda").to(dtype)

items = json.loads(sys.argv[1])
for kind, it in items:
    fn = (harness.gemm_factory if kind == "gemm" else harness.attention_factory)(Stub(), it)()
    fn()
torch.cuda.synchronize()
"""


def gemm_item(m: int, n: int, k: int, dtype: str, form: str, batch: int = 1) -> dict[str, Any]:
    return {"m": m, "n": n, "k": k, "batch": batch, "dtype": dtype, "form": form}


def test_measured_items_key_as_the_interposer_reports_them(tmp_path: Path) -> None:
    """Each GEMM and attention item of the profile is stored under the operation the interposer
    sends for the same torch call: the join between real measurements and emulated runs."""
    from conftest import revati_run

    items: list[tuple[str, dict[str, Any]]] = [
        ("gemm", gemm_item(16, 1024, 4096, "bf16", "linear")),
        ("gemm", gemm_item(64, 256, 512, "bf16", "matmul")),
        ("gemm", gemm_item(32, 512, 256, "fp16", "linear")),
        ("gemm", gemm_item(32, 512, 256, "fp32", "linear")),
        ("gemm", gemm_item(32, 512, 256, "tf32", "linear")),
        ("gemm", gemm_item(32, 512, 256, "fp8", "linear")),
        ("gemm", gemm_item(16, 128, 512, "bf16", "bmm", batch=8)),
        ("attention", {"batch": 2, "heads": 32, "kv_heads": 8, "q_len": 256, "kv_len": 256, "head_dim": 128,
                       "causal": True, "dtype": "bf16"}),
        ("attention", {"batch": 4, "heads": 32, "kv_heads": 8, "q_len": 1, "kv_len": 1000, "head_dim": 128,
                       "causal": False, "dtype": "bf16"}),
        ("attention", {"batch": 1, "heads": 32, "kv_heads": 32, "q_len": 64, "kv_len": 512, "head_dim": 128,
                       "causal": False, "dtype": "bf16", "mask": True}),
    ]
    script = tmp_path / "mapping.py"
    script.write_text(MAPPING_SCRIPT)
    run = revati_run(["--predictor", "fixed:1us", "--trace", str(tmp_path / "trace"), "--no-timekeeper"],
                     [sys.executable, str(script), json.dumps(items)], timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    trace = json.loads(next((tmp_path / "trace").glob("trace-*.json")).read_text())
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    ops = [e for e in events if e.get("name") in ("cublas gemm", "cublasLt gemm", "cudnn attention")]
    assert len(ops) == len(items)
    for (kind, it), e in zip(items, ops):
        a = e["args"]
        if kind == "gemm":
            want = grid.gemm_op(it)
            got = {"kind": "gemm", "m": a["m"], "n": a["n"], "k": a["k"], "batch": a["batch"],
                   "trans_a": a["trans_a"], "trans_b": a["trans_b"], "compute": a["compute"]}
            got["dtype_a"], rest = a["dtype"].split("/")
            got["dtype_b"], got["dtype_c"] = rest.split("->")
            assert got == want, it
        else:
            want = grid.attention_op(it)
            assert {k: a[k] for k in ("batch", "heads", "kv_heads", "q_len", "kv_len", "head_dim", "causal", "dtype")} \
                == {k: want[k] for k in ("batch", "heads", "kv_heads", "q_len", "kv_len", "head_dim", "causal", "dtype")}


def test_harness_runs_on_virtual_gpus_and_resumes(tmp_path: Path) -> None:
    """The whole harness (every section, a few items each) runs under the interposer; a run cut by
    its budget resumes where it stopped."""
    from conftest import revati_run

    out = tmp_path / "profile"
    cmd = [sys.executable, "-m", "predictors.profile", "--out", str(out), "--quick", "--reps", "1"]
    first = revati_run(["--no-timekeeper"], cmd + ["--budget-s", "6", "--sections", "copy,gemm,attention"], timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    data = json.loads((out / "profile.json").read_text())
    assert data["runs"][0]["complete"] is False
    done = sum(len(s) for s in data["sections"].values())
    second = revati_run(["--no-timekeeper"], cmd + ["--budget-s", "300"], timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    data = json.loads((out / "profile.json").read_text())
    assert data["runs"][-1]["complete"] is True and len(data["runs"]) == 2
    sections = data["sections"]
    assert {"host", "copy", "gemm", "attention", "kernels", "forward", "serve"} <= sections.keys()
    assert sum(len(s) for s in sections.values()) > done
    errors = [r["error"] for s in sections.values() for r in s.values() if isinstance(r, dict) and "error" in r]
    assert not errors, errors[:3]
    assert all(r["ns"] > 0 for r in sections["gemm"].values())


def test_pack_turns_a_harness_profile_into_a_loadable_one(tmp_path: Path) -> None:
    from predictors import GemmOp, KernelOp, load
    from predictors.profile import pack
    from predictors.profiled import ProfiledPredictor

    gemm_it = {"m": 64, "n": 4096, "k": 4096, "batch": 1, "dtype": "bf16", "form": "linear"}
    attn_it = {"batch": 2, "heads": 32, "kv_heads": 8, "q_len": 1, "kv_len": 1024, "head_dim": 128,
               "causal": False, "dtype": "bf16"}
    raw = {
        "format": 1, "meta": {"gpu": "NVIDIA H100 80GB HBM3", "torch": "2.11.0", "cuda": "13.0", "driver": "580",
                              "date": "2026-11-21"},
        "names": ["nvjet_x", "cudnn_y", "void at::native::vectorized_elementwise_kernel<4, add>(int)"],
        "sections": {
            "host": {"launch_call_ns": 4000},
            "gemm": {grid.gemm_key(gemm_it): {"item": gemm_it, "ns": 12000, "reps": [11900, 12000, 12100],
                                              "kernels": [[0, [2, 64, 1], [384, 1, 1], 12000, "kernel", None]]}},
            "attention": {grid.attention_key(attn_it): {"item": attn_it, "ns": 9000, "reps": [9000],
                                                        "kernels": [[1, [32, 1, 1], [128, 1, 1], 9000, "kernel", None]]}},
            "copy": {"copy|d2d|pinned|1024": {"item": {"direction": "d2d", "pinned": True, "bytes": 1024}, "ns": 1500,
                                              "reps": [1500]}},
            "kernels": {"kop|add|bf16|16x1024": {"item": {}, "ns": 2000, "reps": [2000],
                                                 "kernels": [[2, [16, 1, 1], [128, 1, 1], 2000, "kernel", None]]}},
            "forward": {"8b:decode:b1c2048": {"composition": {}, "ns": 14000, "reps": [14000], "count": [2],
                                              "kernels": [[0, [2, 64, 1], [384, 1, 1], 12000, "kernel", None],
                                                          [2, [64, 1, 1], [128, 1, 1], 2000, "kernel", None]],
                                              "ops": [["aten::mm", [[1, 4096], [4096, 4096]], ["c10::BFloat16"] * 2],
                                                      ["aten::add", [], []]],
                                              "kernel_op": [0, 1], "kernel_inst": [0, 1]}},
            "serve": {},
        },
    }
    packed = pack.pack(raw, "h100")
    assert packed["forward"]["8b:decode:b1c2048"]["by_class"] == {"gemm": 12000, "kernel": 2000}
    predictor = ProfiledPredictor(load("h100"), packed, quiet=True)
    op = GemmOp(m=64, n=4096, k=4096, dtype_a="bf16", dtype_b="bf16", dtype_c="bf16", compute="f32", trans_b=True)
    assert predictor.duration_ns(op) == 12000
    name = raw["names"][2]
    assert predictor.duration_ns(KernelOp(name=name, grid=(64, 1, 1), block=(128, 1, 1))) == 2000  # forward wins
    assert predictor.duration_ns(KernelOp(name=name, grid=(16, 1, 1), block=(128, 1, 1))) == 2000


def test_collective_sweep_runs_on_virtual_gpus_keyed_as_the_interposer_reports(tmp_path: Path) -> None:
    """The NCCL sweep (one process per GPU) runs under the interposer on 4 virtual GPUs; every item
    is stored under the collective the interposer reports for the same torch.distributed call, and
    the packed curves load into the profiled predictor."""
    from conftest import load_trace, revati_run

    from predictors import CollectiveOp, load
    from predictors.profile import collectives
    from predictors.profiled import ProfiledPredictor

    out, trace = tmp_path / "coll", tmp_path / "trace"
    cmd = [sys.executable, "-m", "predictors.profile.collectives", "sweep", "--out", str(out), "--ranks", "2,3", "--quick"]
    run = revati_run(["--gpus", "4", "--predictor", "fixed:1us", "--trace", str(trace), "--no-timekeeper"], cmd,
                     timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    raw = json.loads((out / "collectives.json").read_text())
    assert all(r["complete"] and not any(r["exit"]) for r in raw["runs"]) and len(raw["runs"]) == 2
    want = {(n, r, b) for r in (2, 3) for n in grid.COLLECTIVE_NAMES
            for b in grid.collective_sizes(r, collectives.QUICK_BYTES)}
    assert {(r["name"], r["ranks"], r["bytes"]) for r in raw["rows"].values()} == want
    assert all(r["ns"] > 0 and r["iters"] == 3 for r in raw["rows"].values())
    seen = {(e["name"], e["args"]["ranks"], e["args"]["bytes"]) for path in trace.glob("trace-*.json")
            for e in load_trace(path) if e.get("ph") == "X" and "ranks" in e.get("args", {})}
    assert want <= seen, sorted(want - seen)
    packed = collectives.pack([raw], "h200", 450e9, [])
    predictor = ProfiledPredictor(load("h200"), collectives=packed, quiet=True)
    nbytes = grid.collective_sizes(3, [65536])[0]
    op = CollectiveOp(name="all_gather", ranks=3, bytes=nbytes, dtype="bf16")
    # virtual-GPU timings are noise: a smaller size may have taken longer, and the curve is lifted
    lifted = max(r["ns"] for r in raw["rows"].values() if r["name"] == "all_gather" and r["ranks"] == 3
                 and r["bytes"] <= nbytes)
    assert predictor.explain(op) == (lifted, "curve")


def test_the_indexing_sweep_runs_on_virtual_gpus_and_names_unknown_ops(tmp_path: Path) -> None:
    """The ops added to the kernel sweep (paged-cache indexing, MoE routing, sampling) run under the
    interposer; --kernel-ops measures only those and rejects names the sweep does not have."""
    from conftest import revati_run

    ops = ["index_select", "index_copy", "masked_scatter", "gather", "index_add", "cumsum", "topk", "sort"]
    out = tmp_path / "profile"
    cmd = [sys.executable, "-m", "predictors.profile", "--out", str(out), "--quick", "--reps", "1",
           "--sections", "kernels", "--kernel-ops", ",".join(ops)]
    p = revati_run(["--no-timekeeper"], cmd, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    measured = json.loads((out / "profile.json").read_text())["sections"]["kernels"]
    assert {key.split("|")[1] for key in measured} == set(ops)
    errors = [r["error"] for r in measured.values() if "error" in r]
    assert not errors, errors[:3]
    bad = subprocess.run([sys.executable, "-m", "predictors.profile", "--out", str(out), "--kernel-ops", "add,nope"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode == 2 and "unknown kernel ops ['nope']" in bad.stderr


def test_extend_adds_a_later_sweep_to_the_shipped_kernel_table() -> None:
    from predictors import KernelOp, load
    from predictors.profile import pack
    from predictors.profiled import ProfiledPredictor, load_profile

    shipped = load_profile("h100")
    scan = "void cub::DeviceScanKernel<Policy, CountMaskOp>(unsigned char const*, long*)"
    raw = {"format": 1, "meta": dict(shipped["meta"], date="2026-11-22"), "names": [scan],
           "sections": {"kernels": {"kop|masked_scatter|bf16|4096x4096": {
               "item": {}, "ns": 9000, "reps": [9000],
               "kernels": [[0, [8192, 1, 1], [128, 1, 1], 40000, "kernel", None],
                           [0, [16384, 1, 1], [128, 1, 1], 80000, "kernel", None]]}}}}
    grown = pack.extend(shipped, raw)
    assert len(grown["kernels"]["rows"]) == len(shipped["kernels"]["rows"]) + 2
    assert grown["extended"][-1]["kernel_ops"] == ["masked_scatter"] and grown["extended"][-1]["rows"]["kernels"] == 2
    before = ProfiledPredictor(load("h100"), shipped, quiet=True)
    after = ProfiledPredictor(load("h100"), grown, quiet=True)
    op = KernelOp(name=scan, grid=(12288, 1, 1), block=(128, 1, 1))
    assert after.explain(op) == (60000, "geometry/name")                # between its two measured launches
    assert before.explain(KernelOp(name=scan, grid=(8192, 1, 1), block=(128, 1, 1)))[0] != 40000
    other = {k: v for k, v in shipped.items() if k != "kernels"}
    assert all(grown[k] == v for k, v in other.items() if k not in ("names", "extended"))
    with pytest.raises(ValueError, match="H200"):
        pack.extend(shipped, dict(raw, meta=dict(raw["meta"], gpu="NVIDIA H200")))


def test_extend_replaces_a_remeasured_gemm_even_where_cublas_chose_another_kernel() -> None:
    """A sweep re-run (another L2 state, say) replaces the shipped rows of the items it measured: the
    main kernel is a result of the measurement, not part of the item."""
    from predictors import GemmOp, load
    from predictors.profile import pack
    from predictors.profiled import ProfiledPredictor, load_profile

    shipped = load_profile("h100")
    columns = shipped["gemm"]["columns"]
    rows = [dict(zip(columns, r)) for r in shipped["gemm"]["rows"]]
    old = next(r for r in rows if (r["m"], r["n"], r["k"], r["form"], r["source"]) == (1, 8192, 2048, "linear", "grid"))
    item = {"m": 1, "n": 8192, "k": 2048, "batch": 1, "dtype": "bf16", "form": "linear"}
    raw = {"format": 1, "meta": dict(shipped["meta"], date="2026-11-22"), "names": ["nvjet_another_kernel"],
           "runs": [{"l2_flush": {"gemm": "clean"}}],
           "sections": {"gemm": {"gemm|bf16|linear|1x1x8192x2048": {
               "item": item, "ns": old["ns"] * 0.75, "reps": [old["ns"] * 0.75] * 3,
               "kernels": [[0, [128, 1, 1], [384, 1, 1], old["ns"] * 0.75, "kernel", None]]}}}}
    grown = pack.extend(shipped, raw)
    assert len(grown["gemm"]["rows"]) == len(shipped["gemm"]["rows"])
    assert grown["extended"][-1]["l2_flush"] == {"gemm": "clean"}
    op = GemmOp(m=1, n=8192, k=2048, dtype_a="bf16", dtype_b="bf16", dtype_c="bf16", compute="f32", trans_b=True)
    before = ProfiledPredictor(load("h100"), shipped, quiet=True).duration_ns(op)
    after = ProfiledPredictor(load("h100"), grown, quiet=True).duration_ns(op)
    assert after == pytest.approx(before * 0.75, rel=0.02)
