"""Regenerate the ABI lists (interpose/abi/cu<major>/<soname>.abi) from real CUDA libraries.

The lists are the exported symbols of each real library, read with `readelf --dyn-syms`; the build
generates a counting stub for every one that has no hand-written behaviour, so the fakes export the
complete ABI. Usage:

    python -m interpose.abi.extract cu13 path/to/libcudart.so.13 ... [saved-readelf-output.syms ...]

A `.syms` file is saved `readelf -W --dyn-syms` output (how the driver and NVML lists were taken on a
GPU host); its library name is given as `soname=file.syms`.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

_RUNTIME_PREFIXES = ("std::", "__gnu_cxx::", "__cxxabiv1::", "operator new", "operator delete")
_RUNTIME_WRAPPERS = re.compile(r"^(transaction clone for |typeinfo for |typeinfo name for |vtable for |VTT for |guard variable for )")


def _is_cxx_runtime(names: list[str]) -> set[str]:
    """Mangled names that belong to the C++ standard library a CUDA library linked statically."""
    if not names:
        return set()
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True).stdout
    return {m for m, d in zip(names, out.splitlines()) if _RUNTIME_WRAPPERS.sub("", d).startswith(_RUNTIME_PREFIXES)}


_ROW = re.compile(r"^\s*\d+:\s+[0-9a-f]+\s+(\d+)\s+(FUNC|OBJECT)\s+(GLOBAL|WEAK)\s+DEFAULT\s+\d+\s+(\S+)")


def parse_readelf(text: str) -> list[tuple[str, str, int, str]]:
    """Rows (name, kind, size, version node or '') of every defined global function/object.

    C++ standard-library symbols (weak template instances, statically linked libstdc++) are left
    out: a preloaded fake exporting them would replace the process's own libstdc++."""
    rows = {}
    for line in text.splitlines():
        m = _ROW.match(line)
        if not m:
            continue
        size, kind, binding, sym = m.groups()
        name, _, version = sym.partition("@")
        if binding == "WEAK" and name.startswith("_Z"):
            continue
        version = version.lstrip("@")
        if name.startswith("_") and name in ("_init", "_fini"):
            continue
        rows[name] = (name, kind, int(size), version)
    for name in _is_cxx_runtime([n for n in rows if n.startswith("_Z")]):
        del rows[name]
    return sorted(rows.values())


def write_abi(out_dir: Path, soname: str, rows) -> Path:
    out = out_dir / f"{soname}.abi"
    with out.open("w") as f:
        f.write(f"# exported symbols of the real {soname}: name kind size version-node\n")
        for name, kind, size, version in rows:
            f.write(f"{name} {kind} {size} {version or '-'}\n")
    return out


def main(argv: list[str]) -> None:
    major, *sources = argv
    out_dir = Path(__file__).parent / major
    out_dir.mkdir(exist_ok=True)
    for src in sources:
        if "=" in src:
            soname, path = src.split("=", 1)
            text = Path(path).read_text()
        else:
            path = Path(src)
            soname = path.name
            text = subprocess.run(["readelf", "-W", "--dyn-syms", str(path)], check=True,
                                  capture_output=True, text=True).stdout
        rows = parse_readelf(text)
        print(f"{soname}: {len(rows)} symbols -> {write_abi(out_dir, soname, rows)}")


if __name__ == "__main__":
    main(sys.argv[1:])
