"""The fake cuBLAS and cuBLASLt: C programs call them directly (shapes, dtypes, epilogues, handle state,
errors, stream timing, graph capture), then unmodified torch calls them through the launcher.

GEMMs are recorded in the row-major sense of the caller (torch, numpy): `x @ w` with x [M, K] and
w [K, N] records (m, n, k) = (M, N, K), although torch asks column-major cuBLAS for the transposed
product (abi/cublas.h explains the mapping)."""
from __future__ import annotations

import json
import os
import socketserver
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import NATIVE, ROOT, load_trace, revati_run

NS = 1_000_000   # every op lasts 1 ms: event timings are exact sums


class RecordingPredictor:
    """A predictor service that answers NS for everything and keeps each request the core sends."""

    def __init__(self, path: Path):
        self.path = path
        self.requests: list[dict] = []
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for line in self.rfile:
                    owner.requests.append(json.loads(line))
                    self.wfile.write(b'{"ns":%d}\n' % NS)

        self.server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def blas_programs(tmp_path_factory: pytest.TempPathFactory, lib_dir: Path) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("blas")
    built = {}
    for src in sorted(NATIVE.glob("cublas*.c")):
        target = out / src.stem
        subprocess.run(["gcc", "-std=gnu11", "-Wall", "-DRV_CUDA_MAJOR=13",
                        f"-I{ROOT / 'interpose/native/include'}", "-I/usr/local/cuda/include", "-o", str(target),
                        str(src), f"-L{lib_dir}", "-lcublas", "-lcublasLt", "-lcudart"], check=True)
        built[src.stem] = target
    return built


def run_direct(program: Path, lib_dir: Path, tmp_path: Path,
               env: dict[str, str] | None = None) -> tuple[dict[str, str], list[dict], list[dict]]:
    """Runs a test program on one virtual H100 with the recording predictor: its CHECK lines, the
    requests the predictor saw, and the trace's events in the order they were written."""
    from predictors.catalog import load
    hw = tmp_path / "hw.txt"
    hw.write_text(load("h100").native_config(1))
    trace_dir = tmp_path / "trace"
    trace_dir.mkdir()
    pred = RecordingPredictor(tmp_path / "pred.sock")
    try:
        full = {**os.environ, "LD_LIBRARY_PATH": str(lib_dir), "REVATI_HARDWARE": str(hw),
                "REVATI_PREDICTOR": str(pred.path), "REVATI_TRACE_DIR": str(trace_dir), **(env or {})}
        p = subprocess.run([str(program)], env=full, capture_output=True, text=True, timeout=60)
    finally:
        pred.close()
    assert p.returncode == 0, p.stdout + p.stderr
    checks = dict(line.split(" ", 2)[1:] for line in p.stdout.splitlines() if line.startswith("CHECK "))
    assert checks.get("done") == "1", p.stdout + p.stderr
    (trace,) = trace_dir.glob("trace-*.json")
    return checks, pred.requests, [e for e in load_trace(trace) if e.get("ph") == "X"]


def gemms(events: list[dict]) -> list[tuple]:
    """(library, m, n, k, batch, dtype, epilogue) of each recorded GEMM, in trace order."""
    return [(e["name"].split()[0], e["args"]["m"], e["args"]["n"], e["args"]["k"], e["args"]["batch"],
             e["args"]["dtype"], e["args"]["epilogue"]) for e in events if e["name"].endswith(" gemm")]


def request(lib: str, m: int, n: int, k: int, dtypes: str, compute: str, trans_a=False, trans_b=False, batch=1,
            epilogue="none") -> dict:
    a, b, c = dtypes.replace("->", "/").split("/")
    return {"op": "gemm", "device": 0, "library": lib, "m": m, "n": n, "k": k, "batch": batch, "trans_a": trans_a,
            "trans_b": trans_b, "dtype_a": a, "dtype_b": b, "dtype_c": c, "compute": compute, "epilogue": epilogue}


