"""predictors: catalog, native config, roofline and fixed models, and the socket server."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from predictors import GemmOp, PredictorServer, create, keys, load, parse_op
from predictors.catalog import HARDWARE_DIR, Hardware
from predictors.fixed import parse_duration_ns
from predictors.hardware.build_catalog import build

ROOT = Path(__file__).resolve().parents[1]
MEASURED = HARDWARE_DIR / "measured"


def probe(key: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((MEASURED / f"{key}-probe.json").read_text())
    return data


def gemm(n: int, dtype: str = "bf16", compute: str = "f32", **shape: int) -> dict[str, Any]:
    return {"kind": "gemm", "m": n, "n": n, "k": n, "dtype_a": dtype, "dtype_b": dtype, "dtype_c": dtype,
            "compute": compute, **shape}


def attention(q_len: int, kv_len: int, causal: bool) -> dict[str, Any]:
    return {"kind": "attention", "batch": 2, "heads": 32, "kv_heads": 8, "q_len": q_len, "kv_len": kv_len,
            "head_dim": 128, "causal": causal, "dtype": "bf16"}


def memcpy(nbytes: int, direction: str, pinned: bool = True) -> dict[str, Any]:
    return {"kind": "memcpy", "bytes": nbytes, "direction": direction, "pinned": pinned}


def roofline_ns(key: str, op: dict[str, Any]) -> int:
    return create("roofline", load(key)).duration_ns(parse_op(op))


# ---- catalog ----------------------------------------------------------------------------------

def test_catalog_entries_and_aliases() -> None:
    assert keys() == ["a100", "b200", "h100", "h100-pcie", "h200", "l40s"]
    for alias, key in [("H100", "h100"), ("h100-sxm", "h100"), ("H100-80GB", "h100"),
                       ("a100-80gb", "a100"), ("h200", "h200"), ("H100-PCIe", "h100-pcie"), ("hgx-b200", "b200")]:
        assert load(alias).key == key
    with pytest.raises(KeyError, match="unknown hardware 'v100'"):
        load("v100")


FIGURES = ["peak_flops", "memory_bandwidth_bytes_per_s", "nvlink_bandwidth_bytes_per_s", "pcie_bandwidth_bytes_per_s",
           "attributes", "sm_count", "total_memory_bytes", "launch_latency_ns", "sync_latency_ns",
           "price_per_gpu_hour_usd"]


@pytest.mark.parametrize("key", ["a100", "b200", "h100", "h100-pcie", "h200", "l40s"])
def test_every_catalog_figure_names_its_source(key: str) -> None:
    hardware = load(key)
    assert all(hardware.sources.get(figure) for figure in FIGURES), set(FIGURES) - set(hardware.sources)
    assert hardware.price_per_gpu_hour_usd > 0
    assert hardware.attributes[16] == hardware.sm_count
    assert (hardware.attributes[75], hardware.attributes[76]) == (hardware.compute_capability.major,
                                                                  hardware.compute_capability.minor)
    # dense tensor math is faster than the CUDA cores' fp32, and fp8 (where present) doubles bf16
    assert hardware.peak_flops["bf16"] > hardware.peak_flops["fp32"]
    if "fp8" in hardware.peak_flops:
        assert hardware.peak_flops["fp8"] == pytest.approx(2 * hardware.peak_flops["bf16"], rel=0.02)


def test_derived_entries_differ_where_the_gpus_differ() -> None:
    l40s, b200, pcie = load("l40s"), load("b200"), load("h100-pcie")
    assert (l40s.compute_capability.major, l40s.compute_capability.minor) == (8, 9)
    assert l40s.attributes[120] == 0 and l40s.attributes[81] == 102400 and l40s.sm_count == 142
    assert (b200.compute_capability.major, b200.sm_count) == (10, 148) and b200.peak_flops["fp4"] == 9000e12
    assert pcie.sm_count == 114 and pcie.memory_bandwidth_bytes_per_s == 2.0e12
    assert len({load(k).uuid for k in keys()}) == len(keys())
    for hardware in (l40s, b200, pcie):
        assert hardware.source.startswith("derived, not measured")


@pytest.mark.parametrize("key", ["h100", "h200"])
def test_measured_entries_copy_the_probe(key: str) -> None:
    hardware, measured = load(key), probe(key)
    assert hardware.attributes == {int(n): v for n, v in measured["driver_attrs"].items()}
    assert hardware.name == measured["cu_name"] == measured["nvml_name"]
    assert hardware.total_memory_bytes == measured["cu_total_mem"]
    free, total = measured["mem_get_info_after_init"]
    assert hardware.context_reserved_bytes == total - free
    assert hardware.uuid == measured["cu_uuid"]
    assert (hardware.compute_capability.major, hardware.compute_capability.minor) == (9, 0)
    assert hardware.sm_count == 132
    assert "measured on real" in hardware.source


def test_a100_is_derived_from_the_h100_template() -> None:
    a100, h100 = load("a100"), load("h100")
    assert a100.name == "NVIDIA A100-SXM4-80GB"
    assert (a100.compute_capability.major, a100.compute_capability.minor) == (8, 0)
    assert a100.attributes[75] == 8 and a100.attributes[76] == 0 and a100.attributes[16] == a100.sm_count == 108
    assert a100.attributes[97] == 166912 and a100.attributes[81] == 167936 and a100.attributes[120] == 0
    assert a100.attributes.keys() == h100.attributes.keys()
    assert "fp8" not in a100.peak_flops and a100.peak_flops["bf16"] == 312e12
    assert "derived" in a100.source and "measured" in a100.source  # "derived, not measured"


def test_catalog_files_match_a_rebuild_from_the_probes() -> None:
    assert {hardware.key: hardware for hardware in build()} == {key: load(key) for key in keys()}


def parse_native_config(text: str) -> dict[str, Any]:
    """A reader written from the format description, as the C side parses it."""
    items: dict[str, Any] = {"attr": {}}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item, _, rest = line.partition(" ")
        if item == "attr":
            number, value = rest.split(" ")
            items["attr"][int(number)] = int(value)
        else:
            items[item] = rest
    return items


@pytest.mark.parametrize("key", ["h100", "h200", "a100", "h100-pcie", "l40s", "b200"])
def test_native_config_round_trips(key: str) -> None:
    hardware = load(key)
    text = hardware.native_config(gpus=2)
    assert text.splitlines()[1] == f"name {hardware.name}"  # the first line is a comment
    items = parse_native_config(text)
    assert items["name"] == hardware.name
    assert items["key"] == key
    assert int(items["gpus"]) == 2
    assert int(items["total_memory"]) == hardware.total_memory_bytes
    assert int(items["reserved_memory"]) == hardware.context_reserved_bytes
    assert items["uuid"] == hardware.uuid
    assert int(items["launch_latency_ns"]) == hardware.launch_latency_ns
    assert int(items["sync_latency_ns"]) == hardware.sync_latency_ns
    assert items["attr"] == hardware.attributes
    with pytest.raises(ValueError):
        hardware.native_config(gpus=0)


def test_hardware_rejects_a_bad_uuid() -> None:
    data = load("h100").model_dump()
    data["uuid"] = "GPU-de6a80b2"
    with pytest.raises(ValueError, match="uuid"):
        Hardware.model_validate(data)


# ---- roofline ---------------------------------------------------------------------------------

def test_bigger_gemm_takes_longer() -> None:
    durations = [roofline_ns("h100", gemm(n)) for n in (256, 1024, 4096, 8192)]
    assert durations == sorted(durations) and len(set(durations)) == 4
    assert roofline_ns("h100", gemm(4096, batch=4)) > roofline_ns("h100", gemm(4096))


def test_bf16_gemm_is_faster_than_fp32() -> None:
    bf16 = roofline_ns("h100", gemm(4096))
    assert bf16 < roofline_ns("h100", gemm(4096, "f32", "f32_fast_tf32")) < roofline_ns("h100", gemm(4096, "f32"))


def test_large_bf16_gemm_time_is_plausible_on_h100() -> None:
    # 2*4096^3 = 137 GFLOP at 989 TFLOP/s peak is 139 us; cuBLAS reaches ~70-80% of peak
    assert 100_000 <= roofline_ns("h100", gemm(4096)) <= 400_000
    assert 500_000 <= roofline_ns("h100", gemm(8192)) <= 3_000_000


def test_small_gemm_is_memory_bound_and_floored() -> None:
    tiny = roofline_ns("h100", gemm(8))
    assert 1_000 <= tiny <= 5_000
    # decode-shaped GEMM (few rows, big weight): weight traffic dominates, so H200's HBM wins
    decode = {**gemm(8), "n": 14336, "k": 4096}
    assert roofline_ns("h200", decode) < roofline_ns("h100", decode)


def test_fp8_needs_hardware_support() -> None:
    assert roofline_ns("h100", gemm(4096, "f8e4m3")) < roofline_ns("h100", gemm(4096))
    with pytest.raises(ValueError, match="a100 has no fp8"):
        roofline_ns("a100", gemm(4096, "f8e4m3"))


def test_causal_attention() -> None:
    full = roofline_ns("h100", attention(4096, 4096, causal=False))
    causal = roofline_ns("h100", attention(4096, 4096, causal=True))
    assert 0.45 < causal / full < 0.6
    # a chunk of 512 queries at the end of 4096 keys sees almost all keys: close to non-causal
    chunk_causal = roofline_ns("h100", attention(512, 4096, causal=True))
    chunk_full = roofline_ns("h100", attention(512, 4096, causal=False))
    assert 0.85 < chunk_causal / chunk_full < 1


def test_copy_time_scales_with_bytes() -> None:
    for direction in ("h2d", "d2h", "d2d", "p2p", "h2h"):
        small, large = (roofline_ns("h100", memcpy(n, direction)) for n in (64 << 20, 256 << 20))
        assert 3.5 < large / small <= 4
    assert roofline_ns("h100", memcpy(1 << 30, "h2d", pinned=False)) > roofline_ns("h100", memcpy(1 << 30, "h2d"))
    # 1 GiB over ~55 GB/s PCIe gen5 is ~20 ms; over HBM (read + write) well under 1 ms
    assert 15e6 < roofline_ns("h100", memcpy(1 << 30, "h2d")) < 25e6
    assert roofline_ns("h100", memcpy(1 << 30, "d2d")) < 1e6


def test_collectives() -> None:
    def collective(name: str, ranks: int, nbytes: int = 64 << 20) -> int:
        return roofline_ns("h100", {"kind": "collective", "name": name, "bytes": nbytes, "ranks": ranks,
                                    "dtype": "bf16"})

    assert collective("all_reduce", 1) < 10_000
    assert collective("all_reduce", 8) > collective("all_gather", 8) > collective("all_reduce", 1)
    assert collective("all_reduce", 8) > collective("all_reduce", 2)
    assert collective("all_reduce", 8, 4096) < collective("all_reduce", 8)


def test_generic_kernel_and_host_fn() -> None:
    def kernel(blocks: int) -> int:
        return roofline_ns("h100", {"kind": "kernel", "name": "k", "grid": [blocks, 1, 1], "block": [256, 1, 1]})

    assert 1_000 <= kernel(1) < kernel(100_000)
    assert roofline_ns("h100", {"kind": "host_fn"}) == 0
    assert roofline_ns("h100", {"kind": "memset", "bytes": 1 << 30}) > roofline_ns("h100", {"kind": "memset", "bytes": 4})


# ---- fixed and create -------------------------------------------------------------------------

@pytest.mark.parametrize("spec, ns", [("fixed:1ms", 1_000_000), ("fixed:250us", 250_000),
                                      ("fixed:1000ns", 1000), ("fixed:1000", 1000), ("fixed: 1.5 us", 1500),
                                      ("fixed:2s", 2_000_000_000)])
def test_fixed_predictor_returns_the_configured_duration(spec: str, ns: int) -> None:
    predictor = create(spec, load("h100"))
    for op in (gemm(4096), memcpy(1, "h2d"), attention(1, 2, True)):
        assert predictor.duration_ns(parse_op(op)) == ns
    assert predictor.duration_ns(parse_op({"kind": "host_fn"})) == 0


@pytest.mark.parametrize("spec", ["fixed", "fixed:fast", "fixed:1h", "roofline:x", "vidur"])
def test_create_rejects_bad_specs(spec: str) -> None:
    with pytest.raises(ValueError):
        create(spec, load("h100"))


def test_parse_duration() -> None:
    assert parse_duration_ns("0.5ms") == 500_000 and parse_duration_ns(" 7 ") == 7


def test_parse_op_models() -> None:
    op = parse_op(gemm(16, stream=3))  # unknown fields are ignored
    assert isinstance(op, GemmOp) and op.batch == 1 and op.library == "cublas" and op.device == 0
    defaults = parse_op({"kind": "attention", "batch": 1, "heads": 4, "q_len": 1, "kv_len": 8, "head_dim": 64,
                         "dtype": "f16"})
    assert defaults.kv_heads == 4 and defaults.head_dim_v == 64  # type: ignore[union-attr]


# ---- server -----------------------------------------------------------------------------------

class Client:
    def __init__(self, path: Path) -> None:
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.socket.connect(str(path))
        self.stream = self.socket.makefile("rwb")

    def ask_raw(self, line: bytes) -> dict[str, Any]:
        self.stream.write(line + b"\n")
        self.stream.flush()
        line = self.stream.readline()
        assert line.endswith(b"\n")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.ask_raw(json.dumps(request).encode())

    def close(self) -> None:
        self.stream.close()
        self.socket.close()


def wire(op: dict[str, Any]) -> dict[str, Any]:
    """The wire form: the kind travels in ``op``."""
    return {"op": op["kind"], **{k: v for k, v in op.items() if k != "kind"}}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[PredictorServer]:
    predictor = create("roofline", load("h100"))
    with PredictorServer(predictor, tmp_path / "predictor.sock") as server:
        yield server


def test_server_hello_and_ops(served: PredictorServer) -> None:
    client = Client(served.path)
    assert client.ask({"op": "hello"}) == {"hardware": "h100", "launch_latency_ns": 5000, "sync_latency_ns": 4000}
    for op in (gemm(4096), attention(128, 2048, True), memcpy(1 << 20, "h2d"), {"kind": "host_fn"},
               {"kind": "kernel", "name": "elementwise", "grid": [128, 1, 1], "block": [256, 1, 1], "shmem": 0}):
        assert client.ask(wire(op)) == {"ns": served.predictor.duration_ns(parse_op(op))}
    client.close()


def test_server_errors_keep_the_connection(served: PredictorServer) -> None:
    client = Client(served.path)
    bad_requests = [
        (b"{not json", "invalid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"m": 1}', "missing field 'op'"),
        (b'{"op": "teleport"}', "unknown op 'teleport'"),
        (json.dumps({**wire(gemm(8)), "n": None}).encode(), "gemm.n"),
        (json.dumps({k: v for k, v in wire(gemm(8)).items() if k != "dtype_a"}).encode(), "gemm.dtype_a: Field required"),
        (json.dumps({**wire(gemm(8)), "dtype_a": "f12"}).encode(), "gemm.dtype_a"),
        (json.dumps(wire(memcpy(-1, "h2d"))).encode(), "memcpy.bytes"),
    ]
    for line, message in bad_requests:
        reply = client.ask_raw(line)
        assert message in reply["error"], reply
    assert client.ask(wire(gemm(64)))["ns"] > 0  # still answering on the same connection
    client.close()


def test_server_reports_ops_the_hardware_cannot_run(tmp_path: Path) -> None:
    with PredictorServer(create("roofline", load("a100")), tmp_path / "a100.sock") as server:
        client = Client(server.path)
        assert client.ask(wire(gemm(64, "f8e4m3"))) == {"error": "gemm: a100 has no fp8 math for this gemm"}
        client.close()


def test_server_serves_concurrent_clients(served: PredictorServer) -> None:
    sizes = [64 * (i + 1) for i in range(50)]
    expected = {n: served.predictor.duration_ns(parse_op(gemm(n))) for n in sizes}
    failures: list[str] = []

    def run(offset: int) -> None:
        client = Client(served.path)
        try:
            for i in range(200):
                n = sizes[(i + offset) % len(sizes)]
                reply = client.ask(wire(gemm(n)))
                if reply != {"ns": expected[n]}:
                    failures.append(f"client {offset}: {n} -> {reply}")
        finally:
            client.close()

    threads = [threading.Thread(target=run, args=(offset,)) for offset in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not failures
    assert not any(thread.is_alive() for thread in threads)


def test_server_close_hangs_up_and_removes_the_socket(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    server = PredictorServer(create("fixed:1us", load("h200")), path)
    server.start()
    client = Client(path)
    assert client.ask({"op": "hello"})["hardware"] == "h200"
    assert client.ask(wire(gemm(8))) == {"ns": 1000}
    server.close()
    assert not path.exists()
    assert client.stream.readline() == b""  # the server hung up
    client.close()
    server.close()  # closing twice is harmless


def test_server_replaces_a_stale_socket_but_not_a_live_one(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens
    predictor = create("roofline", load("h100"))
    with PredictorServer(predictor, path):
        with pytest.raises(FileExistsError, match="already listening"):
            PredictorServer(predictor, path).start()


def test_server_command_line(tmp_path: Path) -> None:
    path = tmp_path / "cli.sock"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "predictors.server", "--gpu", "H100-SXM", "--predictor", "fixed:3us",
         "--socket", str(path)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        assert "serving h100 (fixed:3us)" in process.stdout.readline()
        client = Client(path)
        assert client.ask(wire(gemm(8))) == {"ns": 3000}
        client.close()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert not path.exists()
