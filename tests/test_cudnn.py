"""The fake cuDNN: backend graphs built by hand (tests/native/cudnn_graphs.c) and torch's
scaled_dot_product_attention, whose cuDNN graphs must be recorded as attention with exact shapes."""
from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import NATIVE, ROOT, load_trace, revati_run

FIXED = ["--predictor", "fixed:1ms"]


def gpu_events(trace_dir: Path) -> list[dict]:
    """Complete events on GPU lanes, in enqueue order, over every process's trace."""
    events = []
    for path in sorted(trace_dir.glob("trace-*.json")):
        events += [e for e in load_trace(path) if e.get("ph") == "X" and e.get("tid")]
    return events


def cudnn_events(trace_dir: Path) -> list[dict]:
    return [e for e in gpu_events(trace_dir) if e["name"].startswith("cudnn")]


def cudnn_stubs_hit(trace_dir: Path) -> list[str]:
    hit = []
    for path in trace_dir.glob("api-*.json"):
        hit += [c["name"] for c in json.loads(path.read_text())["calls"]
                if c["lib"].startswith("libcudnn") and c["stub"]]
    return hit


def attn(batch, heads, kv_heads, q_len, kv_len, head_dim, causal, dtype, head_dim_v=None) -> dict:
    return {"device": 0, "batch": batch, "heads": heads, "kv_heads": kv_heads, "q_len": q_len,
            "kv_len": kv_len, "head_dim": head_dim, "head_dim_v": head_dim_v or head_dim, "causal": causal,
            "dtype": dtype}


# ---------------------------------------------------------------- hand-built backend graphs

