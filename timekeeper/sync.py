"""The clock page's synchronisation, from Python: futexes on its words and its process-shared robust
mutex, through libc (ctypes releases the GIL during these calls, so a wait blocks only its thread)."""
from __future__ import annotations

import ctypes
import errno
import os

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
for _fn in ("pthread_mutexattr_init", "pthread_mutexattr_setpshared", "pthread_mutexattr_setrobust",
            "pthread_mutex_init", "pthread_mutexattr_destroy", "pthread_mutex_lock", "pthread_mutex_unlock",
            "pthread_mutex_consistent"):
    getattr(_libc, _fn).restype = ctypes.c_int

SYS_FUTEX = 202          # x86-64
FUTEX_WAIT, FUTEX_WAKE = 0, 1   # not the _PRIVATE variants: the waiters are other processes
PTHREAD_PROCESS_SHARED = 1
PTHREAD_MUTEX_ROBUST = 1
INT_MAX = 2**31 - 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def futex_wait(addr: int, expected: int, timeout_s: float) -> None:
    """Sleeps while the u32 at addr equals expected, at most timeout_s; spurious returns are fine."""
    ts = _Timespec(int(timeout_s), int((timeout_s % 1) * 1e9))
    _libc.syscall(ctypes.c_long(SYS_FUTEX), ctypes.c_void_p(addr), ctypes.c_int(FUTEX_WAIT),
                  ctypes.c_uint32(expected), ctypes.byref(ts), None, ctypes.c_int(0))


def futex_wake(addr: int) -> None:
    _libc.syscall(ctypes.c_long(SYS_FUTEX), ctypes.c_void_p(addr), ctypes.c_int(FUTEX_WAKE),
                  ctypes.c_int(INT_MAX), None, None, ctypes.c_int(0))


def _check(name: str, rc: int) -> None:
    if rc:
        raise OSError(rc, f"{name}: {os.strerror(rc)}")


class SharedMutex:
    """A pthread mutex at a fixed address in shared memory, process-shared and robust: a participant
    that dies holding it hands it on (EOWNERDEAD) instead of freezing every other writer."""

    def __init__(self, addr: int) -> None:
        self.addr = ctypes.c_void_p(addr)

    def initialise(self) -> None:
        attr = (ctypes.c_int64 * 1)()   # pthread_mutexattr_t: 4 bytes on x86-64 glibc
        _check("pthread_mutexattr_init", _libc.pthread_mutexattr_init(attr))
        try:
            _check("pthread_mutexattr_setpshared", _libc.pthread_mutexattr_setpshared(attr, PTHREAD_PROCESS_SHARED))
            _check("pthread_mutexattr_setrobust", _libc.pthread_mutexattr_setrobust(attr, PTHREAD_MUTEX_ROBUST))
            _check("pthread_mutex_init", _libc.pthread_mutex_init(self.addr, attr))
        finally:
            _libc.pthread_mutexattr_destroy(attr)

    def __enter__(self) -> SharedMutex:
        rc = _libc.pthread_mutex_lock(self.addr)
        if rc == errno.EOWNERDEAD:   # its holder died mid-update: the caller repairs what it guards
            rc = _libc.pthread_mutex_consistent(self.addr)
        _check("pthread_mutex_lock", rc)
        return self

    def __exit__(self, *exc: object) -> None:
        _check("pthread_mutex_unlock", _libc.pthread_mutex_unlock(self.addr))
