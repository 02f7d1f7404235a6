"""The CUDA 12 configuration: `python -m interpose.build --cuda-major 12` builds the CUDA 12 SONAMEs with
the complete ABI of the real CUDA 12 libraries (interpose/abi/cu12), and a program built against the
CUDA 12 headers runs on them under `revati-search run --cuda-major 12`.

Needs the CUDA 12 headers that scripts/setup.sh installs into .venv/cuda12 (no network at test time)."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import NATIVE, ROOT, revati_run
from interpose import build as native_build
from interpose.abi.extract import parse_readelf
from predictors import load


@pytest.fixture(scope="module")
def lib12() -> Path:
    from interpose.launcher import ensure_built
    try:
        return ensure_built(cuda_major=12)
    except native_build.BuildError as e:
        pytest.fail(f"cannot build the CUDA 12 libraries (run scripts/setup.sh): {e}")


def _readelf(*args: str) -> str:
    return subprocess.run(["readelf", "-W", *args], check=True, capture_output=True, text=True).stdout


def test_build_info_and_headers(lib12):
    info = (lib12 / "BUILD_INFO").read_text().splitlines()
    assert info[0] == "cuda_major 12"
    first = native_build.cuda_include(12)[0]
    assert re.search(r"^#define\s+CUDART_VERSION\s+12\d\d\d", (first / "cuda_runtime_api.h").read_text(), re.M)
    assert info[1].startswith(f"headers -I{first}")


@pytest.mark.parametrize("lib", native_build.LIBRARIES, ids=lambda lib: lib.soname(12))
def test_exports_are_the_real_cuda12_abi(lib12, lib):
    soname = lib.soname(12)
    path = lib12 / soname
    assert re.search(rf"\(SONAME\)\s+Library soname: \[{re.escape(soname)}\]", _readelf("-d", str(path)))
    ours = {name: (kind, size, version) for name, kind, size, version in parse_readelf(_readelf("--dyn-syms", str(path)))}
    abi = native_build.read_abi(12, soname)
    assert abi, soname
    missing = [s.name for s in abi if s.name not in ours]
    assert not missing, f"{soname} lacks {len(missing)} exports of the real library, e.g. {missing[:5]}"
    wrong = [(s.name, s.kind, s.version, ours[s.name]) for s in abi
             if ours[s.name][0] != s.kind or ours[s.name][2] != s.version
             or (s.kind == "OBJECT" and ours[s.name][1] != s.size)]
    assert not wrong, wrong[:5]
    extra = set(ours) - {s.name for s in abi}
    assert not extra, f"{soname} exports names the real library does not: {sorted(extra)[:5]}"


def test_cuda12_sonames_are_the_wheels():
    """The CUDA 12 wheels' SONAMEs (nvidia-*-cu12, latest 12.x: cuFFT and cuSOLVER are one major behind)."""
    assert {lib.name: lib.soname(12) for lib in native_build.LIBRARIES} == {
        "cudart": "libcudart.so.12", "cuda": "libcuda.so.1", "cublas": "libcublas.so.12",
        "cublasLt": "libcublasLt.so.12", "cudnn": "libcudnn.so.9", "nccl": "libnccl.so.2",
        "nvml": "libnvidia-ml.so.1", "cusparse": "libcusparse.so.12", "cusparseLt": "libcusparseLt.so.0",
        "cufft": "libcufft.so.11", "curand": "libcurand.so.10", "cufile": "libcufile.so.0",
        "cupti": "libcupti.so.12", "nvshmem": "libnvshmem_host.so.3", "cusolver": "libcusolver.so.11",
        "nvrtc": "libnvrtc.so.12"}
    for lib in native_build.LIBRARIES:
        assert (native_build.ABI / "cu12" / f"{lib.soname(12)}.abi").exists()


def test_headers_of_the_wrong_major_fail_clearly(monkeypatch):
    cu13 = native_build.cuda_include(13)[0]
    monkeypatch.setattr(native_build, "_header_candidates", lambda major: [cu13])
    with pytest.raises(native_build.BuildError) as e:
        native_build.cuda_include(12)
    msg = str(e.value)
    assert "CUDA 12 headers" in msg and f"{cu13} (CUDA 13)" in msg
    assert "nvidia-cuda-runtime-cu12" in msg and "CUDA_HOME" in msg


def test_cuda12_program_on_virtual_gpu(lib12, tmp_path):
    prog = tmp_path / "cuda12_runtime"
    subprocess.run(["gcc", "-Wall", "-Werror", *native_build.cuda_cflags(12), "-o", str(prog),
                    str(NATIVE / "cuda12_runtime.c"), f"-L{lib12}", "-lcudart", "-ldl"], check=True)
    # built against the CUDA 12 headers: it links the _v2 names, versioned by the CUDA 12 runtime
    imports = _readelf("--dyn-syms", str(prog))
    assert "cudaGetDeviceProperties_v2@libcudart.so.12" in imports
    assert "cudaStreamGetCaptureInfo_v2@libcudart.so.12" in imports

    trace = tmp_path / "trace"
    r = revati_run(["--cuda-major", "12", "--gpu", "h200", "--predictor", "fixed:1ms", "--trace", str(trace)], [str(prog)])
    assert r.returncode == 0, r.stdout + r.stderr
    c = r.checks()
    assert c["done"] == "1", r.stdout
    assert c["cudart"] == str(lib12 / "libcudart.so.12")
    assert c["headers"].startswith("12") and c["runtime_version"] == c["headers"]

    hw = load("h200")
    assert c["device_count"] == "1"
    assert c["name"] == hw.name
    assert int(c["total_memory"]) == int(c["mem_total"]) == hw.total_memory_bytes
    assert int(c["sm_count"]) == hw.sm_count
    assert c["cc"] == f"{hw.compute_capability.major}.{hw.compute_capability.minor}"
    assert int(c["clock_khz"]) == hw.attributes[13] and int(c["mem_clock_khz"]) == hw.attributes[36]

    # kernel-free work, timed on the virtual timeline: H2D copy + memset + D2H copy at 1 ms each
    assert float(c["elapsed_ms"]) == 3.0 and float(c["elapsed_v2_ms"]) == 3.0
    assert c["memcpy_roundtrip"] == "1"
    assert c["capture_v2"] == c["capture_v3"] == c["capture_legacy"] == "1"

    # the structs are byte for byte what the real libcudart.so.12 writes on an H200 (its uuid aside:
    # each catalog entry keeps the identity of the card it was measured on)
    real = json.loads((ROOT / "predictors/hardware/measured/h200-cu12-props.json").read_text())
    assert int(c["legacy_extent"]) == real["legacy_extent"] == 728   # the CUDA 11 struct, no more
    for key, n in (("v2_hex", real["v2_extent"]), ("legacy_hex", real["legacy_extent"])):
        got, want = bytes.fromhex(c[key])[:n], bytes.fromhex(real[key])
        assert got[:256] == want[:256] and got[272:] == want[272:], key
        assert got[256:272].hex() == hw.uuid

    counts = {x["name"]: x for x in json.loads(next(trace.glob("api-*.json")).read_text())["calls"]}
    for name in ("cudaGetDeviceProperties_v2", "cudaGetDeviceProperties", "cudaStreamGetCaptureInfo_v2",
                 "cudaStreamGetCaptureInfo_v3", "cudaStreamGetCaptureInfo", "cudaMemPrefetchAsync",
                 "cudaMemPrefetchAsync_v2", "cudaEventElapsedTime_v2"):
        assert counts[name]["calls"] >= 1 and not counts[name]["stub"], name
    assert not [x for x in counts.values() if x["stub"]]
