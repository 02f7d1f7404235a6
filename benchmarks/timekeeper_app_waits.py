"""How fast the clock jumps while threads sit in timed waits on the application's own primitives
(poll/select/epoll, condition and semaphore timeouts). Prints wall times (medians of --reps runs).

    python benchmarks/timekeeper_app_waits.py [--reps 3] [--sleeps 50] [--gloo]

- epoll loop: one emulated process; a thread loops on an epoll_wait with a 10 ms timeout (what
  gloo's transport thread does) beside the main thread doing --sleeps virtual sleeps of 39 ms
- queue loop: the same with a queue.get(timeout=0.01) loop (a semaphore timed wait)
- --gloo: two emulated processes in one torch.distributed gloo group (its loop thread is that
  epoll_wait) each doing --sleeps virtual sleeps of 39 ms; then the same with what a
  tensor-parallel rank has besides: a CUDA context on its own virtual GPU and an NCCL group (needs
  torch)

The wall time counted is the sleeps' alone: each process prints a line before and after them and
this script times the lines as they arrive (interpreter start-up, imports and the gloo rendezvous
are not counted).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from interpose.launcher import VirtualGPUConfig, VirtualGPUs  # noqa: E402

SLEEPS = """
import sys, threading, time
{setup}
n = int(sys.argv[1])
print("start", flush=True)
t0 = time.monotonic()
for _ in range(n): time.sleep(0.039)
print("end", round(time.monotonic() - t0, 6), flush=True)
{teardown}
"""
EPOLL = """
import select
def loop():
    ep = select.epoll()
    while True: ep.poll(0.01)
threading.Thread(target=loop, daemon=True).start()
"""
QUEUE = """
import queue
def loop():
    q = queue.Queue()
    while True:
        try: q.get(timeout=0.01)
        except queue.Empty: pass
threading.Thread(target=loop, daemon=True).start()
"""
GLOO = """
import torch.distributed as dist
rank, store = int(sys.argv[2]), sys.argv[3]
dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
dist.barrier()
"""
GLOO_END = "dist.barrier(); dist.destroy_process_group()"
# as a tensor-parallel rank has it: a CUDA context on its virtual GPU, an NCCL group and a gloo group
TP = """
import torch, torch.distributed as dist
rank, store = int(sys.argv[2]), sys.argv[3]
torch.cuda.set_device(rank)
dist.init_process_group("nccl", init_method=f"file://{store}", rank=rank, world_size=2, device_id=torch.device("cuda", rank))
cpu = dist.new_group(backend="gloo")
dist.all_reduce(torch.ones(4, device="cuda"))
dist.barrier(group=cpu)
"""
TP_END = "dist.barrier(group=cpu); dist.destroy_process_group()"


def timed(procs: list[subprocess.Popen[str]]) -> tuple[float, float]:
    """Wall seconds from the last 'start' line to the last 'end' line, and the virtual seconds."""
    starts, ends, virtual = [], [], []
    for p in procs:
        assert p.stdout
        line = p.stdout.readline()
        assert line.startswith("start"), line
        starts.append(time.perf_counter())
    for p in procs:
        assert p.stdout
        line = p.stdout.readline()
        assert line.startswith("end"), line
        ends.append(time.perf_counter())
        virtual.append(float(line.split()[1]))
    for p in procs:
        p.communicate(timeout=120)
        assert p.returncode == 0
    return max(ends) - max(starts), max(virtual)


def one(env: dict[str, str], setup: str, n: int, ranks: int = 1, teardown: str = "") -> tuple[float, float]:
    code = SLEEPS.format(setup=setup, teardown=teardown)
    with tempfile.TemporaryDirectory() as tmp:
        procs = [subprocess.Popen([sys.executable, "-c", code, str(n), str(r), str(Path(tmp) / "store")],
                                  env=env, stdout=subprocess.PIPE, text=True) for r in range(ranks)]
        try:
            return timed(procs)
        finally:
            for p in procs:
                p.kill()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--sleeps", type=int, default=50)
    ap.add_argument("--gloo", action="store_true", help="also two processes in a gloo group (needs torch)")
    a = ap.parse_args()
    cases = [("no loop thread", "", 1, ""), ("epoll loop (10 ms timeout)", EPOLL, 1, ""),
             ("queue.get loop (10 ms timeout)", QUEUE, 1, "")]
    if a.gloo:
        cases.append(("2 processes, gloo group", GLOO, 2, GLOO_END))
        cases.append(("2 processes, CUDA + NCCL group + gloo group", TP, 2, TP_END))
    with VirtualGPUs(VirtualGPUConfig(gpus=2)) as v:
        env = v.env()
        for name, setup, ranks, teardown in cases:
            runs = [one(env, setup, a.sleeps, ranks, teardown) for _ in range(a.reps)]
            walls = sorted(w for w, _ in runs)
            print(f"{name}: {a.sleeps} virtual sleeps of 39 ms (virtual {statistics.median(v for _, v in runs):.3f} s): "
                  f"wall median {statistics.median(walls):.3f} s (min {walls[0]:.3f}, max {walls[-1]:.3f})", flush=True)


if __name__ == "__main__":
    main()
