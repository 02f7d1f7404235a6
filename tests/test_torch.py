"""An unmodified CUDA build of torch on virtual GPUs (no GPU on this machine)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import ROOT, load_trace, revati_run
from predictors import load


def run_py(code: str, *args: str, timeout: float = 600) -> dict:
    """Runs code under the launcher; its last stdout line is JSON."""
    r = revati_run(list(args), [sys.executable, "-c", code], timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


PROPS = """
import ctypes, json, torch
p = torch.cuda.get_device_properties(0)
rt = ctypes.CDLL("libcudart.so.13")
buf = ctypes.create_string_buffer(2048)
assert rt.cudaGetDeviceProperties(buf, 0) == 0
print(json.dumps({"name": p.name, "major": p.major, "minor": p.minor, "sms": p.multi_processor_count,
                  "total": p.total_memory, "l2": p.L2_cache_size, "count": torch.cuda.device_count(),
                  "raw": buf.raw.hex(), "uuid1": str(torch.cuda.get_device_properties(1).uuid)}))
"""


def test_device_properties_are_the_real_devices(tmp_path):
    for key in ("h100", "h200"):
        hw = load(key)
        got = run_py(PROPS, "--gpu", key, "--gpus", "2")
        assert got["count"] == 2
        assert (got["name"], got["major"], got["minor"]) == (hw.name, hw.compute_capability.major, hw.compute_capability.minor)
        assert (got["sms"], got["total"], got["l2"]) == (hw.sm_count, hw.total_memory_bytes, hw.l2_cache_bytes)
        # cudaGetDeviceProperties is byte-for-byte what the real card reported (tools/probe_device.py)
        probe = json.loads((ROOT / f"predictors/hardware/measured/{key}-probe.json").read_text())
        size = 1008   # sizeof(struct cudaDeviceProp), CUDA 13
        assert got["raw"][: 2 * size] == probe["prop_hex"][: 2 * size]
        assert got["uuid1"] != hw.uuid   # each virtual device has its own identity


NO_REAL_LIBS = """
import ctypes, glob, json, os, torch
torch.zeros(1, device="cuda")
site = os.path.join(os.path.dirname(torch.__file__), "..", "nvidia")
ctypes.CDLL(glob.glob(os.path.join(site, "cu13", "lib", "libcudart.so.13"))[0])   # by path, as vLLM does
mapped = {line.split()[-1] for line in open("/proc/self/maps") if "/nvidia/" in line}
print(json.dumps(sorted(os.path.basename(m) for m in mapped)))
"""


def test_real_cuda_libraries_never_load():
    """torch preloads the nvidia-* wheel libraries by full path; every one we fake must be ours."""
    from interpose.build import LIBRARIES
    mapped = run_py(NO_REAL_LIBS)
    faked = {lib.soname(13) for lib in LIBRARIES}
    assert not faked & set(mapped), mapped


MEMORY = """
import json, torch
free0, total = torch.cuda.mem_get_info()
x = torch.empty(10 * 2**30, dtype=torch.uint8, device="cuda")
free1, _ = torch.cuda.mem_get_info()
try:
    torch.empty(free1 + 2**30, dtype=torch.uint8, device="cuda")
    oom = None
except torch.OutOfMemoryError as e:
    oom = str(e).splitlines()[0]
