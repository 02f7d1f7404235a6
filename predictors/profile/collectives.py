"""NCCL collective curves on several GPUs of one host: torch.distributed over NCCL, one process per
GPU (subprocesses meeting through a FileStore), bf16 buffers from 4 KiB to 1 GiB in x4 steps.

    python -m predictors.profile.collectives sweep --out DIR [--ranks 2,4] [--budget-s 150] [--quick]
    python -m predictors.profile.collectives pack --gpu h200 [--also-for h100] DIR/collectives.json[.gz] ...

Timing: per item, warm-up calls, then a barrier and a sleep kernel that holds every rank's stream
while the host enqueues all timed iterations, so the ranks run them back to back in lockstep (the
first iteration absorbs the ranks' arrival skew, the median drops it). Each iteration is bracketed
by CUDA events on the calling stream, as a torch program sees the call (the NCCL kernel on its own
stream plus the two stream handoffs); an iteration's duration is the largest over the ranks, and
the item's is the median over iterations.

NVLink SHARP (multicast) stays off unless the environment turns it on (NCCL_NVLS_ENABLE defaults to
0 here; the lending machines require it), so all_reduce runs NCCL's ring/tree algorithms; the
values in effect are recorded in the meta.

Only torch and the standard library are needed (no pydantic): this runs on a bare GPU image;
``pack`` reads the catalog only to check an ``--also-for`` GPU's NVLink figure.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from predictors.profile import grid

FORMAT = 1
ENV_DEFAULTS = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}
ELEMENT_BYTES = 2  # bf16
SLEEP_CYCLES = 4_000_000  # ~2 ms at 2 GHz: longer than the host takes to enqueue the timed iterations
QUICK_BYTES = [4096, 65536, 1 << 20]
PROFILES = Path(__file__).resolve().parents[1] / "profiles"


def log(msg: str) -> None:
    print(f"[collectives {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---- one rank -----------------------------------------------------------------------------------

def _collective(name: str, nbytes: int, world: int, device: Any) -> Callable[[], object]:
    import torch
    import torch.distributed as dist

    n_in, n_out = grid.collective_buffers(name, nbytes, world)
    x = torch.randn(n_in // ELEMENT_BYTES, device=device, dtype=torch.bfloat16)
    if name == "all_reduce":
        return lambda: dist.all_reduce(x)
    if name == "broadcast":
        return lambda: dist.broadcast(x, 0)
    if name == "reduce":
        return lambda: dist.reduce(x, 0)
    y = torch.empty(n_out // ELEMENT_BYTES, device=device, dtype=torch.bfloat16)
    if name == "all_gather":
        return lambda: dist.all_gather_into_tensor(y, x)
    if name == "reduce_scatter":
        return lambda: dist.reduce_scatter_tensor(y, x)
    if name == "all_to_all":
        return lambda: dist.all_to_all_single(y, x)
    raise ValueError(f"unknown collective {name!r}")


def _time(fn: Callable[[], object], warmup: int, iters: int) -> list[int]:
    """ns of each timed iteration on this rank (see the module's docstring)."""
    import torch
    import torch.distributed as dist

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    dist.barrier()
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(iters)]
    torch.cuda._sleep(SLEEP_CYCLES)
    for start, end in events:
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize()
    return [round(start.elapsed_time(end) * 1e6) for start, end in events]


