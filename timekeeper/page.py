"""The clock page's layout in ctypes: a field-for-field mirror of timekeeper/native/revati_clock.h
(x86-64, glibc). tests/test_timekeeper_service.py compiles the header and compares every offset and
size with these classes, so the two cannot drift apart unnoticed."""
from __future__ import annotations

import ctypes
from pathlib import Path

HEADER = Path(__file__).parent / "native" / "revati_clock.h"

MAGIC = 0x4B545652  # "RVTK"
VERSION = 4
MAX_PROCS = 64
MAX_THREADS = 1024
NO_TARGET = 2**63 - 1

PROC_FREE, PROC_LIVE, PROC_EXITED = 0, 1, 2
# rvtk_thread.in_wait: APP waits count as blocked only while the kernel has the thread asleep;
# VIRTUAL waits count as blocked whatever its kernel state (only the clock can end them)
RUNNING, WAIT_APP, WAIT_VIRTUAL, BUSY = 0, 1, 2, 3


class Proc(ctypes.Structure):
    _fields_ = [
        ("pid", ctypes.c_int32),
        ("state", ctypes.c_int32),
        ("exit_code", ctypes.c_int32),
        ("parent_slot", ctypes.c_int32),
        ("cpu_anchor_ns", ctypes.c_int64),
        ("offset_ns", ctypes.c_int64),
        ("seen_ns", ctypes.c_int64),
        ("name", ctypes.c_char * 56),
    ]


class Thread(ctypes.Structure):
    _fields_ = [
        ("tid", ctypes.c_int32),
        ("proc", ctypes.c_int32),
        ("in_wait", ctypes.c_uint32),
        ("self_wakes", ctypes.c_uint32),
        ("target", ctypes.c_int64),
        ("waits", ctypes.c_uint32),
        ("pad", ctypes.c_uint32),
        ("what", ctypes.c_char * 48),
    ]


class Mutex(ctypes.Structure):
    """pthread_mutex_t: 40 opaque bytes, 8-aligned; only libc's pthread functions touch it."""

    _fields_ = [("opaque", ctypes.c_int64 * 5)]


class Page(ctypes.Structure):
    _fields_ = [
        ("magic", ctypes.c_uint32),
        ("version", ctypes.c_uint32),
        ("seq", ctypes.c_uint32),
        ("generation", ctypes.c_uint32),
        ("notify", ctypes.c_uint32),
        ("failed", ctypes.c_uint32),
        ("anchor_virtual_ns", ctypes.c_int64),
        ("cpu_scale", ctypes.c_double),
        ("realtime_offset_ns", ctypes.c_int64),
        ("monotonic_offset_ns", ctypes.c_int64),
        ("nprocs", ctypes.c_uint32),
        ("nthreads", ctypes.c_uint32),
        ("fail_reason", ctypes.c_char * 512),
        ("lock", Mutex),
        ("procs", Proc * MAX_PROCS),
        ("threads", Thread * MAX_THREADS),
    ]


def cpu_clock_id(pid: int) -> int:
    """The Linux clockid of a process's CPU clock (CPUCLOCK_SCHED of the whole thread group)."""
    return ((~pid) << 3) | 2
