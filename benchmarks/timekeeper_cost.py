"""What virtual time costs on this machine. Prints measured figures (medians of --reps runs).

    python benchmarks/timekeeper_cost.py [--reps 5]

- clock read: time.monotonic() in an emulated process (G from the clock page) vs a plain process, and
  the floor under it: a plain process reading its CPU-time clock (a system call; an emulated read
  makes two, the thread's context switches and the process's CPU time)
- jump: wall time per virtual sleep when the process is alone (every sleep is a jump)
- the floor under a jump: a futex round trip between two threads (wake_latency.c), on two cores
  and on one (a jump wakes the monitor and the monitor wakes the sleeper)
- a one-hour time.sleep: wall time of the whole command under the launcher
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

CLOCK = """
import time
n = 200000
t = time.perf_counter_ns(); c = time.process_time_ns()
for _ in range(n): time.monotonic()
print((time.process_time_ns() - c) / n)
"""
JUMPS = """
import time
n = 2000
for _ in range(n): time.sleep(0.001)
print("ok")
"""
CPU_CLOCK = CLOCK.replace("time.monotonic()", "time.clock_gettime_ns(time.CLOCK_PROCESS_CPUTIME_ID)")
HOUR = "import time; time.sleep(3600)"


def py(code: str, env: dict[str, str] | None) -> str:
    return subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout


def wall(code: str, env: dict[str, str] | None) -> float:
    t = time.perf_counter()
    py(code, env)
    return time.perf_counter() - t


def wake_round_trip_us(pin: bool) -> float:
    """Mean futex round trip between two threads, from benchmarks/wake_latency.c."""
    with tempfile.TemporaryDirectory() as d:
        exe = Path(d) / "wake_latency"
        subprocess.run(["gcc", "-O2", "-pthread", "-o", str(exe), str(ROOT / "benchmarks" / "wake_latency.c")], check=True)
        cmd = (["taskset", "-c", "0"] if pin else []) + [str(exe)]
        return float(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    plain = [float(py(CLOCK, None)) for _ in range(a.reps)]
    cpu_clock = [float(py(CPU_CLOCK, None)) for _ in range(a.reps)]
    with VirtualGPUs(VirtualGPUConfig()) as v:
        env = v.env()
        virt = [float(py(CLOCK, env)) for _ in range(a.reps)]
        base = statistics.median(wall("pass", env) for _ in range(a.reps))
        jumps = [(wall(JUMPS, env) - base) / 2000 for _ in range(a.reps)]
        hour = [wall(HOUR, env) for _ in range(a.reps)]
    print(f"time.monotonic(), CPU per call: median {statistics.median(virt):.0f} ns emulated, "
          f"{statistics.median(plain):.0f} ns plain; a plain CPU-time clock read (one system call) "
          f"{statistics.median(cpu_clock):.0f} ns")
    print(f"virtual sleep (a jump each), wall per sleep: median {statistics.median(jumps) * 1e6:.0f} us")
    two = statistics.median(wake_round_trip_us(False) for _ in range(a.reps))
    one = statistics.median(wake_round_trip_us(True) for _ in range(a.reps))
    print(f"floor: a futex round trip between two threads, median {two:.1f} us on two cores, {one:.1f} us on one")
    print(f"python -c 'time.sleep(3600)' under the timekeeper: median {statistics.median(hour):.2f} s of wall time "
          f"(interpreter start-up {base:.2f} s)")


if __name__ == "__main__":
    main()
