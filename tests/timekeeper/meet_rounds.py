"""Two processes do CPU work and meet, round after round, alternately placed on two cores and pinned
together to one (each process sets its own affinity at the start of a round). Interleaving the
placements inside one run makes them share everything else that changes a program's CPU cost between
runs on a VM (memory layout, the host's speed drifting), so the comparison sees only the placement.

Prints JSON: per placement, each round's duration on the monotonic clock (the meeting minus the round's
start, as A sees it: virtual time when emulated, wall time when not) and A's and B's CPU time in it.

    python meet_rounds.py [ROUNDS_PER_PLACEMENT] [A_ITERATIONS] [B_ITERATIONS]
"""
import json
import os
import socket
import struct
import sys
import time

from cpu_loop import work

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 12
A_N = int(sys.argv[2]) if len(sys.argv) > 2 else 400_000
B_N = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
CPUS = sorted(os.sched_getaffinity(0))
if len(CPUS) < 2:
    sys.exit("meet_rounds.py needs two CPUs")
PLACEMENTS = {"two cores": (CPUS[1], CPUS[0]), "one core": (CPUS[0], CPUS[0])}
ORDER = [name for _ in range(ROUNDS) for name in PLACEMENTS]


a, b = socket.socketpair()
pid = os.fork()
if pid == 0:   # B: more work, then tell A it is ready and wait for the next round
    a.close()
    for name in ORDER:
        os.sched_setaffinity(0, {PLACEMENTS[name][1]})
        b.recv(1)                                   # the round starts
        c0 = time.thread_time()
        work(B_N)
        b.sendall(struct.pack("d", time.thread_time() - c0))
    os._exit(0)
b.close()
rounds: dict[str, list[dict[str, float]]] = {name: [] for name in PLACEMENTS}
for name in ORDER:
    os.sched_setaffinity(0, {PLACEMENTS[name][0]})
    v0, c0 = time.monotonic(), time.thread_time()
    a.sendall(b"g")
    work(A_N)
    a_cpu = time.thread_time() - c0
    b_cpu = struct.unpack("d", a.recv(8))[0]
    rounds[name].append({"virtual": time.monotonic() - v0, "a_cpu": a_cpu, "b_cpu": b_cpu})
os.waitpid(pid, 0)
print(json.dumps(rounds))