y = torch.empty(free1 - 2**30, dtype=torch.uint8, device="cuda")   # what fits does fit
v = torch.tensor([42.5, 1.0], device="cuda")
import resource
print(json.dumps({"free0": free0, "free1": free1, "total": total, "oom": oom, "item": v[0].item(),
                  "sum_of_host_data": (v * 1).cpu().tolist(),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""


def test_memory_info_out_of_memory_and_item():
    hw = load("h100")
    got = run_py(MEMORY)
    assert got["total"] == hw.total_memory_bytes
    assert got["free0"] <= hw.total_memory_bytes - hw.context_reserved_bytes
    assert got["free0"] - got["free1"] == 10 * 2**30
    assert got["oom"] and "CUDA out of memory" in got["oom"]
    assert got["item"] == 42.5                 # small buffers are real: host data round-trips
    assert got["rss_mb"] < 2048                # ~80 GB of virtual device memory costs no host memory


GRAPH = """
import json, torch
x = torch.zeros(1024, device="cuda")
s = torch.cuda.Stream()
g = torch.cuda.CUDAGraph()
s.wait_stream(torch.cuda.current_stream())
with torch.cuda.stream(s):
    x.add_(1)                       # warm up outside the capture
    with torch.cuda.graph(g, stream=s):
        for _ in range(5):
            x.add_(1)
torch.cuda.synchronize()
a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
x.add_(1)                           # the stream is busy: the start event lands after it
a.record()
g.replay()
g.replay()
b.record()
torch.cuda.synchronize()
print(json.dumps({"replay_ms": a.elapsed_time(b)}))
"""


def test_cuda_graph_replay_costs_the_captured_work(tmp_path):
    got = run_py(GRAPH, "--predictor", "fixed:1ms", "--trace", str(tmp_path))
    assert got["replay_ms"] == 10.0            # 2 replays x 5 captured kernels x 1 ms
    names = [e["name"] for f in tmp_path.glob("trace-*.json") for e in load_trace(f) if e.get("ph") == "X"]
    assert sum("elementwise" in n for n in names) >= 10 + 2   # replayed nodes + the 2 eager adds


COMPILE = """
import json, torch
@torch.compile
def f(x, y):
    return torch.sin(x) * y + 1.0
x = torch.randn(4096, device="cuda"); y = torch.randn(4096, device="cuda")
for _ in range(3):
    f(x, y)
torch.cuda.synchronize()
print(json.dumps({"ok": True}))
"""


def test_torch_compile_launches_triton_kernels(tmp_path):
    got = run_py(COMPILE, "--trace", str(tmp_path), timeout=900)
    assert got["ok"]
    names = [e["name"] for f in tmp_path.glob("trace-*.json") for e in load_trace(f) if e.get("ph") == "X"]
    assert any(n.startswith("triton_") for n in names), sorted(set(names))[:20]
    calls = {c["name"]: c for f in tmp_path.glob("api-*.json") for c in json.loads(f.read_text())["calls"]}
    assert calls["cuLaunchKernel"]["calls"] >= 3 or calls.get("cuLaunchKernelEx", {}).get("calls", 0) >= 3


def test_transformers_generate_batch_on_virtual_h100(tmp_path):
    """A Llama-shaped model (random weights, bf16, paged|sdpa) serves 8 requests; the engine sizes its
    KV cache from mem_get_info, so a bigger virtual GPU gets a bigger cache."""
    script = str(ROOT / "examples" / "generate_batch.py")
    results = {}
    for key in ("h100", "h200"):
        r = revati_run(["--gpu", key, "--trace", str(tmp_path / key)],
                       [sys.executable, script, "--requests", "8", "--new-tokens", "16"], timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
        results[key] = json.loads(r.stdout.strip().splitlines()[-1])
    h100, h200 = results["h100"], results["h200"]
    assert h100["completed"] == 8 and h100["generated_tokens"] == 8 * 16
    assert h100["max_rss_mb"] < 2048
    assert 0.5 * load("h100").total_memory_bytes < h100["max_memory_allocated"] < load("h100").total_memory_bytes
    assert h200["max_memory_allocated"] > 1.5 * h100["max_memory_allocated"]
    events = [e for f in (tmp_path / "h100").glob("trace-*.json") for e in load_trace(f) if e.get("ph") == "X"]
    assert any(e["name"] == "cudnn attention" for e in events)
    assert any(e["name"].endswith("gemm") for e in events)


VISIBLE = """
import json, torch
props = [torch.cuda.get_device_properties(i) for i in range(torch.cuda.device_count())]
print(json.dumps({"count": len(props), "uuids": [str(p.uuid) for p in props], "buses": [p.pci_bus_id for p in props]}))
"""


def test_cuda_visible_devices_selects_physical_devices():
    every = run_py(VISIBLE, "--gpus", "4")
    assert every["count"] == 4 and len(set(every["uuids"])) == 4
    for visible in ("3,1", f"GPU-{every['uuids'][3]},GPU-{every['uuids'][1]}"):   # by index, by UUID
        r = revati_run(["--gpus", "4"], [sys.executable, "-c", VISIBLE], env={"CUDA_VISIBLE_DEVICES": visible})
        assert r.returncode == 0, r.stderr[-2000:]
        some = json.loads(r.stdout.strip().splitlines()[-1])
        assert some["uuids"] == [every["uuids"][3], every["uuids"][1]], visible
        assert some["buses"] == [3, 1]


GROUPED_MM = """
import json, torch
def moe(rows, groups, n, k):
    a = torch.randn(rows, k, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(groups, n, k, device="cuda", dtype=torch.bfloat16).transpose(1, 2)   # experts [G, K, N]
    offs = torch.arange(1, groups + 1, device="cuda", dtype=torch.int32) * (rows // groups)
    return torch._grouped_mm(a, w, offs=offs)
out = moe(64, 4, 512, 256)                   # 2d x 3d, as transformers' MoE experts call it
a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
a.record(); moe(64, 8, 14336, 4096); b.record()   # decode-sized: all eight experts' weights read
moe(4, 8, 14336, 4096)                       # 4 routed rows: about 3 of 8 experts get any
torch.cuda.synchronize()
print(json.dumps({"shape": list(out.shape), "big_ms": a.elapsed_time(b)}))
"""


def test_grouped_mm_is_priced_as_the_gemms_of_its_groups(tmp_path):
    """torch._grouped_mm's cutlass kernel has one grid for any size; its prepare kernel's arguments
    (M, N, K, shapes, group count) make it a batched GEMM of the groups expected to get rows."""
    got = run_py(GROUPED_MM, "--trace", str(tmp_path))
    assert got["shape"] == [64, 512]
    gemms = [e for f in tmp_path.glob("trace-*.json") for e in load_trace(f)
             if e.get("ph") == "X" and e.get("name") == "grouped_mm gemm"]
    shapes = [(g["args"]["m"], g["args"]["n"], g["args"]["k"], g["args"]["batch"]) for g in gemms]
    assert (16, 512, 256, 4) in shapes and (8, 14336, 4096, 8) in shapes and (2, 14336, 4096, 3) in shapes
    big = next(g for g in gemms if g["args"]["batch"] == 8)
    # at least the time to read 8 x 14336 x 4096 bf16 weights at the H100's memory bandwidth
    weights = 8 * 14336 * 4096 * 2
    assert big["dur"] * 1e-6 >= weights / load("h100").memory_bandwidth_bytes_per_s * 0.9
    assert not any("GroupProblemShape" in e.get("name", "") for f in tmp_path.glob("trace-*.json")
                   for e in load_trace(f) if e.get("ph") == "X")


REDUCTIONS = """
import torch
for rows, cols, dtype in [(1024, 2048, torch.float32), (16, 1024, torch.bfloat16), (4096, 14336, torch.float32), (7, 300, torch.float32)]:
    x = torch.randn(rows, cols, device="cuda", dtype=dtype)
    x.mean(-1); x.argmax(-1); x.sum(0)
torch.cuda.synchronize()
print("{}")
"""


def test_reductions_are_priced_by_the_sizes_their_arguments_carry(tmp_path):
    """torch's reduce_kernel caps its grid (a 1024 x 2048 and a 4096 x 14336 mean may share one), so
    the interposer reads the outputs and elements from its ReduceOp argument and the predictor prices
    the reduction by them: a 28x larger input costs several times as much under the same geometry."""
    run_py(REDUCTIONS, "--trace", str(tmp_path))
    reds = [e for f in tmp_path.glob("trace-*.json") for e in load_trace(f)
            if e.get("ph") == "X" and "reduce_kernel" in e.get("name", "")]
    shapes = {(e["args"].get("outputs"), e["args"].get("elements")) for e in reds}
    for rows, cols in [(1024, 2048), (16, 1024), (4096, 14336), (7, 300)]:
        assert (rows, rows * cols) in shapes          # x.mean(-1), x.argmax(-1): one output per row
        assert (cols, rows * cols) in shapes          # x.sum(0): one per column
    mean = {e["args"]["outputs"]: e["dur"] for e in reds if "MeanOps" in e["name"]}
    # at least reading 4096 x 14336 floats at the H100's memory bandwidth, and far above the small one
    assert mean[4096] * 1e-6 >= 4096 * 14336 * 4 / load("h100").memory_bandwidth_bytes_per_s * 0.9
    assert mean[4096] > 5 * mean[1024] > 5 * mean[16] * 0.9


def test_cuda_graphs_cost_the_real_drivers_host_time_to_instantiate_and_upload():
    """The real driver spends host time per node instantiating a graph (~2.4 us on the H100 hosts)
    and uploading it at its first launch (~1 us), where the interposer spends almost none: both are
    charged as virtual time (predictors/hardware/measured/library-host.json), so a serving run that
    captures a new graph shape pays what the real one pays (tools/graph_host_cost.py, same script on
    the real GPU)."""
    from predictors.catalog import library_host_costs
    from timekeeper import calibrate

    r = revati_run([], [sys.executable, str(ROOT / "tools/graph_host_cost.py"), "--nodes", "300,3000", "--reps", "3"])
    assert r.returncode == 0, r.stderr[-3000:]
    us = json.loads(r.stdout.strip().splitlines()[-1])["us"]
    scale = calibrate.cpu_scale("h100")[0] / calibrate.measured_host_scale("h100")
    costs, _ = library_host_costs("h100")
    per_node = costs["graph_instantiate_ns_per_node"] * scale / 1e3
    upload = costs["graph_upload_ns_per_node"] * scale / 1e3
    grown = us["3000"]["instantiate"] - us["300"]["instantiate"]
    assert 0.9 * 2700 * per_node <= grown <= 1.5 * 2700 * per_node, (grown, per_node)
    first = us["3000"]["first_replay"] - us["3000"]["replay"]
    assert 0.9 * 3000 * upload <= first <= 1.5 * 3000 * upload, (first, upload)
