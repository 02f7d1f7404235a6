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

_ROW = re.compile(r"^\s*\d+:\s+[0-9a-f]+\s+(\d+)\s+(FUNC|OBJECT)\s+(GLOBAL|WEAK)\s+DEFAULT\s+\d+\s+(\S+)")


def parse_readelf(text: str) -> list[tuple[str, str, int, str]]:
    """Rows (name, kind, size, version node or '') of every defined global function/object."""
    rows = {}
    for line in text.splitlines():
        m = _ROW.match(line)
        if not m:
            continue
        size, kind, _, sym = m.groups()
        name, _, version = sym.partition("@")
        version = version.lstrip("@")
        if name.startswith("_") and name in ("_init", "_fini"):
            continue
        rows[name] = (name, kind, int(size), version)
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
