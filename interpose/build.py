"""Builds the fake CUDA libraries: one shared state core plus one library per SONAME.

Each library exports the complete ABI of the real one (the list under interpose/abi/cu<major>/, with
the same symbol version nodes): hand-written behaviour from native/lib/<name>.c, and a generated
counting stub for every other export (generated into the build folder, never edited by hand).
Needs gcc and the CUDA runtime/driver headers (cuda_runtime_api.h, cuda.h) of the major built; no GPU,
driver or network. CUDA 13 builds into interpose/lib, CUDA 12 into interpose/lib-cu12; CUDA 12 headers
come from CUDA_HOME (a 12 toolkit) or the nvidia-cuda-runtime-cu12 wheel that scripts/setup.sh puts
in .venv/cuda12 (see cuda_include).

    python -m interpose.build [--cuda-major 13|12] [--out DIR]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
NATIVE = HERE / "native"
TIMEKEEPER_NATIVE = HERE.parent / "timekeeper" / "native"   # its client lives in the core
ABI = HERE / "abi"
DEFAULT_OUT = HERE / "lib"
DEFAULT_MAJOR = 13
# Headers of a CUDA major other than the engines': the runtime wheel, installed by scripts/setup.sh
# with `pip install --no-deps --target <venv>/cuda<major>` -- never into site-packages, where a CUDA 13
# torch finds nvidia/cuda_runtime/lib/libcudart.so.12 and preloads that real runtime at import.
HEADER_WHEELS = {12: "nvidia-cuda-runtime-cu12==12.9.79"}
CFLAGS = ["-O2", "-fPIC", "-g", "-Wall", "-Wno-unused-function", "-Wno-deprecated-declarations", "-pthread"]


@dataclass(frozen=True)
class Library:
    name: str                    # native/lib/<name>.c holds its hand-written behaviour, if any
    sonames: dict[int, str]      # CUDA major -> SONAME
    not_supported: int           # what a stub returns: the library's "not supported" status
    aliases: tuple[str, ...] = ()  # extra file names (Triton links the unversioned libcuda.so)

    def soname(self, major: int) -> str:
        return self.sonames[major]


LIBRARIES = [
    Library("cudart", {12: "libcudart.so.12", 13: "libcudart.so.13"}, 801),
    Library("cuda", {12: "libcuda.so.1", 13: "libcuda.so.1"}, 801, ("libcuda.so",)),
    Library("cublas", {12: "libcublas.so.12", 13: "libcublas.so.13"}, 15),
    Library("cublasLt", {12: "libcublasLt.so.12", 13: "libcublasLt.so.13"}, 15),
    Library("cudnn", {12: "libcudnn.so.9", 13: "libcudnn.so.9"}, 3000),
    Library("nccl", {12: "libnccl.so.2", 13: "libnccl.so.2"}, 5),
    Library("nvml", {12: "libnvidia-ml.so.1", 13: "libnvidia-ml.so.1"}, 3),
    Library("cusparse", {12: "libcusparse.so.12", 13: "libcusparse.so.12"}, 10),
    Library("cusparseLt", {12: "libcusparseLt.so.0", 13: "libcusparseLt.so.0"}, 10),
    Library("cufft", {12: "libcufft.so.11", 13: "libcufft.so.12"}, 16),
    Library("curand", {12: "libcurand.so.10", 13: "libcurand.so.10"}, 999),
    Library("cufile", {12: "libcufile.so.0", 13: "libcufile.so.0"}, 5007),
    Library("cupti", {12: "libcupti.so.12", 13: "libcupti.so.13"}, 27),
    Library("nvshmem", {12: "libnvshmem_host.so.3", 13: "libnvshmem_host.so.3"}, 7),
    Library("cusolver", {12: "libcusolver.so.11", 13: "libcusolver.so.12"}, 9),
    Library("nvrtc", {12: "libnvrtc.so.12", 13: "libnvrtc.so.13"}, 11),
]
CORE = "librevati_core.so"


class BuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class Symbol:
    name: str
    kind: str      # FUNC or OBJECT
    size: int
    version: str   # version node, "" for none


def read_abi(major: int, soname: str) -> list[Symbol]:
    path = ABI / f"cu{major}" / f"{soname}.abi"
    if not path.exists():
        raise BuildError(f"no ABI list {path}: extract it from the real library with "
                         f"`python -m interpose.abi.extract cu{major} /path/to/{soname}`")
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, kind, size, version = line.split()
        out.append(Symbol(name, kind, int(size), "" if version == "-" else version))
    return out


def default_out(cuda_major: int = DEFAULT_MAJOR) -> Path:
    """Where a build of that CUDA major goes by default: interpose/lib (13), interpose/lib-cu12."""
    return DEFAULT_OUT if cuda_major == DEFAULT_MAJOR else HERE / f"lib-cu{cuda_major}"


def _header_major(header: Path, macro: str) -> int | None:
    m = re.search(rf"^#define\s+{macro}\s+(\d+)", header.read_text(errors="replace"), re.M)
    return int(m.group(1)) // 1000 if m else None


def _header_candidates(major: int) -> list[Path]:
    """Folders that may hold CUDA headers, most specific first."""
    cands = [Path(os.environ[v]) / "include" for v in ("CUDA_HOME", "CUDA_PATH") if os.environ.get(v)]
    cands.append(Path("/usr/local/cuda/include"))
    cands += sorted(Path("/usr/local").glob(f"cuda-{major}*/include"), reverse=True)
    nvcc = shutil.which("nvcc")
    if nvcc:
        cands.append(Path(nvcc).resolve().parent.parent / "include")
    bases = [Path(sys.prefix) / f"cuda{major}" / "nvidia"]
    try:
        import nvidia  # the nvidia-* wheels install a namespace package
        bases += map(Path, nvidia.__path__)
    except ImportError:
        pass
    for base in bases:
        # CUDA 13 wheels: nvidia/cu13/include; CUDA 12 wheels: nvidia/cuda_runtime/include
        # (nvidia-cuda-runtime-cu12), nvidia/cuda_nvcc/include (nvidia-cuda-nvcc-cu12: crt/)
        cands += [base / f"cu{major}" / "include", base / "cuda_runtime" / "include", base / "cuda_nvcc" / "include"]
        cands += sorted(base.glob("cu*/include"))
    return list(dict.fromkeys(cands))


def cuda_include(major: int = DEFAULT_MAJOR) -> list[Path]:
    """Include folders for CUDA `major`'s runtime and driver headers (cuda_runtime_api.h, cuda.h):
    $CUDA_HOME, the toolkit, or the nvidia-* wheels. A folder whose CUDART_VERSION / CUDA_VERSION is
    of another major is skipped: the hand-written C compiles against the major it is built for.

    The headers include crt/host_defines.h, which the toolkit has but the runtime wheels do not (it
    ships with nvcc). Where the folder lacks it, a second folder that has it is returned, searched
    last (-idirafter): any CUDA toolkit's (compiler attribute macros, the same for 12 and 13) or
    the nvidia-cuda-nvcc-cu12 wheel's."""
    cands = _header_candidates(major)
    found, other = None, []
    for c in cands:
        rt, drv = c / "cuda_runtime_api.h", c / "cuda.h"
        if not (rt.exists() and drv.exists()):
            continue
        majors = {_header_major(rt, "CUDART_VERSION"), _header_major(drv, "CUDA_VERSION")}
        if majors == {major}:
            found = c
            break
        other.append(f"{c} (CUDA {'/'.join(str(m) for m in sorted(majors, key=str))})")
    if found is None:
        if major in HEADER_WHEELS:
            how = (f"scripts/setup.sh installs them (`pip install --no-deps --target {Path(sys.prefix) / f'cuda{major}'} "
                   f"{HEADER_WHEELS[major]}`: a few MB, headers and a runtime never loaded; not into site-packages)")
        else:
            how = f"`pip install nvidia-cuda-runtime=={major}.*` (headers only are needed; no GPU or driver)"
        raise BuildError(
            f"CUDA {major} headers (cuda_runtime_api.h, cuda.h) not found"
            + (f"; only other majors' headers were found: {', '.join(other)}" if other else "")
            + f". {how}, or set CUDA_HOME to a CUDA {major} toolkit.")
    if (found / "crt" / "host_defines.h").exists():
        return [found]
    for c in cands:
        if (c / "crt" / "host_defines.h").exists():
            return [found, c]
    raise BuildError(f"{found} has no crt/host_defines.h (it ships with nvcc, not the runtime wheel): install a "
                     f"CUDA toolkit (any major) or `pip install --no-deps --target {Path(sys.prefix) / f'cuda{major}'} "
                     f"nvidia-cuda-nvcc-cu{major}`.")


