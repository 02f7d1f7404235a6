"""Two processes exchange 100 messages over a socket pair or ZeroMQ with virtual sleeps between.
Prints JSON: receive-before-send count, virtual total, sleeps, CPU time of both."""
import json
import os
import struct
import sys
import time

N, GAP_A, GAP_B = 100, 0.100, 0.040
kind = sys.argv[1]


def channel(side):
    if kind == "socket":
        return side
    import zmq
    s = zmq.Context.instance().socket(zmq.PAIR)
    if side == "parent":
        s.bind(ADDR)
    else:
        s.connect(ADDR)
    return s


if kind == "socket":
    import socket
    pa, pb = socket.socketpair()
else:
    ADDR = f"ipc:///tmp/revati-msg-{os.getpid()}.ipc"

t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    ch = pb if kind == "socket" else channel("child")
    late = 0
    for _ in range(N):
        data = ch.recv(8) if kind == "socket" else ch.recv()
        if time.monotonic() < struct.unpack("d", data)[0]:
            late += 1
        time.sleep(GAP_B)
    reply = struct.pack("dd", float(late), time.process_time())
    if kind == "socket":
        ch.sendall(reply)
    else:   # flush before _exit: ZeroMQ sends from its own I/O thread
        ch.send(reply)
        ch.close(linger=-1)
        ch.context.term()
    os._exit(0)
ch = pa if kind == "socket" else channel("parent")
for _ in range(N):
    time.sleep(GAP_A)
    msg = struct.pack("d", time.monotonic())
    ch.sendall(msg) if kind == "socket" else ch.send(msg)
data = ch.recv(16) if kind == "socket" else ch.recv()
late, child_cpu = struct.unpack("dd", data)
total = time.monotonic() - t0
os.waitpid(pid, 0)
print(json.dumps({"late": late, "virtual": total, "sleeps": N * GAP_A + GAP_B,
                  "cpu": time.process_time() + child_cpu}))
