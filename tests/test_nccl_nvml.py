"""The fake NCCL and NVML: C programs against the libraries' own APIs, then unmodified torch
(device discovery through NVML, torch.distributed over NCCL across 2 processes) on virtual GPUs."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import NATIVE, ROOT, load_trace, revati_run

FIXED = ["--predictor", "fixed:1ms"]
PROBES = ROOT / "predictors" / "hardware" / "measured"


def nccl_include() -> Path:
    try:
        import nvidia.nccl
    except ImportError:
        pytest.fail("nvidia-nccl wheel not installed (torch's CUDA dependencies): the NCCL test program builds against its nccl.h")
    return Path(list(nvidia.nccl.__path__)[0]) / "include"


@pytest.fixture(scope="session")
def nccl_programs(tmp_path_factory: pytest.TempPathFactory, lib_dir: Path) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("nccl_nvml")
    builds = {
        "nvml_query": [f"-I{ROOT / 'interpose' / 'native' / 'include'}", "-lnvidia-ml"],
        "nccl_ops": [f"-I{nccl_include()}", "-I/usr/local/cuda/include", "-lnccl", "-lcudart"],
    }
    built = {}
    for name, flags in builds.items():
        target = out / name
        src = NATIVE / f"{name}.c"
        libs = [f for f in flags if f.startswith("-l")]
        incs = [f for f in flags if not f.startswith("-l")]
        p = subprocess.run(["gcc", "-Wall", "-Werror", *incs, "-o", str(target), str(src), f"-L{lib_dir}", *libs],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        built[name] = target
    return built


def collectives(trace_dir: Path) -> dict[int, list[tuple[str, int, int, int]]]:
    """(name, bytes, ranks, device) of every collective, per process."""
    out = {}
    for path in sorted(trace_dir.glob("trace-*.json")):
        pid = int(path.stem.split("-")[1])
        out[pid] = [(e["name"], e["args"]["bytes"], e["args"]["ranks"], e["args"]["device"])
                    for e in load_trace(path) if e.get("ph") == "X" and "ranks" in e.get("args", {})]
    return out


def stub_hits(trace_dir: Path, libs: tuple[str, ...] = ("libnccl.so.2", "libnvidia-ml.so.1")) -> list[str]:
    hits = []
    for path in trace_dir.glob("api-*.json"):
        hits += [c["name"] for c in json.loads(path.read_text())["calls"] if c["stub"] and c["lib"] in libs]
    return hits


# ---------------------------------------------------------------- NVML

def test_nvml_describes_the_virtual_machine(nccl_programs):
    r = revati_run(["--gpus", "2"], [str(nccl_programs["nvml_query"])])
    assert r.returncode == 0, r.stdout + r.stderr
    c = r.checks()
    assert c["done"] == "1"
    assert c["uninitialized"] == "1"                      # NVML_ERROR_UNINITIALIZED before nvmlInit
    assert c["count"] == "2"
    assert c["bad_index"] == "2" and c["small_buffer"] == "7"   # invalid argument, insufficient size
    assert c["uuid0"] == "GPU-de6a80b2-7d32-3d3c-ba00-481da5546d7e"   # the measured H100's
    assert c["uuid1"] == "GPU-de6a80b2-7d32-3d3c-ba00-481da5546d7f"   # distinct per device
    for i in (0, 1):
        assert c[f"index{i}"] == str(i) and c[f"minor{i}"] == str(i)
        assert c[f"by_uuid{i}"] == "1" and c[f"by_bus_id{i}"] == "1"
        assert c[f"bus_id{i}"] == f"00000000:0{i}:00.0" and c[f"bus_id_legacy{i}"] == f"0000:0{i}:00.0"
        assert c[f"pci_device_id{i}"] == "0x233010de"
        total, free, used = (int(c[f"mem_{k}{i}"]) for k in ("total", "free", "used"))
        assert total == free + used
        t2, reserved, f2, u2 = (int(c[f"mem2_{k}{i}"]) for k in ("total", "reserved", "free", "used"))
        assert (t2, f2) == (total, free) and t2 == reserved + f2 + u2
        assert t2 - reserved == 85017493504               # what cudaMemGetInfo calls total
    assert c["mem2_bad_version"] == "25"                  # NVML_ERROR_ARGUMENT_VERSION_MISMATCH
    assert c["cc"] == "9.0" and c["arch"] == "9" and c["brand"] == "14"
    assert c["p2p_nvlink"] == "0" and c["topology"] == "40"      # P2P OK over NVLink, same NUMA node
    assert c["nvlink0"] == "1" and c["nvlink_bad"] == "2"
    assert c["numa"] == "0" and c["affinity_nonzero"] == "1"
    assert c["sm_clock"] == c["max_sm_clock"]
    assert c["utilization"] == "0 0" and c["processes"] == "0" and c["mig"] == "0 0"
    assert c["persistence"] == "1" and c["events_nonzero"] == "1"
    assert c["fan"] == "3"                                # SXM boards have no fans: not supported
    assert "no emulated behaviour" not in r.stderr
    assert c["after_shutdown"] == "1" and c["shutdown_twice"] == "1"


@pytest.mark.parametrize("gpu", ["h100", "h200"])
def test_nvml_matches_the_measured_gpu(nccl_programs, gpu):
    """Memory (total > cudaMemGetInfo's total by the driver's reservation), name, capability, driver,
    clocks and power limit as nvidia-ml-py read them on the real GPU."""
    probe = json.loads((PROBES / f"{gpu}-probe.json").read_text())
    r = revati_run(["--gpu", gpu], [str(nccl_programs["nvml_query"])])
    assert r.returncode == 0, r.stdout + r.stderr
    c = r.checks()
    assert [int(c["mem_total0"]), int(c["mem_free0"]), int(c["mem_used0"])] == probe["nvml_mem"]
    assert c["name0"] == probe["nvml_name"]
    assert c["cc"] == "{}.{}".format(*probe["nvml_cc"])
    assert c["driver"] == probe["nvml_driver"]
    assert int(c["cuda_driver"]) == probe["nvml_cuda_driver"]
    assert int(c["max_graphics_clock"]) == probe["nvml_max_clock_graphics_mhz"]
    assert int(c["max_sm_clock"]) == probe["nvml_max_clock_sm_mhz"]
    assert int(c["max_mem_clock"]) == probe["nvml_max_clock_mem_mhz"]
    assert int(c["power_limit"]) == probe["nvml_power_limit_mw"]
    assert c["uuid0"] == "GPU-" + probe["torch_props"]["uuid"]


# ---------------------------------------------------------------- NCCL (C)

def test_nccl_single_rank(nccl_programs, tmp_path):
    r = revati_run([*FIXED, "--gpus", "2", "--trace", str(tmp_path)], [str(nccl_programs["nccl_ops"]), "single"])
    assert r.returncode == 0, r.stdout + r.stderr
    c = r.checks()
    assert c["done"] == "1"
    assert c["version"] == "23007"                        # nvidia-nccl-cu13 2.30.7
    assert c["ids_differ"] == "1" and c["async"] == "0"
    assert (c["count"], c["cudevice"], c["rank"]) == ("1", "0", "0")
    assert c["allgather_copy"] == "1"                     # a 1-rank all_gather is a local copy
    assert float(c["p2p_serial_ms"]) == 2.0               # send then recv, ungrouped
    assert float(c["p2p_grouped_ms"]) == 1.0              # grouped: both directions at once
    assert float(c["coll_grouped_ms"]) == 2.0             # grouped collectives still add up
    assert float(c["simulate_us"]) == 1000.0
    assert float(c["graph_replay_ms"]) == 2.0             # a captured all_reduce, replayed twice
    assert c["memalloc_charged"] == str(1 << 30) and c["memfree_returned"] == "1"
    assert c["window_ptr"] == "1" and c["premulsum_op"] == "1"
    assert c["null_comm"] == "4" and c["bad_type"] == "4" and c["bad_root"] == "4"   # ncclInvalidArgument
    assert c["bad_init_rank"] == "4" and c["group_end_alone"] == "5"                # ncclInvalidUsage
    assert c["last_error_set"] == "1" and c["after_destroy"] == "4"
    assert c["error_string"].startswith("invalid argument")

    (ops,) = collectives(tmp_path).values()
    assert ops[:9] == [
        ("all_gather", 4096, 1, 0), ("all_reduce", 4000, 1, 0), ("broadcast", 200, 1, 0),
        ("broadcast", 7, 1, 0), ("reduce", 128, 1, 0), ("reduce_scatter", 64, 1, 0),
        ("all_to_all", 8, 1, 0), ("send", 16, 1, 0), ("recv", 16, 1, 0),
    ]
    assert not stub_hits(tmp_path)


def test_nccl_init_all_and_grouped_split(nccl_programs):
    r = revati_run([*FIXED, "--gpus", "2"], [str(nccl_programs["nccl_ops"]), "multi"])
    assert r.returncode == 0, r.stdout + r.stderr
    c = r.checks()
    assert c["done"] == "1"
    assert c["comm0"] == "0/2@0" and c["comm1"] == "1/2@1"
    assert c["swapped0"] == "1/2" and c["swapped1"] == "0/2"     # split keys reverse the order
    assert c["alone0"] == "1" and c["nocolor_null"] == "1"
    assert c["shrunk"] == "0/1"


def test_nccl_two_processes(nccl_programs, tmp_path):
    r = revati_run([*FIXED, "--gpus", "2", "--trace", str(tmp_path)], [str(nccl_programs["nccl_ops"]), "fork"])
    assert r.returncode == 0, r.stdout + r.stderr
    c = r.checks()
    assert c["done"] == "1" and c["child_ok"] == "1"
    assert c["fork_rank0_split"] == "1/2" and c["fork_rank1_split"] == "0/2"
    assert c["fork_rank0_solo"] == "1" and c["fork_rank1_solo"] == "1"
    per_process = collectives(tmp_path)
    assert len(per_process) == 2
    by_device = {ops[0][3]: ops for ops in per_process.values()}
    for dev in (0, 1):
        assert by_device[dev] == [("all_reduce", 4 << 20, 2, dev), ("all_gather", 4 << 20, 2, dev)]


def test_nccl_ranks_meet_on_the_shared_clock(nccl_programs, tmp_path):
    """Rank 1's stream is 5 ms behind: rank 0's all_reduce starts when rank 1 arrives. Grouped
    send/recv both ways and an ungrouped one-way send/recv pair meet without deadlock."""
    r = revati_run([*FIXED, "--gpus", "2", "--trace", str(tmp_path)], [str(nccl_programs["nccl_ops"]), "skew"])
    assert r.returncode == 0, r.stdout + r.stderr
    c = r.checks()
    assert c["done"] == "1" and c["child_ok"] == "1"
    # waited for rank 1 (its 5 ms of queued work, less however much its own host time is behind rank
    # 0's: each process's clock follows its own CPU), then 1 ms
    assert 4.5 <= float(c["skew_rank0_ms"]) < 7.0
    assert float(c["skew_rank1_ms"]) == pytest.approx(1.0, abs=0.05)
    for rank in (0, 1):
        assert 1.95 <= float(c[f"p2p_rank{rank}_ms"]) < 4.0   # fused pair (1 ms) + one-way (1 ms)
    ends = {}
    for path in tmp_path.glob("trace-*.json"):
        for e in load_trace(path):
            if e.get("name") == "all_reduce" and e.get("ph") == "X":
                ends[e["args"]["device"]] = e["ts"] + e["dur"]
    assert abs(ends[0] - ends[1]) < 20                     # µs: both ranks finish together


def test_nccl_back_to_back_collectives_all_meet(nccl_programs):
    """20k all_reduces in a row on 2 processes (64 per step of a tensor-parallel 8B model): a rank
    that leaves one rendezvous and reaches the next while the other is still leaving must meet it in
    the same place (the rendezvous table once split such a pair, and both ranks waited forever).
    And the clock must not jump meanwhile: a rank its peer has woken is runnable before it marks its
    wait over, and while it waited for a core the timekeeper once saw every thread blocked and
    jumped to another thread's far deadline (10 s here; torch's NCCL watchdog's in an engine)."""
    r = revati_run([*FIXED, "--gpus", "2", "--cpu-scale", "1"], [str(nccl_programs["nccl_ops"]), "storm", "20000"],
                   timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    c = r.checks()
    assert c["storm_rank0"] == c["storm_rank1"] == "20000"
    assert c["done"] == "1" and c["child_ok"] == "1"
    for rank in (0, 1):   # the host's virtual time in the loop is its CPU time (the GPU never holds it back)
        host, cpu = int(c[f"storm_host_ns_rank{rank}"]), int(c[f"storm_cpu_ns_rank{rank}"])
        assert host < 1.5 * cpu + 20_000_000, (rank, host, cpu)


# ---------------------------------------------------------------- torch

def torch_run(args: list[str], script: str, tmp_path: Path, env: dict[str, str] | None = None):
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(script))
    return revati_run(args, [sys.executable, str(path)], env=env)