def test_cublas_direct(blas_programs, lib_dir, tmp_path):
    c, requests, events = run_direct(blas_programs["cublas_gemm"], lib_dir, tmp_path)
    assert c["create_mib"] == "64"                       # cublasCreate's own workspace pool (Hopper)
    assert c["destroy_returns_workspace"] == "1"
    assert c["version"] == "130101" and c["property"] == "13.1.1" and c["cudart_version"] == "13000"
    assert c["status_name_7"] == "CUBLAS_STATUS_INVALID_VALUE"
    assert c["status_string_7"] == "an unsupported value or parameter was passed to the function"
    assert c["status_name_99"] == "unrecognized status"
    assert c["defaults"] == "0 0 1 0"                    # math mode, pointer mode, NULL stream, sm target
    assert c["stream_roundtrip"] == "1" and c["sm_count_target"] == "100"
    assert c["dot_host_result"] == "0"
    assert (c["bad_lda"], c["bad_trans"], c["null_handle"], c["negative_k"], c["empty_m"]) == ("7", "7", "1", "7", "0")
    assert c["gemm_us"] == "1000"                        # one GEMM of 1 ms on the handle's stream
    assert c["graph_nodes"] == "2" and c["dot_host_in_capture"] == "14"   # as cuBLAS 13.1 answers
    assert c["graph_us"] == "4000"                       # two replays of two captured GEMMs

    L = "cublas"
    sgemm = (L, 64, 32, 128, 1, "f32/f32->f32", "none")
    linear = (L, 64, 32, 128, 1, "bf16/bf16->bf16", "none")
    expected = [
        sgemm, linear,
        (L, 64, 32, 128, 1, "f16/f16->f32", "none"),
        (L, 24, 16, 40, 7, "bf16/bf16->bf16", "none"),
        (L, 16, 8, 32, 1, "f16/f16->f16", "none"),
        (L, 16, 8, 32, 1, "f64/f64->f64", "none"),
        (L, 16, 8, 32, 1, "bf16/bf16->f32", "none"),
        (L, 16, 8, 32, 3, "f32/f32->f32", "none"),
        (L, 16, 8, 32, 5, "f32/f32->f32", "none"),
        (L, 16, 8, 32, 2, "f16/f16->f16", "none"),
        sgemm,                                            # TF32 math mode: same shape, other compute
        (L, 1, 64, 128, 1, "f32/f32->f32", "none"),       # gemv
        (L, 1, 1, 100, 1, "f32/f32->f32", "none"),        # dot
        (L, 1, 1, 200, 1, "bf16/bf16->bf16", "none"),     # DotEx
        (L, 64, 32, 0, 1, "bf16/bf16->bf16", "none"),     # k = 0
        (L, 16, 8, 32, 1, "cf32/cf32->cf32", "none"),     # Cgemm
        sgemm, linear,                                    # timing
        sgemm, sgemm, linear, sgemm, linear,              # warm-up, then two graph replays
        (L, 4, 4, 4, 1, "f32/f32->f32", "none"),          # on the legacy stream
    ]
    assert gemms(events) == expected

    # the host waited after the host-pointer-mode dot (its result is read on return)
    names = [e["name"] for e in events]
    dot = [i for i, e in enumerate(events) if e.get("args", {}).get("k") == 100][0]
    assert names[dot + 1] == "stream sync"
    # the handle's stream, then the legacy default stream (lane 1) after cublasSetStream(NULL)
    lanes = [e["tid"] for e in events if e["name"].endswith(" gemm")]
    assert len(set(lanes[:-1])) == 1 and lanes[-1] == 1 != lanes[0]

    # what the predictor was asked: transposes and compute types in the row-major sense
    assert request(L, 64, 32, 128, "f32/f32->f32", "f32") in requests
    assert request(L, 64, 32, 128, "f32/f32->f32", "f32_fast_tf32") in requests
    assert request(L, 64, 32, 128, "bf16/bf16->bf16", "f32", trans_b=True) in requests
    assert request(L, 24, 16, 40, "bf16/bf16->bf16", "f32", trans_a=True, batch=7) in requests
    assert request(L, 16, 8, 32, "f16/f16->f16", "f16") in requests
    assert request(L, 16, 8, 32, "f16/f16->f16", "f16", batch=2) in requests
    assert request(L, 1, 64, 128, "f32/f32->f32", "f32", trans_b=True) in requests
    assert request(L, 16, 8, 32, "cf32/cf32->cf32", "f32", trans_a=True) in requests
    assert len(requests) == len({json.dumps(r, sort_keys=True) for r in requests})   # asked once each
    assert_predictor_accepts(requests)


def test_cublas_workspace_config(blas_programs, lib_dir, tmp_path):
    """CUBLAS_WORKSPACE_CONFIG sizes cublasCreate's pool, as on the real library (32 MiB here)."""
    c, _, _ = run_direct(blas_programs["cublas_gemm"], lib_dir, tmp_path, {"CUBLAS_WORKSPACE_CONFIG": ":4096:8"})
    assert c["create_mib"] == "32" and c["destroy_returns_workspace"] == "1"


