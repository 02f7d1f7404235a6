"""Rebuild ``predictors/hardware/<key>.json`` from device probes plus datasheet numbers.

    python -m predictors.hardware.build_catalog

Probes come from ``tools/probe_device.py`` run on a real GPU and are stored under ``measured/``.
Attribute tables, names, memory sizes, clocks and host costs are copied from the probe; peak rates
and link bandwidths are not observable by a probe and come from the datasheet table below. A GPU
without a probe (A100, H100 PCIe, L40S, B200) is derived from the H100's probe with its known
differences applied. Every entry names the source of each figure (``sources``) and carries a
default price per GPU-hour.
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
# H100 PCIe: half the datasheet's sparse tensor rates; FP64 on the tensor cores
H100_PCIE_PEAK_FLOPS = {
    "bf16": 756.5e12, "fp16": 756.5e12, "fp8": 1513e12, "int8": 1513e12, "tf32": 378e12, "fp32": 51.2e12,
    "fp64": 51.2e12,
}
# L40S (Ada, sm_89): dense tensor rates of the datasheet; FP64 is 1/64 of FP32 on the CUDA cores
ADA_L40S_PEAK_FLOPS = {
    "bf16": 362.05e12, "fp16": 362.05e12, "fp8": 733e12, "int8": 733e12, "tf32": 183e12, "fp32": 91.6e12,
    "fp64": 1.431e12,
}
# HGX B200 at 1000 W, dense
BLACKWELL_B200_PEAK_FLOPS = {
    "bf16": 2250e12, "fp16": 2250e12, "fp8": 4500e12, "int8": 4500e12, "fp4": 9000e12, "tf32": 1100e12,
    "fp32": 80e12, "fp64": 40e12,
}

SRC_HOPPER = "NVIDIA H100 Tensor Core GPU datasheet (SXM5 column; dense = half the sparse figures)"
SRC_H200 = "NVIDIA H200 Tensor Core GPU datasheet (SXM; same GH100 compute as the H100 SXM)"
SRC_A100 = "NVIDIA A100 Tensor Core GPU datasheet (A100 80GB SXM column)"
SRC_H100_PCIE = ("NVIDIA H100 datasheet, PCIe column (114 SMs, 2.0 TB/s HBM2e, 350 W, NVLink bridge 600 GB/s "
                 "bidirectional); as tabulated e.g. at archive-lib.hpctech.co.jp/gpuproduct/nvidia-h100.html")
SRC_L40S = ("NVIDIA L40S datasheet (48 GB GDDR6, 864 GB/s, PCIe Gen4 x16 64 GB/s bidirectional, no NVLink, "
            "350 W, 142 SMs, 2520 MHz boost); dense/sparse table as reproduced at mullet.se and itcreations.com")
SRC_B200 = ("NVIDIA HGX B200 specifications per GPU at 1000 W (dense = half the sparse figures), as tabulated at "
            "glennklockwood.com/garden/processors/B200; 8 TB/s HBM3e and NVLink 5 1.8 TB/s bidirectional "
            "(docs.vultr.com inference-cookbook hardware overview, measured on an HGX B200)")
SRC_PCIE_GEN5 = "PCIe Gen5 x16: 64 GB/s per direction raw, ~55 GB/s effective (H200 probe: pinned h2d 55 GB/s)"
SRC_PCIE_GEN4 = "PCIe Gen4 x16: 32 GB/s per direction raw, ~25 GB/s effective"
SRC_PRICE = ("typical on-demand price per GPU-hour, 2026 (RunPod list prices via deploybase.ai/articles/"
             "b200-vs-h200-vs-h100; pricegpu.pages.dev/blog/h100-vs-a100-cloud-price for the A100; "
             "gpu.blog/gpus/nvidia-h100-pcie and gpu.blog/gpus/nvidia-l40s-nvl listings); a default, override per study")

DATASHEET: dict[str, dict[str, Any]] = {
    "h100": {
        "aliases": ["h100-sxm", "h100-80gb"],
        "memory_bandwidth_bytes_per_s": 3.35e12,
        "peak_flops": HOPPER_PEAK_FLOPS,
        "nvlink_bandwidth_bytes_per_s": 450e9,
        "pcie_bandwidth_bytes_per_s": 55e9,  # gen5 x16, effective
        "price_per_gpu_hour_usd": 2.69,
    },
    "h200": {
        "aliases": [],
        "memory_bandwidth_bytes_per_s": 4.8e12,
        "peak_flops": HOPPER_PEAK_FLOPS,
        "nvlink_bandwidth_bytes_per_s": 450e9,
        "pcie_bandwidth_bytes_per_s": 55e9,
        "price_per_gpu_hour_usd": 3.59,
    },
    "a100": {
        "aliases": ["a100-80gb", "a100-sxm"],
        "memory_bandwidth_bytes_per_s": 2.039e12,
        "peak_flops": AMPERE_PEAK_FLOPS,
        "nvlink_bandwidth_bytes_per_s": 300e9,
        "pcie_bandwidth_bytes_per_s": 25e9,  # gen4 x16, effective
        "price_per_gpu_hour_usd": 1.99,
    },
    "h100-pcie": {
        "aliases": ["h100pcie"],
        "memory_bandwidth_bytes_per_s": 2.0e12,
        "peak_flops": H100_PCIE_PEAK_FLOPS,
        "nvlink_bandwidth_bytes_per_s": 300e9,  # NVLink bridge, 600 GB/s bidirectional
        "pcie_bandwidth_bytes_per_s": 55e9,
        "price_per_gpu_hour_usd": 2.39,
    },
    "l40s": {
        "aliases": [],
        "memory_bandwidth_bytes_per_s": 864e9,
        "peak_flops": ADA_L40S_PEAK_FLOPS,
        "nvlink_bandwidth_bytes_per_s": 25e9,  # no NVLink: peer copies cross PCIe
        "pcie_bandwidth_bytes_per_s": 25e9,
        "price_per_gpu_hour_usd": 1.58,
    },
    "b200": {
        "aliases": ["b200-sxm", "hgx-b200"],
        "memory_bandwidth_bytes_per_s": 8.0e12,
        "peak_flops": BLACKWELL_B200_PEAK_FLOPS,
        "nvlink_bandwidth_bytes_per_s": 900e9,
        "pcie_bandwidth_bytes_per_s": 55e9,
        "price_per_gpu_hour_usd": 5.98,
    },
}

DATASHEET_SOURCES = {
    "h100": (SRC_HOPPER, SRC_PCIE_GEN5), "h200": (SRC_H200, SRC_PCIE_GEN5), "a100": (SRC_A100, SRC_PCIE_GEN4),
    "h100-pcie": (SRC_H100_PCIE, SRC_PCIE_GEN5), "l40s": (SRC_L40S, SRC_PCIE_GEN4), "b200": (SRC_B200, SRC_PCIE_GEN5),
}

# Host costs in ns. The H100 values are rounded below its probe (torch add 6.94 us per launch,
# idle sync 4.40 us) because part of that is Python dispatch that the emulation already runs for
# real; the H200 keeps its probe values as measured.
HOST_COSTS_NS = {"h100": (5000, 4000), "h200": (4794, 3359), "a100": (5000, 4000), "h100-pcie": (5000, 4000),
                 "l40s": (5000, 4000), "b200": (5000, 4000)}
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


# GPUs derived from the H100 probe: their names, sizes and clocks, and the attributes that differ.
# Attribute sources: the CUDA C++ Programming Guide's per-compute-capability limits (8.9: 100 KB
# shared memory per SM, 99 KB per block opt-in, 1536 threads and 24 blocks per SM, no clusters/TMA;
# 10.0: as 9.0), the datasheets above for SM counts, clocks and bus widths, and the PCI id
# database for device ids. Not measured: a probe of the real card replaces these.
DERIVED: dict[str, dict[str, Any]] = {
    "h100-pcie": {
        "entry": {"name": "NVIDIA H100 PCIe", "total_memory_bytes": 85017493504, "max_sm_clock_mhz": 1755,
                  "max_memory_clock_mhz": 1593, "power_limit_w": 350.0},
        "attributes": {13: 1755000, 16: 114, 36: 1593000, 37: 5120, 139: 0x233110DE, 140: 0x162610DE},
        "note": "114 SMs, 1755 MHz, HBM2e 1593 MHz x 5120 bit, 350 W; otherwise the H100 SXM (same GH100, cc 9.0)",
    },
    "l40s": {
        "entry": {"name": "NVIDIA L40S", "total_memory_bytes": 48305799168, "max_sm_clock_mhz": 2520,
                  "max_memory_clock_mhz": 9001, "power_limit_w": 350.0},
        "attributes": {
            13: 2520000, 16: 142, 36: 9001000, 37: 384, 38: 100663296, 39: 1536, 75: 8, 76: 9, 81: 102400,
            97: 101376, 106: 24, 108: 75497472, 119: 1, 120: 0, 126: 1, 127: 0, 128: 0,
            139: 0x26B910DE, 140: 0x185110DE,
        },
        "note": ("compute capability 8.9 (Ada): 142 SMs, 2520 MHz, GDDR6 384 bit, 96 MB L2, 100 KB shared memory "
                 "per SM, 1536 threads and 24 blocks per SM, no clusters/TMA/fabric handles; 48 GB as nvidia-smi "
                 "reports it (46068 MiB)"),
    },
    "b200": {
        "entry": {"name": "NVIDIA B200", "total_memory_bytes": 192265846784, "max_sm_clock_mhz": 1965,
                  "max_memory_clock_mhz": 3996, "power_limit_w": 1000.0},
        "attributes": {13: 1965000, 16: 148, 36: 3996000, 37: 8192, 38: 132120576, 75: 10, 76: 0,
                       139: 0x290110DE, 140: 0x199910DE},
        "note": ("compute capability 10.0: 148 SMs, HBM3e 8192 bit, 183359 MiB (the '179 GB' of an HGX B200's "
                 "nvidia-smi); SM clock, L2 size and PCI subsystem id are estimates, not verified on a card"),
    },
}


def derive(key: str, h100_probe: dict[str, Any]) -> Hardware:
    template = from_probe("h100", h100_probe)
    spec = DERIVED[key]
    attributes = {**template.attributes, **spec["attributes"]}
    launch_ns, sync_ns = HOST_COSTS_NS[key]
    datasheet, link = DATASHEET_SOURCES[key]
    return template.model_copy(update={
        "key": key,
        "compute_capability": ComputeCapability(major=attributes[75], minor=attributes[76]),
        "sm_count": attributes[16],
        "l2_cache_bytes": attributes[38],
        "attributes": attributes,
        "launch_latency_ns": launch_ns,
        "sync_latency_ns": sync_ns,
        "uuid": uuid.uuid5(uuid.NAMESPACE_URL, f"revati-search/hardware/{key}").hex,
        "source": (f"derived, not measured: {spec['note']}; attributes from the H100 probe ({PROBE_DATE}) with "
                   "these differences; context reservation and host costs copied from the H100"),
        "sources": _sources(datasheet, link, "derived from the H100 probe: " + spec["note"],
                            "copied from the H100 (no probe of this GPU)"),
        **spec["entry"],
        **DATASHEET[key],
    })


def _sources(datasheet: str, link: str, attributes: str, host: str) -> dict[str, str]:
    return {
        "peak_flops": datasheet, "memory_bandwidth_bytes_per_s": datasheet,
        "nvlink_bandwidth_bytes_per_s": datasheet, "pcie_bandwidth_bytes_per_s": link,
        "attributes": attributes, "name": attributes, "sm_count": attributes, "total_memory_bytes": attributes,
        "l2_cache_bytes": attributes, "max_sm_clock_mhz": attributes, "max_memory_clock_mhz": attributes,
        "power_limit_w": attributes, "context_reserved_bytes": host, "launch_latency_ns": host,
        "sync_latency_ns": host, "price_per_gpu_hour_usd": SRC_PRICE,
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
        sources=_sources(DATASHEET_SOURCES[key][0], DATASHEET_SOURCES[key][1],
                         f"probe of a real {probe['cu_name']} ({PROBE_DATE}, measured/{PROBES[key]})",
                         f"probe ({PROBE_DATE}): {HOST_COSTS_NOTE[key]}"),
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
        "sources": _sources(SRC_A100, SRC_PCIE_GEN4,
                            "derived from the H100 probe with the A100's differences from A100 deviceQuery and "
                            "cudaGetDeviceProperties dumps and the CUDA guide's cc 8.0 limits",
                            "copied from the H100 (no probe of this GPU)"),
        **A100,
        **DATASHEET["a100"],
    })


def build() -> list[Hardware]:
    probes = {key: json.loads((MEASURED / name).read_text()) for key, name in PROBES.items()}
    entries = [from_probe(key, probe) for key, probe in probes.items()]
    entries.append(derive_a100(probes["h100"]))
    entries += [derive(key, probes["h100"]) for key in DERIVED]
    # model_copy skips validation; re-validating catches a bad override before it is written
    return [Hardware.model_validate(entry.model_dump()) for entry in entries]


def main() -> None:
    for hardware in build():
        path = HERE / f"{hardware.key}.json"
        path.write_text(hardware.model_dump_json(indent=1) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