DEVICES = """
    import torch
    import torch.cuda
    n = torch.cuda.device_count()
    print("CHECK count", n)
    print("CHECK names", "|".join(torch.cuda.get_device_name(i) for i in range(n)))
    nvml = torch.cuda._raw_device_uuid_nvml()
    cuda = ["GPU-" + str(torch.cuda.get_device_properties(i).uuid) for i in range(n)]
    print("CHECK uuids_agree", int(nvml == cuda))
    print("CHECK nvml_uuid1", nvml[1])
"""


def test_torch_counts_and_names_virtual_gpus(tmp_path):
    r = torch_run(["--gpus", "2"], DEVICES, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    c = r.checks()
    assert c["count"] == "2"
    assert c["names"] == "NVIDIA H100 80GB HBM3|NVIDIA H100 80GB HBM3"
    assert c["uuids_agree"] == "1"                        # NVML and the CUDA runtime agree per device

    # CUDA_VISIBLE_DEVICES by UUID: torch resolves it through NVML
    r2 = torch_run(["--gpus", "2"], "import torch\nprint('CHECK count', torch.cuda.device_count())\n", tmp_path,
                   env={"CUDA_VISIBLE_DEVICES": c["nvml_uuid1"]})
    assert r2.returncode == 0, r2.stdout + r2.stderr
    assert r2.checks()["count"] == "1"


def test_torch_monitoring_through_pynvml(tmp_path):
    import pynvml  # noqa: F401  (nvidia-ml-py, in the test extra: torch's monitoring calls use it)
    r = torch_run(["--gpus", "2"], """
        import torch, pynvml
        print("CHECK utilization", torch.cuda.utilization(1))
        print("CHECK temperature", torch.cuda.temperature(0))
        print("CHECK power", torch.cuda.power_draw(0))
        print("CHECK clock", torch.cuda.clock_rate(0))
        print("CHECK processes", torch.cuda.list_gpu_processes(0).splitlines()[-1].replace(" ", "_"))
        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(1)
        m = pynvml.nvmlDeviceGetMemoryInfo(h, version=pynvml.nvmlMemory_v2)
        print("CHECK mem_v2", m.total - m.reserved)
        print("CHECK bus", pynvml.nvmlDeviceGetPciInfo(h).busId)
        h0 = pynvml.nvmlDeviceGetHandleByIndex(0)
        print("CHECK p2p", pynvml.nvmlDeviceGetP2PStatus(h0, h, pynvml.NVML_P2P_CAPS_INDEX_NVLINK))
    """, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    c = r.checks()
    assert c["utilization"] == "0" and int(c["temperature"]) > 0 and int(c["power"]) > 0
    assert c["clock"] == "1980" and c["processes"] == "no_processes_are_running"
    assert c["mem_v2"] == "85017493504" and c["bus"] == "00000000:01:00.0" and c["p2p"] == "0"


DISTRIBUTED = """
    import os, subprocess, sys

    def worker(rank, world, store_path):
        import torch
        import torch.distributed as dist
        torch.cuda.set_device(rank)
        dist.init_process_group("nccl", store=dist.FileStore(store_path, world), rank=rank, world_size=world,
                                device_id=torch.device("cuda", rank))
        x = torch.ones(1024 * 1024, device="cuda", dtype=torch.bfloat16)   # 2 MiB
        if rank == 1:   # rank 1 arrives late: a 4 GiB device copy first
            big = torch.empty(4 << 30, dtype=torch.uint8, device="cuda")
            torch.empty_like(big).copy_(big)
        dist.all_reduce(x)
        sub = dist.new_group([0, 1])                                        # ncclCommSplit across processes
        dist.all_reduce(torch.ones(256, device="cuda"), group=sub)          # 1 KiB
        out = torch.empty(world * 4096, device="cuda")
        dist.all_gather_into_tensor(out, torch.ones(4096, device="cuda"))   # 32 KiB gathered
        peer = (rank + 1) % world
        reqs = dist.batch_isend_irecv([dist.P2POp(dist.isend, torch.ones(64, device="cuda"), peer),
                                       dist.P2POp(dist.irecv, torch.empty(64, device="cuda"), peer)])
        for q in reqs:
            q.wait()
        torch.cuda.synchronize()
        os.write(1, f"CHECK rank{rank} {torch.cuda.nccl.version()}\\n".encode())   # one write: no interleaving
        dist.destroy_process_group()

    if __name__ == "__main__":
        if len(sys.argv) > 1:
            worker(int(sys.argv[1]), 2, sys.argv[2])
            sys.exit(0)
        store = os.path.join(os.path.dirname(os.path.abspath(__file__)), "store")
        procs = [subprocess.Popen([sys.executable, __file__, str(r), store]) for r in range(2)]
        sys.exit(max(p.wait(timeout=300) for p in procs))
"""


def test_torch_distributed_nccl_two_processes(tmp_path):
    trace = tmp_path / "trace"
    r = torch_run(["--gpus", "2", "--trace", str(trace)], DISTRIBUTED, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    c = r.checks()
    assert c["rank0"] == c["rank1"] == "(2, 30, 7)"
    per_process = [ops for ops in collectives(trace).values() if ops]
    assert len(per_process) == 2
    devices = set()
    for ops in per_process:
        dev = ops[0][3]
        devices.add(dev)
        assert ("all_reduce", 2 << 20, 2, dev) in ops
        assert ("all_reduce", 1024, 2, dev) in ops
        assert ("all_gather", 32768, 2, dev) in ops
        assert ("send", 256, 2, dev) in ops and ("recv", 256, 2, dev) in ops
    assert devices == {0, 1}                              # each rank on its own virtual GPU
    assert not stub_hits(trace), stub_hits(trace)

    # on the shared clock the ranks meet: rank 0's all_reduce waits for rank 1's, behind its copy
    events = {}
    for path in trace.glob("trace-*.json"):
        evs = [e for e in load_trace(path) if e.get("ph") == "X" and e.get("tid")]
        reduce = next((e for e in evs if e["name"] == "all_reduce" and e["args"]["bytes"] == 2 << 20), None)
        if reduce:
            events[reduce["args"]["device"]] = (reduce, [e for e in evs if e["name"] == "memcpy d2d"])
    (r0, _), (r1, copies) = events[0], events[1]
    copy_end = max(e["ts"] + e["dur"] for e in copies)
    assert abs(r0["ts"] - r1["ts"]) < 50                  # µs: they start together ...
    assert r0["ts"] >= copy_end - 50                      # ... once rank 1's copy is done
    assert copy_end - min(e["ts"] for e in copies) > 1000  # (and that copy took over a millisecond)