def test_cublaslt_direct(blas_programs, lib_dir, tmp_path):
    c, requests, events = run_direct(blas_programs["cublasLt_matmul"], lib_dir, tmp_path)
    assert c["version"] == "130101" and c["cudart_version"] == "13000"
    assert c["status_name_15"] == "CUBLAS_STATUS_NOT_SUPPORTED"
    assert c["status_string_15"] == "the requested functionality is not supported"
    assert c["pref_default_align"] == "256 4"
    assert c["desc_epilogue"] == "4 4" and c["desc_transa_size"] == "4"
    assert c["desc_set_wrong_size"] == c["desc_get_wrong_size"] == c["desc_unknown_attr"] == "7"
    assert c["desc_fast_accum_int8"] == "0"              # torch's int8_t flag is accepted
    assert c["desc_aux_type_default"] == "-1"
    assert c["layout_batch_default"] == "1" and c["layout_rows"] == "128 8" and c["layout_batch_int64"] == "7"
    assert c["heuristic"] == "1 0 1 1"                   # one result, success, 1 wave, workspace within max
    assert c["heuristic_zero_requested"] == "7"
    assert c["mismatch_heuristic"] == c["mismatch_matmul"] == "7"
    assert c["algo_config"] == "5 20 2" and c["algo_check"] == "0 0"
    assert c["algo_cap_epilogues"] == "1023" and c["algo_check_blank"] == "7"
    assert c["matmul_us"] == "1000"
    assert c["own_handle_heuristic"] == "1" and c["null_handle"] == "1"

    L = "cublasLt"
    int8 = (L, 48, 32, 64, 1, "i8/i8->i32")
    assert gemms(events) == [
        (L, 64, 32, 128, 1, "bf16/bf16->bf16", "bias"),           # nn.Linear with bias
        (L, 64, 32, 128, 4, "bf16/bf16->bf16", "bias_gelu_aux"),
        (L, 64, 32, 128, 1, "f16/f16->f16", "none"),              # row-major layouts
        (L, 16, 512, 256, 1, "f8e4m3/f8e4m3->bf16", "none"),
        (*int8, "none"), (*int8, "bgradb"), (*int8, "none"), (*int8, "none"),
    ]
    lanes = [e["tid"] for e in events if e["name"].endswith(" gemm")]
    assert len(set(lanes[:5])) == 1 and len(set(lanes[5:])) == 1 and lanes[0] != lanes[5]   # stream argument

    assert request(L, 64, 32, 128, "bf16/bf16->bf16", "f32", trans_b=True, epilogue="bias") in requests
    assert request(L, 64, 32, 128, "f16/f16->f16", "f32") in requests
    assert request(L, 16, 512, 256, "f8e4m3/f8e4m3->bf16", "f32", trans_b=True) in requests
    assert request(L, 48, 32, 64, "i8/i8->i32", "i32", epilogue="bgradb") in requests
    assert_predictor_accepts(requests)


def assert_predictor_accepts(requests: list[dict]) -> None:
    """Every request validates against the predictor's operation schema (complex dtypes aside: the
    predictor does not model them yet)."""
    from predictors.ops import parse_op
    for r in requests:
        if r["dtype_a"].startswith("c"):
            continue
        parse_op({**{k: v for k, v in r.items() if k != "op"}, "kind": r["op"]})


# ---------- unmodified torch on virtual GPUs (runs in a subprocess under the launcher) ----------

TORCH_SCRIPT = """
import torch, torch.nn as nn
x = torch.randn(64, 128, device="cuda", dtype=torch.bfloat16)
w = torch.randn(128, 32, device="cuda", dtype=torch.bfloat16)
y = x @ w
lin = nn.Linear(128, 32, bias=True).to("cuda", torch.bfloat16)
z = lin(x)
z3 = lin(torch.randn(2, 64, 128, device="cuda", dtype=torch.bfloat16))
b = torch.bmm(torch.randn(4, 64, 128, device="cuda"), torch.randn(4, 128, 32, device="cuda"))
torch.cuda.synchronize()
print("shapes", tuple(y.shape), tuple(z.shape), tuple(z3.shape), tuple(b.shape))
"""


def test_torch_matmul_and_linear(tmp_path):
    r = revati_run(["--trace", str(tmp_path)], [sys.executable, "-c", TORCH_SCRIPT], timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "shapes (64, 32) (64, 32) (2, 64, 32) (4, 64, 32)" in r.stdout
    (trace,) = tmp_path.glob("trace-*.json")
    assert gemms([e for e in load_trace(trace) if e.get("ph") == "X"]) == [
        ("cublas", 64, 32, 128, 1, "bf16/bf16->bf16", "none"),     # x @ w
        ("cublasLt", 64, 32, 128, 1, "bf16/bf16->bf16", "bias"),   # Linear: bias epilogue
        ("cublasLt", 128, 32, 128, 1, "bf16/bf16->bf16", "bias"),  # 3-D input folded to 128 rows
        ("cublas", 64, 32, 128, 4, "f32/f32->f32", "none"),        # bmm
    ]
    calls = {c["name"]: c for c in json.loads(next(tmp_path.glob("api-*.json")).read_text())["calls"]
             if "blas" in c["lib"]}
    assert not [n for n, c in calls.items() if c["stub"]], calls
    assert {"cublasCreate_v2", "cublasGemmEx", "cublasLtMatmul", "cublasLtMatmulAlgoGetHeuristic"} <= set(calls)
