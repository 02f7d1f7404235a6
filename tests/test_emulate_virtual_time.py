"""What the emulated serving runs depend on in the virtual-GPU layer.

The interposer's round trip to the predictor service for a first-seen operation (a blocking
write/read on its socket) costs real time but no virtual time: the thread must count as running
(RVTK_BUSY), or, while every other thread waits on a deadline (a load generator sleeping until the
next arrival), the clock would jump to that deadline and stretch the GPU step in flight.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = r'''
import sys, threading, time
import torch
x = torch.ones(8, device="cuda"); x.sum().item()
def work(out):
    t = time.perf_counter()
    for n in range(64, 64 + N):     # every matmul a new shape: a predictor round trip each
        y = torch.ones(n, 64, device="cuda", dtype=torch.bfloat16) @ torch.ones(64, n + 1, device="cuda", dtype=torch.bfloat16)
        y.sum().item()
    out.append(time.perf_counter() - t)
out = []
threading.Thread(target=lambda: time.sleep(10), daemon=True).start()   # a load generator's wait
t = threading.Thread(target=work, args=(out,)); t.start(); t.join()
print(out[0])
'''


def test_first_seen_operations_do_not_let_the_clock_jump():
    p = subprocess.run([sys.executable, "-c", "from revati_search.cli import app; app()", "run", "--gpu", "h100", "--",
                        sys.executable, "-c", PROGRAM.replace("N)", "100)")], capture_output=True, text=True,
                       timeout=300, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-2000:]
    elapsed = float(p.stdout.strip().splitlines()[-1])
    assert elapsed < 1.0, f"100 small matmuls took {elapsed:.3f} s of virtual time (the sleeper's deadline is 10 s)"