def cuda_cflags(major: int = DEFAULT_MAJOR) -> list[str]:
    """Compiler flags that find CUDA `major`'s runtime/driver headers (see cuda_include)."""
    first, *rest = cuda_include(major)
    return [f"-I{first}", *(f for r in rest for f in ("-idirafter", str(r)))]


def run(cmd: list[str]) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        raise BuildError(f"{' '.join(map(str, cmd))}\n{p.stderr}")
    return p.stdout


def defined_symbols(obj: Path) -> set[str]:
    out = run(["nm", "--defined-only", "-g", str(obj)])
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def stub_source(lib: Library, soname: str, symbols: list[Symbol]) -> str:
    lines = [f"/* Generated by interpose/build.py for {soname}: counting stubs, do not edit. */",
             '#include "revati.h"', ""]
    for s in symbols:
        if s.kind == "OBJECT":
            lines.append(f"char {s.name}[{max(s.size, 1)}] __attribute__((aligned(16)));")
            continue
        lines.append(f'static rv_api_counter c_{s.name} = {{"{s.name}", "{soname}", 1, 0, 0, 0}};')
        lines.append(f"long {s.name}(void) {{ return rv_stub_hit(&c_{s.name}, {lib.not_supported}); }}")
    return "\n".join(lines) + "\n"


