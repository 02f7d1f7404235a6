"""The kernel tables `revati-search kernels` compares: a real run's (torch.profiler trace) classed
as the emulation classes its own, and the report of their difference."""
from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

from revati_search import kernels

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "revati_search.cli"]
COPY = "void at::native::elementwise_kernel<128, 4, at::native::direct_copy_kernel_cuda(at::TensorIteratorBase&)>(int)"


def _kernel(name: str, dur_us: float, grid=(64, 1, 1), block=(128, 1, 1), cat: str = "kernel") -> dict:
    return {"ph": "X", "cat": cat, "name": name, "pid": 0, "tid": 7, "ts": 1.0, "dur": dur_us,
            "args": {"grid": list(grid), "block": list(block)}}


def real_trace() -> dict:
    return {"traceEvents": [
        _kernel("nvjet_tst_64x8_64x16_4x1_v_bz_TNT", 10.0, (32, 1, 1), (384, 1, 1)),
        _kernel("nvjet_tst_64x8_64x16_4x1_v_bz_TNT", 12.0, (32, 1, 1), (384, 1, 1)),
        _kernel("cudnn_generated_fort_native_sdpa_sm90_flash_fprop_wgmma_f16_knob_3_64x64x128_4x1x1", 30.0),
        _kernel(COPY, 5.0), _kernel(COPY, 7.0), _kernel(COPY, 50.0, grid=(4096, 1, 1)),
        {"ph": "X", "cat": "gpu_memset", "name": "Memset (Device)", "pid": 0, "tid": 7, "ts": 2.0, "dur": 1.0,
         "args": {"bytes": 64}},
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1, "ts": 0.5, "dur": 3.0},
    ]}


def test_a_real_trace_is_classed_as_the_emulation_classes_its_work() -> None:
    t = kernels.from_kineto(real_trace())
    assert t.mode == "real"
    assert {c: t.total_ns(c) for c in ("gemm", "attention", "kernel", "memset")} == \
        {"gemm": 22000, "attention": 30000, "kernel": 62000, "memset": 1000}
    copies = {r.grid: (r.count, r.total_ns) for r in t.rows if r.cls == "kernel"}
    assert copies == {(64, 1, 1): (2, 12000), (4096, 1, 1): (1, 50000)}   # one row per launch geometry
    assert t.total_ns() == 115000                                         # CPU-side calls are not device time


def test_report_ranks_the_largest_differences_and_the_cli_checks_modes(tmp_path: Path) -> None:
    real = kernels.from_kineto(real_trace())
    emulated = kernels.KernelTable("emulated", [
        kernels.KernelRow("gemm", "", count=2, total_ns=20000),
        kernels.KernelRow("attention", "", count=1, total_ns=31000),
        kernels.KernelRow("kernel", COPY, (64, 1, 1), (128, 1, 1), 2, 12000),
        kernels.KernelRow("kernel", COPY, (4096, 1, 1), (128, 1, 1), 1, 20000),
    ])
    diffs = kernels.compare(real, emulated)
    assert (diffs[0].cls, diffs[0].grid, diffs[0].delta_ns) == ("kernel", (4096, 1, 1), -30000)
    assert {(d.cls, d.delta_ns) for d in diffs[1:]} >= {("gemm", -2000), ("attention", 1000), ("memset", -1000)}
    (tmp_path / "real").mkdir()
    (tmp_path / "emu").mkdir()
    real.save(tmp_path / "real")
    emulated.save(tmp_path / "emu")
    p = subprocess.run([*CLI, "kernels", str(tmp_path / "real"), str(tmp_path / "emu"), "--top", "3"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert any(line.startswith("kernel") and "-48.4%" in line for line in lines)      # 62 -> 32 us
    assert any(line.startswith("all") and "-27.8%" in line for line in lines)         # 115 -> 83 us
    assert "elementwise_kernel<…>(int) [4096, 1, 1] [128, 1, 1]" in lines[-3]       # the largest difference first
    archived = tmp_path / "real.kernels.json.gz"      # as benchmarks/validation keeps them
    archived.write_bytes(gzip.compress((tmp_path / "real" / kernels.FILE).read_bytes()))
    assert kernels.KernelTable.load(archived).total_ns() == real.total_ns()
    p = subprocess.run([*CLI, "kernels", str(tmp_path / "emu"), str(tmp_path / "real")],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2 and "expected a real one" in p.stderr


def test_the_device_timeline_bridges_back_to_back_kernels_and_shows_the_hosts_turns(tmp_path: Path) -> None:
    """Busy intervals over all streams: kernels a few µs apart are one busy stretch, a longer gap is
    the host's turn; the report sets the two runs' idle time side by side."""
    def at(ts: float, dur: float, tid: int = 7) -> dict:
        return dict(_kernel(COPY, dur), ts=ts, tid=tid)

    real = kernels.from_kineto({"traceEvents": [at(100, 10), at(112, 8), at(115, 30, tid=9), at(245, 10),
                                                at(1245, 5)]})
    assert real.busy == [(0.0, 45.0), (145.0, 155.0), (1145.0, 1150.0)]
    assert real.idle_gaps_us() == [100.0, 990.0]
    (tmp_path / "real").mkdir()
    real.save(tmp_path / "real")
    assert kernels.KernelTable.load(tmp_path / "real").busy == real.busy
    emulated = kernels.KernelTable("emulated", real.rows, [(0.0, 45.0), (245.0, 255.0), (1445.0, 1450.0)])
    text = kernels.report(real, emulated)
    idle = next(line for line in text.splitlines() if line.strip().startswith("idle (the host's turns)"))
    assert idle.split()[-3:] == ["1.1", "1.4", "+27.5%"]     # 1090 µs real, 1390 µs emulated
