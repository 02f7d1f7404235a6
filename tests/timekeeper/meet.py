"""Two processes do different amounts of CPU work, then meet over a socket (A sends, B replies).
Prints JSON with each side's virtual time at the meeting points."""
import json
import os
import socket
import struct
import time


def work(n):
    x = 0
    for i in range(n):
        x += i * i
    return x


a, b = socket.socketpair()
t0 = time.monotonic()
pid = os.fork()
if pid == 0:   # B: more work, then receive A's message and reply
    a.close()
    work(4_000_000)
    b_ready = time.monotonic() - t0
    sent = struct.unpack("d", b.recv(8))[0]
    got = time.monotonic() - t0
    b.sendall(struct.pack("ddd", b_ready, sent, got))
    os._exit(0)
b.close()
work(1_500_000)
a_send = time.monotonic() - t0
a.sendall(struct.pack("d", a_send))
b_ready, sent, got = struct.unpack("ddd", a.recv(24))
a_done = time.monotonic() - t0
os.waitpid(pid, 0)
print(json.dumps({"a_send": a_send, "b_ready": b_ready, "b_recv": got, "a_done": a_done}))
