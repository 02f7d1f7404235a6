"""Host time of CUDA graphs as torch makes them, on a real GPU or a virtual one (same script):
`python tools/graph_host_cost.py [--nodes 100,300,1000,3000] [--reps 5]` prints one JSON line.

Per graph size n (n small elementwise kernels): the host time of launching them eagerly, of launching
them while capturing (torch.cuda.graph), of ending the capture (torch instantiates the graph there),
of the first replay and of a later replay (each replay's host call only), medians of --reps. The
difference between real and emulated figures is host time the real driver spends that the
interposer does not.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", default="100,300,1000,3000")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    x = torch.zeros(4096, device="cuda")
    stream = torch.cuda.Stream()

    def body(n: int) -> None:
        for _ in range(n):
            x.add_(1.0)

    with torch.cuda.stream(stream):
        body(10)   # torch's and the driver's one-time work outside the timings
    torch.cuda.synchronize()
    out: dict[str, dict[str, float]] = {}
    for n in (int(v) for v in args.nodes.split(",")):
        t: dict[str, list[float]] = {k: [] for k in ("eager", "capture", "instantiate", "first_replay", "replay")}
        for _ in range(args.reps):
            torch.cuda.synchronize()
            a = time.perf_counter(); body(n); t["eager"].append(time.perf_counter() - a)
            torch.cuda.synchronize()
            g = torch.cuda.CUDAGraph()
            ctx = torch.cuda.graph(g, stream=stream)
            ctx.__enter__()
            a = time.perf_counter(); body(n); t["capture"].append(time.perf_counter() - a)
            a = time.perf_counter(); ctx.__exit__(None, None, None); t["instantiate"].append(time.perf_counter() - a)
            a = time.perf_counter(); g.replay(); t["first_replay"].append(time.perf_counter() - a)
            torch.cuda.synchronize()
            a = time.perf_counter(); g.replay(); t["replay"].append(time.perf_counter() - a)
            torch.cuda.synchronize()
            del g
        out[str(n)] = {k: round(statistics.median(v) * 1e6, 1) for k, v in t.items()}
    print(json.dumps({"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0), "us": out}))


if __name__ == "__main__":
    main()
