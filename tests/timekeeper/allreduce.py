"""One rank of a 2-process torch.distributed NCCL all-reduce on virtual GPUs: the ranks do different
amounts of work first. Prints JSON: rank, virtual time when the all-reduce finished, event times."""
import json
import sys
import time

import torch
import torch.distributed as dist

rank, store = int(sys.argv[1]), sys.argv[2]
torch.cuda.set_device(rank)
dist.init_process_group("nccl", init_method=f"file://{store}", rank=rank, world_size=2)
buf = torch.zeros(16 * 2**20, device="cuda")          # 64 MiB
dist.all_reduce(buf)                                   # the communicator is set up on first use
torch.cuda.synchronize()
time.sleep(0.010 if rank == 0 else 0.030)              # different amounts of host-side work
before = torch.cuda.Event(enable_timing=True)
after = torch.cuda.Event(enable_timing=True)
before.record()
dist.all_reduce(buf)
after.record()
torch.cuda.synchronize()
print(json.dumps({"rank": rank, "done_s": time.monotonic(), "span_ms": before.elapsed_time(after)}))
dist.destroy_process_group()
