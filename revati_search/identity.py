"""What makes two runs the same run: the run spec (with the model's config and any trace file by
content, not by path), the predictor, the engine's versions and the emulator's own code. The hash
of that is a run's identity: a study never emulates the same identity twice."""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

from timekeeper.calibrate import CpuTimings

from . import __version__
from .spec import RunSpec

ROOT = Path(__file__).resolve().parents[1]
ENGINE_PACKAGES = ("torch", "transformers")
# the emulator's behaviour lives in these files; any change makes earlier results a different run
EMULATOR_FILES = ("interpose/native/**/*.[ch]", "timekeeper/native/*.[ch]", "predictors/**/*.py",
                  "predictors/hardware/**/*.json", "predictors/profiles/*/profile.json", "revati_search/harness.py",
                  "revati_search/backends/*.py", "revati_search/workloads.py", "revati_search/metrics.py")


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """Engine package versions (without importing them) and the emulator's."""
    out = {"revati_search": __version__, "emulator": emulator_fingerprint()}
    for name in ENGINE_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


@lru_cache(maxsize=1)
def emulator_fingerprint() -> str:
    h = hashlib.sha256()
    for pattern in EMULATOR_FILES:
        for path in sorted(ROOT.glob(pattern)):
            h.update(str(path.relative_to(ROOT)).encode())
            h.update(_file_hash(path).encode())
    return h.hexdigest()[:16]


def run_hash(run: RunSpec, predictor: str, host: Optional[CpuTimings] = None) -> str:
    """The identity of one emulated run's result: the run, its inputs' contents, the predictor, the
    versions, and the modelled host when one is given (a study's target_host)."""
    data: dict[str, Any] = run.model_dump(mode="json")
    data["model"] = _file_hash(Path(run.model) / "config.json")
    if run.workload.trace is not None:
        data["workload"]["trace"] = _file_hash(Path(run.workload.trace))
    syn = run.workload.synthetic
    for name in ("prompt_len", "output_len"):
        dist = getattr(syn, name, None) if syn else None
        if getattr(dist, "dist", None) == "file":
            data["workload"]["synthetic"][name]["path"] = _file_hash(Path(dist.path))  # type: ignore[union-attr]
    ident: dict[str, Any] = {"run": data, "predictor": predictor, "versions": versions()}
    if host is not None:   # absent otherwise, so results from before the option keep their hash
        ident["host"] = {"python_loop_s": host.python_loop_s, "torch_ops_s": host.torch_ops_s,
                         "benchmark_version": host.benchmark_version}
    blob = json.dumps(ident, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]
