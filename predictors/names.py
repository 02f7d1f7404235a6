"""Kernel names: demangling (as kineto and c++filt print them) and the normalised forms by which a
kernel seen on virtual GPUs is matched to one measured on a real GPU, across torch versions.

torch releases rename kernels in small ways (a template argument added, lambdas renumbered), so a
name that has no exact match is matched by its normalised token sequence, then by its token set,
then by the closest token set among kernels of the same template (see ``candidates``).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import re

_LIB = None


def _libstdcxx() -> ctypes.CDLL | None:
    global _LIB
    if _LIB is None:
        for name in ("libstdc++.so.6", ctypes.util.find_library("stdc++")):
            if not name:
                continue
            try:
                lib = ctypes.CDLL(name)
                fn = lib.__cxa_demangle
                fn.restype = ctypes.c_void_p
                fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t),
                               ctypes.POINTER(ctypes.c_int)]
                _LIB = lib
                break
            except (OSError, AttributeError):
                continue
        else:
            _LIB = False  # type: ignore[assignment]
    return _LIB or None


_free = ctypes.CDLL(None).free if hasattr(ctypes.CDLL(None), "free") else None
if _free is not None:
    _free.argtypes = [ctypes.c_void_p]


@functools.lru_cache(maxsize=65536)
def demangle(name: str) -> str:
    """``_Z...`` names demangled with the C++ runtime's __cxa_demangle; others as they are."""
    if not name.startswith("_Z"):
        return name
    lib = _libstdcxx()
    if lib is None:
        return name
    status = ctypes.c_int(0)
    out = lib.__cxa_demangle(name.encode(), None, None, ctypes.byref(status))
    if status.value != 0 or not out:
        return name
    try:
        return ctypes.string_at(out).decode(errors="replace")
    finally:
        if _free is not None:
            _free(out)


_LAMBDA_NUMBER = re.compile(r"\)#\d+\}")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+")
_NOISE = {"anonymous", "void", "const", "operator", "lambda", "std", "at", "native", "anonymous", "namespace", "false", "true",
          "ul", "u", "unsigned", "int", "char", "long", "c10", "detail", "cuda", "array", "TensorIteratorBase",
          "TensorIterator"}


def _head(name: str) -> str:
    """The name without its parameter list: up to the first '(' outside template brackets."""
    name = name.replace("(anonymous namespace)", "{anonymous}")
    depth = 0
    for i, ch in enumerate(name):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "(" and depth == 0 and i > 0:
            return name[:i]
    return name


@functools.lru_cache(maxsize=65536)
def tokens(name: str) -> tuple[str, ...]:
    head = _LAMBDA_NUMBER.sub(")}", _head(demangle(name)))
    return tuple(t for t in _TOKEN.findall(head) if t not in _NOISE)


@functools.lru_cache(maxsize=65536)
def template(name: str) -> str:
    """The kernel's own (function template) name, e.g. ``vectorized_elementwise_kernel``."""
    head = _head(demangle(name))
    base = head.split("<", 1)[0].strip()
    if not base:
        return head
    return base.rsplit("::", 1)[-1].split()[-1] if base.rsplit("::", 1)[-1].split() else base


def level1(name: str) -> str:
    return " ".join(tokens(name))


def level2(name: str) -> str:
    return " ".join(sorted(set(t for t in tokens(name) if not t.isdigit())))


def similarity(a: str, b: str) -> float:
    ta, tb = set(tokens(a)), set(tokens(b))
    return len(ta & tb) / max(1, len(ta | tb))