def worker(spec_path: Path, rank: int) -> int:
    import warnings

    import torch
    import torch.distributed as dist

    # newer torch renames all_gather_into_tensor / reduce_scatter_tensor; the old names still work
    warnings.filterwarnings("ignore", category=FutureWarning, module="torch.distributed")

    spec = json.loads(spec_path.read_text())
    world: int = spec["world"]
    device = torch.device("cuda", rank)
    torch.cuda.set_device(device)
    store = dist.FileStore(spec["store"], world)
    dist.init_process_group("nccl", store=store, rank=rank, world_size=world, device_id=device)
    nccl = torch.cuda.nccl.version()
    record: dict[str, Any] = {
        "rank": rank, "gpu": torch.cuda.get_device_name(device), "torch": torch.__version__, "cuda": torch.version.cuda,
        "nccl": ".".join(map(str, nccl)) if isinstance(nccl, tuple) else str(nccl), "samples": {}, "complete": False,
    }
    out = Path(spec["out"])
    stopped = False
    for name in spec["names"]:
        for nbytes in spec["bytes"]:
            key = grid.collective_key(name, world, nbytes)
            # rank 0 decides for all whether time is left (a rank that stopped alone would hang the
            # rest), through the store: host-side, so it also holds where kernels do not run
            if rank == 0:
                store.set(key, "go" if time.time() < spec["deadline"] else "stop")
            if store.get(key) != b"go":
                stopped = True
                break
            fn = _collective(name, nbytes, world, device)
            record["samples"][key] = _time(fn, spec["warmup"], spec["iters"])
            del fn
        torch.cuda.empty_cache()
        (out / f"rank{rank}.json").write_text(json.dumps(record, separators=(",", ":")))
        if stopped:
            break
    record["complete"] = not stopped
    (out / f"rank{rank}.json").write_text(json.dumps(record, separators=(",", ":")))
    dist.barrier()
    dist.destroy_process_group()
    return 0


# ---- the sweep ----------------------------------------------------------------------------------

