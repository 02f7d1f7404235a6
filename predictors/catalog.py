"""Hardware catalog: what each target GPU reports and how fast it is.

Entries live in ``predictors/hardware/<key>.json`` and are written by ``build_catalog.py`` from
probes of real GPUs (or derived from one, as the A100 is); this module only reads them.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

HARDWARE_DIR = Path(__file__).parent / "hardware"


class HostCosts(NamedTuple):
    """The interposer's host-side costs: launch call to kernel start on an idle GPU, and GPU work
    done to the synchronizing call's return."""

    launch_latency_ns: int
    sync_latency_ns: int
    source: str  # where the figures come from, for the hardware file's comment


class ComputeCapability(BaseModel):
    model_config = ConfigDict(frozen=True)

    major: int
    minor: int


class Hardware(BaseModel):
    """One GPU model: identity, memory, peak rates, host-side costs and the raw attribute table."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    aliases: list[str] = []
    name: str  # exactly as cuDeviceGetName / nvmlDeviceGetName report it
    compute_capability: ComputeCapability
    sm_count: int = Field(gt=0)
    total_memory_bytes: int = Field(gt=0)
    # total - free right after context creation: what a fresh process can never allocate
    context_reserved_bytes: int = Field(ge=0)
    memory_bandwidth_bytes_per_s: float = Field(gt=0)
    # dense (no sparsity) peak per math type: bf16, fp16, fp8, tf32, int8 and fp64 on tensor cores,
    # fp32 on the CUDA cores; a type the GPU lacks is absent
    peak_flops: dict[str, float]
    l2_cache_bytes: int = Field(gt=0)
    nvlink_bandwidth_bytes_per_s: float = Field(gt=0)  # per direction, per GPU
    pcie_bandwidth_bytes_per_s: float = Field(gt=0)  # effective, pinned host memory, per direction
    launch_latency_ns: int = Field(ge=0)
    sync_latency_ns: int = Field(ge=0)
    uuid: str = Field(pattern=r"^[0-9a-f]{32}$")
    power_limit_w: float = Field(gt=0)
    max_sm_clock_mhz: int = Field(gt=0)
    max_memory_clock_mhz: int = Field(gt=0)
    # CUdevice_attribute number -> value (cudaDeviceAttr uses the same numbers)
    attributes: dict[int, int]
    source: str
    # a default list price for cost figures (USD per GPU-hour, on-demand cloud); studies may override
    price_per_gpu_hour_usd: float = Field(default=0.0, ge=0)
    # figure (field name, or "attributes") -> where it comes from
    sources: dict[str, str] = {}

    def host_costs(self) -> HostCosts:
        return HostCosts(self.launch_latency_ns, self.sync_latency_ns, f"catalog ({self.key})")

    def native_config(self, gpus: int, host: HostCosts | None = None, library_scale: float = 1.0) -> str:
        """The text file the C interposer reads: one ``item value`` per line; ``name`` takes the rest.
        ``host`` replaces the catalog's host costs (``predictors.base.native_config`` passes the
        predictor's: a profile's measurements). ``library_scale`` multiplies the libraries' host
        time (measured on the target's host): a run that models a slower or faster host than the
        measured one scales that CPU work as it scales the rest."""
        if gpus < 1:
            raise ValueError(f"gpus must be >= 1, got {gpus}")
        host = host or self.host_costs()
        lines = [
            f"# revati-search hardware {self.key}: {self.source}",
            f"name {self.name}",
            f"key {self.key}",
            f"gpus {gpus}",
            f"total_memory {self.total_memory_bytes}",
            f"reserved_memory {self.context_reserved_bytes}",
            f"uuid {self.uuid}",
            f"# host costs: {host.source}",
            f"launch_latency_ns {host.launch_latency_ns}",
            f"sync_latency_ns {host.sync_latency_ns}",
        ]
        library, library_source = library_host_costs(self.key)
        if library_scale != 1.0:
            library_source += f", x{library_scale:.4g} for the modelled host's CPU speed"
        lines.append(f"# library host costs: {library_source}")
        lines += [f"{item} {round(value * library_scale)}" for item, value in library.items()]
        lines += [f"attr {number} {self.attributes[number]}" for number in sorted(self.attributes)]
        return "\n".join(lines) + "\n"


LIBRARY_HOST_FILE = HARDWARE_DIR / "measured" / "library-host.json"
LIBRARY_HOST_ITEMS = ("cudnn_plan_build_ns", "cudnn_heuristics_ns", "cudnn_opgraph_ns",
                      "graph_instantiate_ns_per_node", "graph_upload_ns_per_node")


@functools.cache
def library_host_costs(key: str) -> tuple[dict[str, int], str]:
    """Host time the real libraries spend where the fakes spend none (cuDNN building an execution
    plan, ...), measured on the target's host (``hardware/measured/library-host.json``); a target
    whose host was never measured gets the default target's figures. Returns (item -> ns, source)."""
    data = json.loads(LIBRARY_HOST_FILE.read_text())
    if data.get("format") != 1:
        raise ValueError(f"{LIBRARY_HOST_FILE}: format {data.get('format')}, expected 1")
    targets = data["targets"]
    measured = key if key in targets else data["default_target"]
    entry = targets[measured]
    source = f"{measured} host, measured {entry['measured']} ({entry['versions']})"
    if measured != key:
        source = f"{key} host not measured: {source}"
    return {item: int(entry[item]) for item in LIBRARY_HOST_ITEMS}, source


def keys() -> list[str]:
    return sorted(path.stem for path in HARDWARE_DIR.glob("*.json"))


@functools.cache
def load(key: str) -> Hardware:
    """The catalog entry for ``key`` or one of its aliases (case-insensitive)."""
    wanted = key.strip().lower()
    for candidate in keys():
        hardware = _read(candidate)
        if wanted == hardware.key or wanted in hardware.aliases:
            return hardware
    raise KeyError(f"unknown hardware {key!r}; known: {', '.join(_names())}")


@functools.cache
def _read(key: str) -> Hardware:
    return Hardware.model_validate(json.loads((HARDWARE_DIR / f"{key}.json").read_text()))


def _names() -> list[str]:
    return [name for key in keys() for name in [key, *_read(key).aliases]]
