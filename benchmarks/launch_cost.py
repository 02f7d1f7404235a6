"""CPU cost of faked CUDA work, and start-up cost, on this machine. Prints measured figures.

    python benchmarks/launch_cost.py [--reps 7]

- native: <<<>>> launches of an empty kernel from an nvcc program (-cudart shared), per launch
- torch: `x.add_(1)` on a virtual GPU (torch dispatcher + faked launch), per op
- start-up: `import torch` + CUDA init + first allocation, under the launcher vs import alone
Medians of --reps runs. Goal from the interposer issue: a faked launch <= 2 us median.
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

TORCH_LOOP = """
import time, torch
x = torch.zeros(1, device="cuda")
for _ in range(2000): x.add_(1)
n = 20000
t = time.perf_counter()
for _ in range(n): x.add_(1)
print((time.perf_counter() - t) / n * 1e9)
"""
STARTUP = "import torch; torch.cuda.init(); torch.empty(1, device='cuda'); torch.cuda.synchronize()"


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, VirtualGPUs(VirtualGPUConfig()) as v:
        prog = Path(tmp) / "launch_loop"
        subprocess.run(["nvcc", "-cudart", "shared", "-arch=sm_90", "-o", str(prog),
                        str(ROOT / "benchmarks" / "launch_loop.cu")], check=True)
        out = subprocess.run([str(prog), "200000", str(a.reps)], env=v.env(), check=True,
                             capture_output=True, text=True).stdout
        native = [float(line.split()[1]) for line in out.splitlines() if line.startswith("launch_ns")]
        torch_ns = [float(subprocess.run([sys.executable, "-c", TORCH_LOOP], env=v.env(), check=True,
                                         capture_output=True, text=True).stdout) for _ in range(a.reps)]
        virt = [timed([sys.executable, "-c", STARTUP], v.env()) for _ in range(a.reps)]
    plain = [timed([sys.executable, "-c", "import torch"]) for _ in range(a.reps)]
    print(f"faked kernel launch (native <<<>>>): median {statistics.median(native) / 1e3:.3f} us "
          f"(min {min(native) / 1e3:.3f}, max {max(native) / 1e3:.3f}; {a.reps} runs x 200000 launches)")
    print(f"torch x.add_(1) on a virtual GPU:    median {statistics.median(torch_ns) / 1e3:.3f} us per op")
    print(f"start-up, import torch + CUDA init + first alloc under the launcher: median {statistics.median(virt):.2f} s")
    print(f"start-up, import torch alone (no CUDA):                              median {statistics.median(plain):.2f} s")


if __name__ == "__main__":
    main()
