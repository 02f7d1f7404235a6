"""Rebuild ``predictors/hardware/<key>.json`` from device probes plus datasheet numbers.

    python -m predictors.hardware.build_catalog

Probes come from ``tools/probe_device.py`` run on a real GPU and are stored under ``measured/``.
Attribute tables, names, memory sizes, clocks and host costs are copied from the probe; peak rates
and link bandwidths are not observable by a probe and come from the datasheet table below. A GPU
without a probe (the A100) is derived from another GPU's probe with its known differences applied.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from predictors.catalog import ComputeCapability, Hardware

HERE = Path(__file__).parent
MEASURED = HERE / "measured"

# Peak dense FLOP/s (no sparsity) from NVIDIA datasheets; the SXM parts.
HOPPER_PEAK_FLOPS = {
    "bf16": 989.4e12, "fp16": 989.4e12, "fp8": 1978.9e12, "int8": 1978.9e12,
    "tf32": 494.7e12, "fp32": 66.9e12, "fp64": 66.9e12,
}
AMPERE_PEAK_FLOPS = {
    "bf16": 312e12, "fp16": 312e12, "int8": 624e12, "tf32": 156e12, "fp32": 19.5e12, "fp64": 19.5e12,
}

DATASHEET: dict[str, dict[str, Any]] = {
    "h100": {
        "aliases": ["h100-sxm", "h100-80gb"],
        "memory_bandwidth_bytes_per_s": 3.35e12,
        "peak_flops": HOPPER_PEAK_FLOPS,
        "nvlink_bandwidth_bytes_per_s": 450e9,
        "pcie_bandwidth_bytes_per_s": 55e9,  # gen5 x16, effective
    },
    "h200": {
        "aliases": [],
        "memory_bandwidth_bytes_per_s": 4.8e12,
        "peak_flops": HOPPER_PEAK_FLOPS,
        "nvlink_bandwidth_bytes_per_s": 450e9,
        "pcie_bandwidth_bytes_per_s": 55e9,
    },
    "a100": {
        "aliases": ["a100-80gb", "a100-sxm"],
        "memory_bandwidth_bytes_per_s": 2.039e12,
        "peak_flops": AMPERE_PEAK_FLOPS,
        "nvlink_bandwidth_bytes_per_s": 300e9,
        "pcie_bandwidth_bytes_per_s": 25e9,  # gen4 x16, effective
    },
}

# Host costs in ns. The H100 values are rounded below its probe (torch add 6.94 us per launch,
# idle sync 4.40 us) because part of that is Python dispatch that the emulation already runs for
# real; the H200 keeps its probe values as measured.
HOST_COSTS_NS = {"h100": (5000, 4000), "h200": (4794, 3359), "a100": (5000, 4000)}
HOST_COSTS_NOTE = {
    "h100": "host costs rounded below the probe's torch launch 6.94 us and idle sync 4.40 us",
    "h200": "host costs as probed (torch launch 4.79 us, idle sync 3.36 us)",
}

PROBES = {"h100": "h100-probe.json", "h200": "h200-probe.json"}
PROBE_DATE = "2026-11-21"

# A100-SXM4-80GB: the attributes that differ from the H100 probe (attribute number: value).
# Sources: deviceQuery and cudaGetDeviceProperties dumps of A100-SXM4-80GB cards (driver 580 for
# the memory size), the CUDA C++ programming guide's compute capability 8.0 limits, and the PCI ids
# of the SXM4 80GB board (device 0x20b2, subsystem 0x1463).
A100_ATTRIBUTES = {
    13: 1410000,  # CLOCK_RATE kHz
    16: 108,  # MULTIPROCESSOR_COUNT
    36: 1593000,  # MEMORY_CLOCK_RATE kHz
    37: 5120,  # GLOBAL_MEMORY_BUS_WIDTH
    38: 41943040,  # L2_CACHE_SIZE (40 MiB)
    75: 8,  # COMPUTE_CAPABILITY_MAJOR
    76: 0,  # COMPUTE_CAPABILITY_MINOR
    81: 167936,  # MAX_SHARED_MEMORY_PER_MULTIPROCESSOR
    97: 166912,  # MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
    106: 32,  # MAX_BLOCKS_PER_MULTIPROCESSOR
    108: 31457280,  # MAX_PERSISTING_L2_CACHE_SIZE (3/4 of L2)
    119: 1,  # MEMPOOL_SUPPORTED_HANDLE_TYPES: POSIX fd only, no fabric handles before Hopper
    120: 0,  # CLUSTER_LAUNCH (thread block clusters are sm_90+)
    126: 1,  # MEM_SYNC_DOMAIN_COUNT (memory sync domains are sm_90+)
    127: 0,  # TENSOR_MAP_ACCESS_SUPPORTED (TMA is sm_90+)
    128: 0,  # HANDLE_TYPE_FABRIC_SUPPORTED
    139: 0x20B210DE,  # GPU_PCI_DEVICE_ID (device << 16 | vendor)
    140: 0x146310DE,  # GPU_PCI_SUBSYSTEM_ID
}
A100 = {
    "name": "NVIDIA A100-SXM4-80GB",
    "total_memory_bytes": 85093777408,  # as driver 580 reports it (the H100 probe's driver)
    "max_sm_clock_mhz": 1410,
    "max_memory_clock_mhz": 1593,
    "power_limit_w": 400.0,
    # synthetic but stable: there is no probed A100 to copy one from
    "uuid": uuid.uuid5(uuid.NAMESPACE_URL, "revati-search/hardware/a100").hex,
}


def from_probe(key: str, probe: dict[str, Any]) -> Hardware:
    free, total = probe["mem_get_info_after_init"]
    attributes = {int(number): value for number, value in probe["driver_attrs"].items()}
    launch_ns, sync_ns = HOST_COSTS_NS[key]
    return Hardware(
        key=key,
        name=probe["cu_name"],
        compute_capability=ComputeCapability(major=attributes[75], minor=attributes[76]),
        sm_count=attributes[16],
        total_memory_bytes=probe["cu_total_mem"],
        context_reserved_bytes=total - free,
        l2_cache_bytes=attributes[38],
        launch_latency_ns=launch_ns,
        sync_latency_ns=sync_ns,
        uuid=probe["cu_uuid"],
        power_limit_w=probe["nvml_power_limit_mw"] / 1000,
        max_sm_clock_mhz=probe["nvml_max_clock_sm_mhz"],
        max_memory_clock_mhz=probe["nvml_max_clock_mem_mhz"],
        attributes=attributes,
        source=(
            f"measured on real {probe['cu_name']} (driver {probe['nvml_driver']}, "
            f"torch {probe['torch_version']}) {PROBE_DATE} with tools/probe_device.py; "
            f"peak rates and link bandwidths from the NVIDIA datasheet; {HOST_COSTS_NOTE[key]}"
        ),
        **DATASHEET[key],
    )


def derive_a100(h100_probe: dict[str, Any]) -> Hardware:
    template = from_probe("h100", h100_probe)
    attributes = {**template.attributes, **A100_ATTRIBUTES}
    launch_ns, sync_ns = HOST_COSTS_NS["a100"]
    return template.model_copy(update={
        "key": "a100",
        "compute_capability": ComputeCapability(major=attributes[75], minor=attributes[76]),
        "sm_count": attributes[16],
        "l2_cache_bytes": attributes[38],
        "attributes": attributes,
        "launch_latency_ns": launch_ns,
        "sync_latency_ns": sync_ns,
        "source": (
            "derived, not measured: A100 SXM4 80GB datasheet; attributes derived from the H100 probe "
            f"({PROBE_DATE}) with the A100's known differences (compute capability 8.0, 108 SMs, "
            "clocks, L2, shared memory, no clusters/TMA/fabric handles) from A100 deviceQuery and "
            "cudaGetDeviceProperties dumps; context reservation and host costs copied from the H100"
        ),
        **A100,
        **DATASHEET["a100"],
    })


def build() -> list[Hardware]:
    probes = {key: json.loads((MEASURED / name).read_text()) for key, name in PROBES.items()}
    entries = [from_probe(key, probe) for key, probe in probes.items()]
    entries.append(derive_a100(probes["h100"]))
    # model_copy skips validation; re-validating catches a bad override before it is written
    return [Hardware.model_validate(entry.model_dump()) for entry in entries]


def main() -> None:
    for hardware in build():
        path = HERE / f"{hardware.key}.json"
        path.write_text(hardware.model_dump_json(indent=1) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