@pytest.fixture(scope="module")
def cudnn_graphs(lib_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cudnn") / "cudnn_graphs"
    subprocess.run(["gcc", "-Wall", f"-I{ROOT / 'interpose' / 'native' / 'include'}", "-o", str(out),
                    str(NATIVE / "cudnn_graphs.c"), f"-L{lib_dir}", "-l:libcudnn.so.9"],
                   check=True, capture_output=True)
    return out


def test_backend_graphs(cudnn_graphs: Path, tmp_path: Path):
    r = revati_run([*FIXED, "--trace", str(tmp_path)], [str(cudnn_graphs)])
    assert r.returncode == 0, r.stdout + r.stderr
    c = r.checks()
    assert c["failures"] == "0", r.stdout
    assert c["version"] == "92400" and c["property"] == "9.24"
    assert c["error_string"] == "CUDNN_STATUS_NOT_SUPPORTED"
    assert c["stream_null"] == "1"
    assert c["heur_results"] == "1 1"          # one engine config, copied into the caller's
    assert c["engine_index"] == "0" and c["notes"] == "0 0" and c["knobs"] == "0"
    assert c["workspace"] == "0"
    assert c["json_ok"] == "1"
    assert c["bad_plan"] == "2000 1"           # CUDNN_STATUS_BAD_PARAM, explained by the last error

    ev = cudnn_events(tmp_path)
    execs = [line.split()[2] for line in r.stdout.splitlines() if line.startswith("EXEC ")]
    assert len(ev) == len(execs) == 10, (execs, ev)
    by = dict(zip(execs, ev))

    # unified SDPA_FWD operation: GQA, causal through the subgraph's diagonal band mask
    assert by["unified_sdpa"]["name"] == "cudnn attention"
    assert by["unified_sdpa"]["args"] == attn(2, 8, 2, 128, 128, 64, True, "bf16")
    # composite matmul -> reductions/exp -> matmul, decode shape, no mask
    assert by["composite_decode"]["args"] == attn(1, 4, 4, 1, 300, 128, False, "f16")
    # composite with GEN_INDEX row >= col and a SOFTMAX operation
    assert by["composite_causal"]["args"] == attn(1, 2, 2, 64, 64, 32, True, "bf16")
    # SDPA_BWD operation: the forward's shapes, 2.5x the forward's price
    assert by["unified_sdpa_bwd"]["name"] == "cudnn bwd attention"
    assert by["unified_sdpa_bwd"]["args"] == attn(4, 16, 4, 512, 512, 128, False, "bf16")
    assert by["unified_sdpa_bwd"]["dur"] == 2500.0
    # matmul graph and convolution as GEMMs (the convolution's implicit GEMM)
    mm = by["matmul"]
    assert mm["name"] == "cudnn gemm" and (mm["args"]["m"], mm["args"]["n"], mm["args"]["k"], mm["args"]["batch"]) == (256, 1024, 512, 3)
    conv = by["conv"]
    assert conv["name"] == "cudnn gemm" and conv["args"]["epilogue"] == "conv_fwd"
    assert (conv["args"]["m"], conv["args"]["n"], conv["args"]["k"]) == (8 * 56 * 56, 128, 64 * 9)
    # anything else: a kernel named after its operations, sized by its tensors (8 MiB: 1M threads)
    pw = by["pointwise"]
    assert pw["name"] == "cudnn:pointwise" and pw["args"]["grid"] == [4096, 1, 1] and pw["args"]["block"] == [256, 1, 1]
    # a plan deserialised from the JSON of the first does the same work
    assert by["json_plan"]["name"] == "cudnn attention" and by["json_plan"]["args"] == by["unified_sdpa"]["args"]
    # legacy API: batch norm (read x, write y: 2 x 6.4 MB) and a v7 convolution on TF32
    assert c["bn_desc"] == "0 4 1 64 1 1"                # float 1xCx1x1
    bn = by["batchnorm"]
    assert bn["name"] == "cudnn:batchnorm_fwd_inference" and bn["args"]["grid"] == [(2 * 8 * 64 * 56 * 56 * 4 // 8 + 255) // 256, 1, 1]
    assert c["conv_out"] == "8 128 56 56" and c["conv_algo"] == "1 1 0"
    lc = by["legacy_conv"]
    assert lc["name"] == "cudnn gemm" and lc["args"]["compute"] == "f32_fast_tf32"
    assert (lc["args"]["m"], lc["args"]["n"], lc["args"]["k"]) == (8 * 56 * 56, 128, 64 * 9)
    assert all(e["dur"] == 1000.0 for e in ev if e is not by["unified_sdpa_bwd"])
    assert not cudnn_stubs_hit(tmp_path)


# ---------------------------------------------------------------- torch scaled_dot_product_attention

SDPA_PROGRAM = textwrap.dedent("""
    import os
    import sys
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    def t(*shape, dtype=torch.bfloat16, grad=False):
        return torch.randn(*shape, device="cuda", dtype=dtype, requires_grad=grad)

    case = sys.argv[1]
    if case == "forward":
        with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
            F.scaled_dot_product_attention(t(2, 8, 128, 64), t(2, 8, 128, 64), t(2, 8, 128, 64), is_causal=True)
            F.scaled_dot_product_attention(t(2, 8, 128, 64), t(2, 2, 128, 64), t(2, 2, 128, 64), is_causal=True,
                                           enable_gqa=True)
            F.scaled_dot_product_attention(t(2, 8, 1, 64), t(2, 8, 300, 64), t(2, 8, 300, 64), is_causal=False)
            h = torch.float16
            F.scaled_dot_product_attention(t(1, 4, 256, 128, dtype=h), t(1, 4, 256, 128, dtype=h),
                                           t(1, 4, 256, 128, dtype=h))
        # no backend forced: what torch picks by default for bf16 on compute capability 9.0
        F.scaled_dot_product_attention(t(2, 8, 128, 64), t(2, 8, 128, 64), t(2, 8, 128, 64), is_causal=True)
    elif case == "backward":
        q, k, v = (t(2, 8, 128, 64, grad=True) for _ in range(3))
        with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
            F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
        assert q.grad is not None and q.grad.shape == q.shape
    torch.cuda.synchronize()
    print("CHECK done 1", flush=True)
    if case == "backward":
        # Seen once in five full suites: torch's autograd threads ended interpreter teardown with
        # "terminate called without an active exception" after the checks had passed. Under
        # investigation (session notes); this test is about what the backward records.
        os._exit(0)
""")


@pytest.fixture(scope="module")
def sdpa_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    path = tmp_path_factory.mktemp("sdpa") / "sdpa.py"
    path.write_text(SDPA_PROGRAM)
    return path


def run_sdpa(sdpa_program: Path, trace: Path, case: str, env: dict[str, str] | None = None) -> list[dict]:
    """Runs one case with REVATI_CUDNN_LOG on; its events, and the graph patterns recognised."""
    import sys
    r = revati_run(["--trace", str(trace)], [sys.executable, str(sdpa_program), case],
                   env={"REVATI_CUDNN_LOG": "1", **(env or {})})
    assert r.returncode == 0 and r.checks().get("done") == "1", r.stdout + r.stderr[-5000:]
    assert not cudnn_stubs_hit(trace)
    patterns = [line.split(": ", 2)[-1] for line in r.stderr.splitlines() if ": attention from" in line
                or ": composite attention" in line]
    return cudnn_events(trace), patterns


FORWARD = [
    attn(2, 8, 8, 128, 128, 64, True, "bf16"),     # causal
    attn(2, 8, 2, 128, 128, 64, True, "bf16"),     # GQA: 2 KV heads (enable_gqa)
    attn(2, 8, 8, 1, 300, 64, False, "bf16"),      # decode
    attn(1, 4, 4, 256, 256, 128, False, "f16"),    # fp16, head dim 128
    attn(2, 8, 8, 128, 128, 64, True, "bf16"),     # default dispatch picks cuDNN
]


def test_torch_sdpa_forward(sdpa_program: Path, tmp_path: Path):
    ev, patterns = run_sdpa(sdpa_program, tmp_path, "forward")
    assert patterns and all(p.startswith("attention from the sdpa_fwd operation") for p in patterns), patterns
    assert [e["name"] for e in ev] == ["cudnn attention"] * len(FORWARD)
    assert [e["args"] for e in ev] == FORWARD
    assert all(e["dur"] > 0 for e in ev)


def test_torch_sdpa_backward(sdpa_program: Path, tmp_path: Path):
    ev, patterns = run_sdpa(sdpa_program, tmp_path, "backward")
    assert [e["name"] for e in ev] == ["cudnn attention", "cudnn bwd attention"]
    assert ev[0]["args"] == ev[1]["args"] == attn(2, 8, 8, 128, 128, 64, True, "bf16")
    assert ev[1]["dur"] == pytest.approx(2.5 * ev[0]["dur"], abs=0.002)


def test_torch_sdpa_composite_graphs(sdpa_program: Path, tmp_path: Path):
    """Claiming cuDNN 9.12 makes cudnn-frontend build the composite matmul/softmax/matmul graphs
    (masks as GEN_INDEX comparisons) instead of the SDPA operation: same attention recorded.
    (With cuDNN that old, torch's default dispatch no longer picks cuDNN: 4 events, not 5.)"""
    ev, patterns = run_sdpa(sdpa_program, tmp_path, "forward",
                            env={"REVATI_CUDNN_VERSION": "91200", "PYTORCH_SKIP_CUDNN_COMPATIBILITY_CHECK": "1"})
    assert len(patterns) == 4 and all(p.startswith("composite attention (2 matmuls") for p in patterns), patterns
    assert [e["args"] for e in ev] == FORWARD[:4]


CONV_PROGRAM = textwrap.dedent("""
    import torch

    # a vision patch embedding (bf16), then an f32 convolution with and without TF32, and its backward
    patch = torch.nn.Conv2d(3, 64, 14, stride=14).cuda().to(torch.bfloat16)
    patch(torch.randn(2, 3, 224, 224, device="cuda", dtype=torch.bfloat16))
    conv = torch.nn.Conv2d(16, 32, 3, padding=1).cuda()
    x = torch.randn(4, 16, 32, 32, device="cuda", requires_grad=True)
    torch.backends.cudnn.allow_tf32 = False
    conv(x)
    torch.backends.cudnn.allow_tf32 = True
    conv(x).sum().backward()
    # batch norm: training, then inference
    bn = torch.nn.BatchNorm2d(16).cuda()
    bn(x)
    bn.eval()
    bn(x)
    torch.cuda.synchronize()
    print("CHECK done 1", flush=True)
""")


def test_torch_convolution_and_batchnorm(tmp_path: Path):
    pytest.importorskip("torch")
    import sys
    prog = tmp_path / "conv.py"
    prog.write_text(CONV_PROGRAM)
    trace = tmp_path / "trace"
    r = revati_run(["--trace", str(trace)], [sys.executable, str(prog)])
    assert r.returncode == 0 and r.checks().get("done") == "1", r.stdout + r.stderr
    assert not cudnn_stubs_hit(trace)
    ev = cudnn_events(trace)
    gemms = [(e["args"]["epilogue"], e["args"]["m"], e["args"]["n"], e["args"]["k"], e["args"]["compute"])
             for e in ev if e["name"] == "cudnn gemm"]
    assert gemms == [
        ("conv_fwd", 2 * 16 * 16, 64, 3 * 14 * 14, "f32"),          # bf16 data, f32 accumulation
        ("conv_fwd", 4 * 32 * 32, 32, 16 * 9, "f32"),               # allow_tf32 off: the FMA engine
        ("conv_fwd", 4 * 32 * 32, 32, 16 * 9, "f32_fast_tf32"),     # allow_tf32 on: the TF32 engine
        ("conv_dgrad", 4 * 32 * 32, 16, 32 * 9, "f32_fast_tf32"),
        ("conv_wgrad", 32, 16 * 9, 4 * 32 * 32, "f32_fast_tf32"),
    ]
    assert [e["name"] for e in ev if "batchnorm" in e["name"]] == [
        "cudnn:batchnorm_fwd_training", "cudnn:batchnorm_fwd_inference"]


# ---------------------------------------------------------------- host time of the real library

BUILD_PROGRAM = textwrap.dedent("""
    import time
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    def call(kv_len):
        q = torch.randn(1, 8, 1, 64, device="cuda", dtype=torch.bfloat16)
        k = torch.randn(1, 8, kv_len, 64, device="cuda", dtype=torch.bfloat16)
        torch.cuda.synchronize()
        t = time.perf_counter()
        F.scaled_dot_product_attention(q, k, k)
        return (time.perf_counter() - t) * 1e3

    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        call(64)   # first use: handle creation and lazy initialisation
        new = [call(n) for n in (100, 101, 102)]      # a new shape: torch builds a new cuDNN plan
        same = [call(102) for _ in range(3)]          # cached in torch: no build
    print("CHECK new", " ".join(f"{x:.3f}" for x in new), flush=True)
    print("CHECK same", " ".join(f"{x:.3f}" for x in same), flush=True)
""")


def test_plan_builds_cost_the_real_librarys_host_time(tmp_path: Path):
    """Each new attention shape makes torch build a cuDNN execution plan; the real library spends
    tens of ms of host time on it (predictors/hardware/measured/library-host.json), the fake none:
    the calling thread is charged that time in virtual time, a cached shape is not."""
    pytest.importorskip("torch")
    import sys

    from predictors.catalog import library_host_costs

    costs, _ = library_host_costs("h100")
    build_ms = (costs["cudnn_plan_build_ns"] + costs["cudnn_heuristics_ns"] + costs["cudnn_opgraph_ns"]) / 1e6
    assert build_ms > 10
    prog = tmp_path / "build.py"
    prog.write_text(BUILD_PROGRAM)
    r = revati_run(["--gpu", "h100", *FIXED], [sys.executable, str(prog)])
    assert r.returncode == 0, r.stdout + r.stderr[-5000:]
    new = [float(x) for x in r.checks()["new"].split()]
    same = [float(x) for x in r.checks()["same"].split()]
    assert all(build_ms <= x < build_ms + 25 for x in new), (new, build_ms)
    assert all(x < 5 for x in same), same