def merge(samples: dict[str, list[list[int]]]) -> dict[str, dict[str, Any]]:
    """Per item (key -> each rank's iteration times): the median over iterations of the
    iteration's time averaged over the ranks. Back to back, a rank that finished one iteration
    early waits at the start of the next, so one rank's times alternate long and short while their
    mean over the ranks stays the period a program sees; the slowest rank's would overstate it."""
    rows: dict[str, dict[str, Any]] = {}
    for key, per_rank in samples.items():
        mean = sorted(sum(values) / len(values) for values in zip(*per_rank))
        med = statistics.median(mean)
        p10, p90 = mean[len(mean) // 10], mean[(9 * len(mean)) // 10]
        _, name, ranks, nbytes = key.split("|")
        rows[key] = {"name": name, "ranks": int(ranks), "bytes": int(nbytes), "ns": round(med),
                     "spread": round((p90 - p10) / med, 3) if med else 0.0, "iters": len(mean)}
    return rows


def _host_meta() -> dict[str, Any]:
    info: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "host": platform.node(), "python": sys.version.split()[0],
                            "env": {k: os.environ.get(k) for k in ENV_DEFAULTS}}
    for key, args in [("nvidia_smi", ["--query-gpu=name,driver_version,clocks.max.sm,power.limit", "--format=csv,noheader"]),
                      ("topology", ["topo", "-m"])]:
        try:
            info[key] = subprocess.run(["nvidia-smi", *args], capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            info[key] = None
    info["topology"] = topology(info["topology"])
    return info


def topology(text: str | None) -> str | None:
    """``nvidia-smi topo -m``'s matrix without its legend and terminal escapes."""
    if text is None:
        return None
    text = re.sub(r"\x1b\[[0-9;]*m", "", text).split("Legend:")[0].strip()
    return "\n".join(line.rstrip() for line in text.splitlines())


def busbw_gb_s(name: str, ranks: int, nbytes: int, ns: float) -> float:
    """NCCL's bus bandwidth (nccl-tests' definition): algorithm bandwidth times the ring's share of
    the buffer each rank sends."""
    share = {"all_reduce": 2 * (ranks - 1) / ranks, "broadcast": 1.0, "reduce": 1.0}.get(name, (ranks - 1) / ranks)
    return nbytes / ns * share


def sweep(out: Path, ranks: list[int], budget_s: float = 150.0, warmup: int = 5, iters: int = 20,
          quick: bool = False, names: list[str] | None = None) -> dict[str, Any]:
    """Measure every collective at every size for each world size in ``ranks`` (one set of worker
    processes each, on GPUs 0..n-1); results accumulate in ``out/collectives.json``."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "collectives.json"
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {
        "format": FORMAT, "meta": {}, "rows": {}, "samples": {}, "runs": []}
    for k, v in ENV_DEFAULTS.items():
        os.environ.setdefault(k, v)
    data["meta"] = data["meta"] or _host_meta()
    deadline = time.time() + budget_s
    sizes = QUICK_BYTES if quick else grid.COLLECTIVE_BYTES
    names = names or grid.COLLECTIVE_NAMES
    for world in ranks:
        todo = [grid.collective_key(n, world, b) for n in names for b in grid.collective_sizes(world, sizes)]
        if all(k in data["rows"] for k in todo):
            continue
        if time.time() > deadline - 20:
            log(f"{world} ranks: budget reached; run again to resume")
            break
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="rv-coll-") as tmp:
            spec = {"world": world, "store": str(Path(tmp) / "store"), "out": tmp, "names": names, "bytes": grid.collective_sizes(world, sizes),
                    "warmup": 1 if quick else warmup, "iters": 3 if quick else iters, "deadline": deadline - 10}
            spec_path = Path(tmp) / "spec.json"
            spec_path.write_text(json.dumps(spec))
            procs = [subprocess.Popen([sys.executable, "-m", "predictors.profile.collectives", "worker", str(spec_path), str(r)])
                     for r in range(world)]
            # a rank that fails leaves the others waiting in NCCL for ever: end them at once
            while any(p.poll() is None for p in procs):
                if any(p.poll() for p in procs) or time.time() > deadline + 60:
                    for p in procs:
                        if p.poll() is None:
                            p.kill()
                time.sleep(0.2)
            codes = [p.wait() for p in procs]
            records = []
            for r in range(world):
                f = Path(tmp) / f"rank{r}.json"
                if f.exists():
                    records.append(json.loads(f.read_text()))
        if len(records) != world:
            log(f"{world} ranks: failed (exit codes {codes}); no results")
            data["runs"].append({"ranks": world, "exit": codes, "complete": False})
            continue
        samples = {k: [r["samples"][k] for r in records] for k in records[0]["samples"]
                   if all(k in r["samples"] for r in records)}
        rows = merge(samples)
        data["rows"].update(rows)
        data["samples"].update(samples)
        first = records[0]
        data["meta"].setdefault("ranks", {})[str(world)] = {k: first[k] for k in ("gpu", "torch", "cuda", "nccl")}
        complete = all(r["complete"] for r in records)
        data["runs"].append({"ranks": world, "exit": codes, "complete": complete, "items": len(rows),
                             "seconds": round(time.monotonic() - t0, 1)})
        path.write_text(json.dumps(data, separators=(",", ":")))
        note = "" if complete else f" (a rank failed: exit codes {codes})" if any(codes) else " (stopped at the budget)"
        log(f"{world} ranks: {len(rows)} items in {time.monotonic() - t0:.1f} s{note}")
    path.write_text(json.dumps(data, separators=(",", ":")))
    summary(data["rows"].values())
    return data


def summary(rows: Any) -> None:
    by: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in rows:
        by.setdefault((r["name"], r["ranks"]), []).append(r)
    for (name, ranks), rs in sorted(by.items()):
        rs.sort(key=lambda r: r["bytes"])
        cells = "  ".join(f"{_size(r['bytes'])} {r['ns'] / 1e3:.1f}us" for r in rs)
        last = rs[-1]
        print(f"{name:14s} x{ranks}: {cells}  | busbw at {_size(last['bytes'])} "
              f"{busbw_gb_s(name, ranks, last['bytes'], last['ns']):.0f} GB/s", flush=True)


def _size(n: int) -> str:
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= 0.99 * scale:  # sizes on 3 GPUs are rounded down to whole elements per rank
            return f"{n / scale:.0f}{unit}"
    return str(n)


# ---- packing ------------------------------------------------------------------------------------

def pack(raws: list[dict[str, Any]], key: str, nvlink_bytes_per_s: float, also_for: list[str]) -> dict[str, Any]:
    """The shipped form: one row per (name, ranks, bytes); where raw files repeat an item, the
    later file wins. ``also_for``: catalog keys with the same NVLink figure that use these curves."""
    rows: dict[str, dict[str, Any]] = {}
    meta = []
    for raw in raws:
        if raw.get("format") != FORMAT:
            raise ValueError(f"collectives format {raw.get('format')}, expected {FORMAT}")
        measured = merge(raw["samples"])
        rows.update(measured)
        m = dict(raw["meta"])
        m["topology"] = topology(m.get("topology"))
        m["ranks_measured"] = sorted({r["ranks"] for r in measured.values()})
        meta.append(m)
    ordered = sorted(rows.values(), key=lambda r: (grid.COLLECTIVE_NAMES.index(r["name"]), r["ranks"], r["bytes"]))
    return {
        "format": FORMAT, "gpu": key, "nvlink_bandwidth_bytes_per_s": nvlink_bytes_per_s, "also_for": also_for,
        "meta": meta,
        "columns": ["name", "ranks", "bytes", "ns", "spread"],
        "rows": [[r["name"], r["ranks"], r["bytes"], r["ns"], r["spread"]] for r in ordered],
    }


def write(packed: dict[str, Any], key: str) -> Path:
    path = PROFILES / key / "collectives.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    # one line per key, one row per line: small diffs, readable
    head = [f" {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in packed.items() if k != "rows"]
    body = ",\n".join("  " + json.dumps(r, separators=(",", ":")) for r in packed["rows"])
    path.write_text("{\n" + ",\n".join(head) + ',\n "rows": [\n' + body + "\n ]\n}\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m predictors.profile.collectives", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sweep", help="measure on this host's GPUs")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--ranks", default="", help="world sizes, comma-separated (default: 2, 4, 8 up to the GPUs here)")
    s.add_argument("--budget-s", type=float, default=150.0)
    s.add_argument("--warmup", type=int, default=5)
    s.add_argument("--iters", type=int, default=20)
    s.add_argument("--names", default=",".join(grid.COLLECTIVE_NAMES))
    s.add_argument("--quick", action="store_true", help="three sizes, three iterations (to test the harness)")
    w = sub.add_parser("worker", help=argparse.SUPPRESS)
    w.add_argument("spec", type=Path)
    w.add_argument("rank", type=int)
    p = sub.add_parser("pack", help="write predictors/profiles/<gpu>/collectives.json from sweep outputs")
    p.add_argument("--gpu", required=True)
    p.add_argument("--also-for", default="", help="catalog keys with the same NVLink figure that use these curves")
    p.add_argument("raw", type=Path, nargs="+")
    a = ap.parse_args(argv)
    if a.command == "worker":
        return worker(a.spec, a.rank)
    if a.command == "sweep":
        if a.ranks:
            ranks = [int(x) for x in a.ranks.split(",") if x.strip()]
        else:
            import torch

            ranks = [n for n in (2, 4, 8) if n <= torch.cuda.device_count()]
        sweep(a.out, ranks, a.budget_s, a.warmup, a.iters, a.quick, [n for n in a.names.split(",") if n])
        return 0
    from predictors.catalog import load

    nvlink = load(a.gpu).nvlink_bandwidth_bytes_per_s
    also = [k for k in a.also_for.split(",") if k]
    for other in also:
        if load(other).nvlink_bandwidth_bytes_per_s != nvlink:
            raise SystemExit(f"{other}: NVLink {load(other).nvlink_bandwidth_bytes_per_s:.3g} B/s differs from "
                             f"{a.gpu}'s {nvlink:.3g}: its collectives are not these")
    raws = [json.loads(gzip.decompress(r.read_bytes()) if r.suffix == ".gz" else r.read_text()) for r in a.raw]
    path = write(pack(raws, a.gpu, nvlink, also), a.gpu)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
