"""What a torch.distributed NCCL all_reduce costs the emulated host: two ranks on virtual GPUs call
N back-to-back all_reduces (N in-place adds first, for scale) and print, per rank, the virtual host
time a call advanced (perf_counter) beside the CPU time it cost (thread and process). With
--cpu-scale 1 the two agree unless the clock moves for another reason (a jump).

    revati-search run --gpus 2 --cpu-scale 1 -- python benchmarks/allreduce_host_cost.py [N]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

WORLD = 2


def worker(rank: int, store_path: str, n: int) -> None:
    import torch
    import torch.distributed as dist

    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", store=dist.FileStore(store_path, WORLD), rank=rank, world_size=WORLD,
                            device_id=torch.device("cuda", rank))
    x = torch.ones(4096, device="cuda", dtype=torch.bfloat16)
    for _ in range(50):   # the communicator and the predictions are set up on first use
        dist.all_reduce(x)
        x.add_(1)
    torch.cuda.synchronize()

    def per_call(fn) -> dict[str, float]:
        c0, p0, v0 = time.thread_time(), time.process_time(), time.perf_counter()
        for _ in range(n):
            fn()
        c1, p1, v1 = time.thread_time(), time.process_time(), time.perf_counter()
        return {"host_us": (v1 - v0) / n * 1e6, "thread_cpu_us": (c1 - c0) / n * 1e6,
                "process_cpu_us": (p1 - p0) / n * 1e6}

    result = {"rank": rank, "add": per_call(lambda: x.add_(1)), "all_reduce": per_call(lambda: dist.all_reduce(x))}
    torch.cuda.synchronize()
    os.write(1, (json.dumps(result) + "\n").encode())   # one write: the ranks' lines do not interleave
    dist.destroy_process_group()


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--rank":
        worker(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
        return 0
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "store")
        procs = [subprocess.Popen([sys.executable, __file__, "--rank", str(r), store, str(n)]) for r in range(WORLD)]
        return max(p.wait(timeout=600) for p in procs)


if __name__ == "__main__":
    sys.exit(main())
