"""nvcc-built programs on virtual GPUs: with a fixed-duration predictor, event elapsed times are
exactly the sum of the predicted durations of the work between the events."""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT, load_trace, revati_run
from interpose.trace import summarize

FIXED = ["--predictor", "fixed:1ms"]


def test_runtime_features(programs, tmp_path):
    r = revati_run([*FIXED, "--trace", str(tmp_path)], [str(programs["runtime_features"])])
    assert r.returncode == 0, r.stderr
    c = r.checks()
    assert c["done"] == "1", r.stdout
    assert c["memcpy_roundtrip"] == "1"
    assert c["symbol_roundtrip"] == "1"
    assert float(c["stream_ops_ms"]) == 5.0         # 3 kernels + memcpy + memset
    assert float(c["cross_stream_ms"]) == 3.0       # 2 kernels on s, then 1 on s2 after the wait
    assert c["capturing"] == "1"
    assert c["graph_nodes"] == "4"
    assert float(c["graph_replay_ms"]) == 6.0       # 2 replays x 3 deep (the fork runs in parallel)
    assert c["graph_memset_effect"] == "1"          # a captured memset takes effect at replay
    assert float(c["legacy_stream_ms"]) == 3.0      # legacy stream waits for blocking streams
    assert c["host_fn_ran"] == "1"
    assert c["total_memory"] == "85017493504"
    assert c["device_count"] == "1"
    assert c["name"] == "NVIDIA H100 80GB HBM3"
    assert c["sm_count"] == "132"

    traces = list(tmp_path.glob("trace-*.json"))
    assert len(traces) == 1
    events = [e for e in load_trace(traces[0]) if e.get("ph") == "X" and e.get("tid")]
    names = {e["name"] for e in events}
    assert any("templated" in n for n in names), names    # mangled template kernel names
    assert {"memcpy d2h", "memset"} <= names
    assert all(e["dur"] == 1000.0 for e in events if e["name"] != "host_fn")   # 1 ms in µs
    lanes = {e["tid"] for e in events}
    assert len(lanes) >= 3                                 # legacy stream + s + s2 (+ s3)

    counts = json.loads(next(tmp_path.glob("api-*.json")).read_text())["calls"]
    by_name = {c["name"]: c for c in counts}
    assert by_name["__cudaLaunchKernel"]["calls"] >= 10 and not by_name["__cudaLaunchKernel"]["stub"]

    (proc,) = summarize(tmp_path)
    assert proc.ops["memset"] >= 2 and not proc.stub_hits
    assert sum(proc.time_us.values()) == 1000.0 * sum(proc.ops.values())
    shown = subprocess.run([sys.executable, "-m", "revati_search.cli", "trace", str(tmp_path)], cwd=ROOT,
                           capture_output=True, text=True)
    assert shown.returncode == 0 and "templated<float, 3>" in shown.stdout, shown.stdout + shown.stderr


def test_tracing_costs_the_host_no_virtual_time(programs, tmp_path):
    """The host's virtual time is its CPU time, so what the interposer does on the engine's thread
    per launch must be cheap: recording the trace there (formatting JSON, about 1-2 us a launch of
    this loop, more with an engine's long kernel names) once made traced runs slower than untraced
    ones. 20k launches, three runs each way, alternating (this machine's speed drifts); each way's
    fastest run is compared, as noise (another process, the hypervisor) only ever adds CPU time."""
    host = {False: [], True: []}
    for i in range(6):
        traced = bool(i % 2)
        args = ["--predictor", "fixed:1us", "--cpu-scale", "1", *(["--trace", str(tmp_path / str(i))] if traced else [])]
        r = revati_run(args, [str(programs["launch_storm"]), "20000"])
        assert r.returncode == 0, r.stdout + r.stderr
        host[traced].append(int(r.checks()["launch_host_ns"]))
    (trace,) = (tmp_path / "1").glob("trace-*.json")   # written at exit, every launch in it
    assert sum(e.get("name", "").startswith("_Z4tick") for e in load_trace(trace)) == 20100
    untraced, traced = min(host[False]), min(host[True])
    assert traced < 1.3 * untraced, host


def test_driver_module_launch(programs):
    r = revati_run(FIXED, [str(programs["driver_module"]), str(programs["driver_kernel"])])
    assert r.returncode == 0, r.stdout + r.stderr
    c = r.checks()
    assert c["function_name"] == "add_one"
    assert float(c["driver_launch_ms"]) == 4.0


def test_stub_names_itself_and_fails(programs, tmp_path):
    r = revati_run(["--trace", str(tmp_path)], [str(programs["stub_call"])])
    assert r.returncode == 0
    assert r.checks()["stub_result"] == "801"            # cudaErrorNotSupported to the caller
    assert "cudaMemPoolCreate" in r.stderr and "no emulated behaviour" in r.stderr
    counts = json.loads(next(tmp_path.glob("api-*.json")).read_text())["calls"]
    hit = [c for c in counts if c["name"] == "cudaMemPoolCreate"]
    assert hit and hit[0]["stub"] and hit[0]["calls"] == 1


def test_strict_mode_makes_stub_fatal(programs):
    r = revati_run(["--strict"], [str(programs["stub_call"])])
    assert r.returncode != 0
    assert "cudaMemPoolCreate" in r.stderr and "strict" in r.stderr
