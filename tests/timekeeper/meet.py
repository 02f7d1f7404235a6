"""Two processes do different amounts of CPU work, then meet over a socket (A sends, B replies).
Prints JSON: each side's virtual time at the meeting points, and for its work the CPU time it used
and the virtual time that passed."""
import json
import os
import socket
import struct
import time

from cpu_loop import work


a, b = socket.socketpair()
t0 = time.monotonic()
pid = os.fork()
if pid == 0:   # B: more work, then receive A's message and reply
    a.close()
    c0, v0 = time.process_time(), time.monotonic()
    work(4_000_000)
    b_ready, b_cpu, b_work = time.monotonic() - t0, time.process_time() - c0, time.monotonic() - v0
    sent = struct.unpack("d", b.recv(8))[0]
    got = time.monotonic() - t0
    b.sendall(struct.pack("ddddd", b_ready, b_cpu, b_work, sent, got))
    os._exit(0)
b.close()
c0, v0 = time.process_time(), time.monotonic()
work(1_500_000)
a_send, a_cpu, a_work = time.monotonic() - t0, time.process_time() - c0, time.monotonic() - v0
a.sendall(struct.pack("d", a_send))
b_ready, b_cpu, b_work, sent, got = struct.unpack("ddddd", a.recv(40))
a_done = time.monotonic() - t0
os.waitpid(pid, 0)
print(json.dumps({"a_send": a_send, "a_cpu": a_cpu, "a_work": a_work, "b_ready": b_ready, "b_cpu": b_cpu,
                  "b_work": b_work, "b_recv": got, "a_done": a_done}))
