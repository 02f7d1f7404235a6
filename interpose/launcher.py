"""Runs commands on virtual GPUs: the environment that puts the fake CUDA libraries under an
unmodified program, plus the predictor service its kernels are timed by and the timekeeper whose
virtual clock they run on.

    with VirtualGPUs(VirtualGPUConfig(gpu="h100", gpus=2)) as v:
        subprocess.run(cmd, env=v.env())
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from predictors import PredictorServer, create, load
from predictors.base import DEFAULT_SPEC, native_config
from predictors.catalog import Hardware
from timekeeper import calibrate
from timekeeper.service import Timekeeper

from . import build as native_build

LIB_DIR = native_build.DEFAULT_OUT
RUN_FAILED = 125   # run()'s exit code when the timekeeper failed the run (as `timeout` and `env` use it)


@dataclass(frozen=True)
class VirtualGPUConfig:
    gpu: str = "h100"                  # hardware catalog key (predictors/hardware)
    gpus: int = 1
    predictor: str = DEFAULT_SPEC      # predictors.create spec: the GPU's profile, else roofline; "fixed:1ms"
    trace_dir: Path | None = None      # per-process Chrome traces and API call counts
    strict: bool = False               # every call without emulated behaviour is fatal
    real_alloc_max: int | None = None  # device allocations up to this many bytes are real memory
    cuda_major: int = native_build.DEFAULT_MAJOR   # which CUDA's SONAMEs and ABI the fakes have
    lib_dir: Path | None = None        # default: interpose/lib (CUDA 13), interpose/lib-cu12
    timekeeper: bool = True            # virtual clocks; False: programs run on real time
    cpu_scale: float | None = None     # virtual ns per CPU ns here; None: calibrated, else default for gpu
    target_host: calibrate.CpuTimings | None = None   # model this measured host instead (cpu_scale wins)


def ensure_built(lib_dir: Path | None = None, cuda_major: int = native_build.DEFAULT_MAJOR) -> Path:
    """The fake libraries of that CUDA major, built now if the install did not (or sources changed
    since, or lib_dir holds another major's build)."""
    lib_dir = lib_dir or native_build.default_out(cuda_major)
    stamp = lib_dir / "BUILD_INFO"
    dirs = (native_build.NATIVE, native_build.ABI, native_build.TIMEKEEPER_NATIVE)
    sources = [f for d in dirs for f in d.rglob("*") if f.is_file()]
    if (not stamp.exists() or max(p.stat().st_mtime for p in sources) > stamp.stat().st_mtime
            or _cuda_major(lib_dir) != cuda_major):
        native_build.build(lib_dir, cuda_major)
    return lib_dir


def fake_libraries(lib_dir: Path) -> list[Path]:
    """What LD_PRELOAD carries: the core first, so its dlopen precedes libc's in symbol lookup
    (a preloaded library's own dependencies would come after the program's libc)."""
    major = _cuda_major(lib_dir)
    return [lib_dir / native_build.CORE, *(lib_dir / lib.soname(major) for lib in native_build.LIBRARIES)]


def _cuda_major(lib_dir: Path) -> int:
    first = (lib_dir / "BUILD_INFO").read_text().split("\n", 1)[0]
    return int(first.split()[1])


class VirtualGPUs:
    """Owns one virtual-GPU session: hardware file, predictor service, environment."""

    def __init__(self, config: VirtualGPUConfig):
        if config.gpus < 1:
            raise ValueError(f"--gpus must be at least 1 (got {config.gpus})")
        self.config = config
        self.hardware: Hardware = load(config.gpu)
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._server: PredictorServer | None = None
        self.timekeeper: Timekeeper | None = None
        self._group: int | None = None   # process group of the command run() is running
        self.cpu_scale: float = 1.0      # the scale in use, and where it came from (set on entry)
        self.cpu_scale_source: str = ""

    def __enter__(self) -> VirtualGPUs:
        self.lib_dir = ensure_built(self.config.lib_dir, self.config.cuda_major)
        self._dir = tempfile.TemporaryDirectory(prefix="revati-")
        run_dir = Path(self._dir.name)
        predictor = create(self.config.predictor, self.hardware)
        self.hardware_file = run_dir / "hardware.txt"
        default_scale, self.cpu_scale_source = calibrate.cpu_scale(self.hardware.key)
        scale = default_scale
        if self.config.cpu_scale is not None:
            scale, self.cpu_scale_source = self.config.cpu_scale, "given"
        elif self.config.target_host is not None:
            scale, self.cpu_scale_source = calibrate.scale_to(self.config.target_host)
        self.cpu_scale = scale   # recorded with every emulated result
        # host costs as the predictor has them (a profile's measurements, else the catalog's); the
        # libraries' host time was measured on the host of the target's reference timings
        library_scale = scale / calibrate.measured_host_scale(self.hardware.key) if self.config.timekeeper else 1.0
        self.hardware_file.write_text(native_config(predictor, self.config.gpus, library_scale))
        self.socket = run_dir / "predictor.sock"
        self._server = PredictorServer(predictor, str(self.socket))
        self._server.start()
        if self.config.trace_dir:
            Path(self.config.trace_dir).mkdir(parents=True, exist_ok=True)
        if self.config.timekeeper:
            self.timekeeper = Timekeeper(scale, run_dir=run_dir, on_failure=lambda _reason: self._kill_group())
            self.timekeeper.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.timekeeper:
            self.timekeeper.close()
        if self._server:
            self._server.close()
        if self._dir:
            self._dir.cleanup()

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        libs = ":".join(str(p) for p in fake_libraries(self.lib_dir))
        # LD_PRELOAD beats the DT_RPATH of torch's libraries (full installs); LD_LIBRARY_PATH serves
        # `pip install --no-deps torch` installs, where nothing else provides the CUDA SONAMEs.
        env["LD_PRELOAD"] = ":".join(x for x in (libs, env.get("LD_PRELOAD", "")) if x)
        env["LD_LIBRARY_PATH"] = ":".join(x for x in (str(self.lib_dir), env.get("LD_LIBRARY_PATH", "")) if x)
        env["TRITON_LIBCUDA_PATH"] = str(self.lib_dir)
        env["REVATI_HARDWARE"] = str(self.hardware_file)
        env["REVATI_GPUS"] = str(self.config.gpus)
        env["REVATI_PREDICTOR"] = str(self.socket)
        env["REVATI_STRICT"] = "1" if self.config.strict else "0"
        if self.config.trace_dir:
            env["REVATI_TRACE_DIR"] = str(Path(self.config.trace_dir).resolve())
        else:
            env.pop("REVATI_TRACE_DIR", None)
        if self.config.real_alloc_max is not None:
            env["REVATI_REAL_ALLOC_MAX"] = str(self.config.real_alloc_max)
        env.pop("REVATI_TIMEKEEPER", None)
        if self.timekeeper:
            env.update(self.timekeeper.env())
        return env

    def run(self, cmd: list[str], **kwargs: object) -> int:
        """Runs cmd to completion on the virtual GPUs, in a process group of its own; Ctrl-C and
        SIGTERM reach the group. If the timekeeper fails the run, the group is killed and the result
        is RUN_FAILED, the reason printed to stderr. What the command leaves running is killed at
        its end: once the timekeeper closes, its virtual waits would never end."""
        proc = subprocess.Popen(cmd, env=self.env(), start_new_session=True, **kwargs)  # type: ignore[call-overload]
        self._group = proc.pid
        forward = {s: signal.signal(s, lambda n, _f: self._kill_group(n)) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            code: int = proc.wait()
        finally:
            for s, h in forward.items():
                signal.signal(s, h)
            self._kill_group()
            self._group = None
        reason = self.timekeeper.failure if self.timekeeper else None
        if reason is None:
            return code
        print(f"revati-search: the run failed: {reason}", file=sys.stderr)
        return code if code > 0 else RUN_FAILED

    def _kill_group(self, sig: int = signal.SIGKILL) -> None:
        if self._group is not None:
            try:
                os.killpg(self._group, sig)
            except ProcessLookupError:
                pass