def version_script(symbols: list[Symbol]) -> str:
    nodes: dict[str, list[str]] = {}
    for s in symbols:
        nodes.setdefault(s.version, []).append(s.name)
    parts = []
    for node, names in sorted(nodes.items(), key=lambda kv: kv[0] != ""):
        body = "".join(f"  {n};\n" for n in names)
        parts.append(f"{node + ' ' if node else ''}{{\n global:\n{body} local: *;\n}};\n")
    if not nodes:
        parts.append("{ local: *; };\n")
    return "".join(parts)


def build(out: Path | None = None, cuda_major: int = DEFAULT_MAJOR, cc: str = "gcc", jobs: int = 4) -> Path:
    """Builds into a private folder, then moves each file into `out` with an atomic rename, so
    concurrent builds and programs starting meanwhile never see a half-written library."""
    out = out or default_out(cuda_major)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=out.parent) as tmp:
        stage = Path(tmp) / "lib"
        stage.mkdir()
        _build(stage, Path(tmp) / "obj", cuda_major, cc, jobs)
        out.mkdir(exist_ok=True)
        for f in sorted(stage.iterdir(), key=lambda p: p.name == "BUILD_INFO"):   # the stamp last
            os.replace(f, out / f.name)
    return out


def _build(out: Path, work: Path, cuda_major: int, cc: str, jobs: int) -> None:
    inc = cuda_cflags(cuda_major)
    work.mkdir()
    common = CFLAGS + [f"-DRV_CUDA_MAJOR={cuda_major}", f"-I{NATIVE / 'include'}", *inc]

    core_srcs = sorted((NATIVE / "core").glob("*.c")) + sorted(TIMEKEEPER_NATIVE.glob("*.c"))
    run([cc, *common, f"-I{NATIVE / 'core'}", f"-I{TIMEKEEPER_NATIVE}", "-shared", "-o", str(out / CORE), *map(str, core_srcs),
         f"-Wl,-soname,{CORE}", "-ldl", "-lpthread"])

    def one(lib: Library) -> str:
        soname = lib.soname(cuda_major)
        symbols = read_abi(cuda_major, soname)
        objs = []
        hand = NATIVE / "lib" / f"{lib.name}.c"
        written: set[str] = set()
        if hand.exists():
            obj = work / f"{lib.name}.o"
            run([cc, *common, "-c", str(hand), "-o", str(obj)])
            written = defined_symbols(obj)
            objs.append(obj)
        stubs = [s for s in symbols if s.name not in written]
        gen = work / f"{lib.name}_stubs.c"
        gen.write_text(stub_source(lib, soname, stubs))
        sobj = work / f"{lib.name}_stubs.o"
        run([cc, *common, "-Wno-builtin-declaration-mismatch", "-c", str(gen), "-o", str(sobj)])
        objs.append(sobj)
        vs = work / f"{lib.name}.map"
        vs.write_text(version_script(symbols))
        run([cc, "-shared", "-o", str(out / soname), *map(str, objs), f"-Wl,-soname,{soname}",
             f"-Wl,--version-script={vs}", f"-L{out}", "-l:" + CORE, "-Wl,-rpath,$ORIGIN", "-ldl", "-lpthread"])
        for alias in (*lib.aliases, soname.split(".so")[0] + ".so"):
            link = out / alias
            if alias != soname and not link.exists():
                link.symlink_to(soname)
        return f"{soname}: {len(symbols) - len(stubs)} hand-written, {len(stubs)} stubs"

    with ThreadPoolExecutor(jobs) as ex:
        report = list(ex.map(one, LIBRARIES))
    (out / "BUILD_INFO").write_text(f"cuda_major {cuda_major}\nheaders {' '.join(inc)}\n" + "\n".join(report) + "\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cuda-major", type=int, choices=(12, 13),
                    default=int(os.environ.get("REVATI_CUDA_MAJOR", DEFAULT_MAJOR)))
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    out = a.out or default_out(a.cuda_major)
    try:
        build(out, a.cuda_major)
    except BuildError as e:
        sys.exit(f"interpose build failed: {e}")
    print((out / "BUILD_INFO").read_text(), end="")


if __name__ == "__main__":
    main()
