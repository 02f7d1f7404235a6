"""One trial = one emulated serving run, executed where Ray puts it.

`emulate_trial(job)` runs `revati-search emulate` as a child process group (so a crash, an
out-of-memory or a hang of the engine takes down only that run) and returns what the study needs:
the summary, the per-request table, or the reason it failed. Results travel back by value, so a
trial on another node of a Ray cluster needs no shared file system for its results (the model
folder and any trace file must exist at the same path there)."""
from __future__ import annotations

import json
import re
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .procs import run_group

# the grace on top of the run's own wall-clock limit before the trial is killed from outside
OUTER_GRACE_S = 60.0


@dataclass(frozen=True)
class TrialJob:
    number: int                 # the Optuna trial number
    run_hash: str
    run_spec: dict[str, Any]    # a resolved run spec (RunSpec.model_dump(mode="json"))
    out_dir: str
    timeout_s: float
    predictor: str = "default"
    target_host: Optional[str] = None   # a measured host's calibrate JSON: emulate --target-host


@dataclass
class TrialOutcome:
    ok: bool
    summary: Optional[dict[str, Any]] = None
    reason: Optional[str] = None
    requests_csv: Optional[str] = None
    wall_s: float = 0.0
    node: str = field(default_factory=socket.gethostname)


_FAILED = re.compile(r"^revati-search: (?:the run failed: )?(.*)$")


def _reason(log: str, code: int) -> str:
    """The emulate command's own last word on the failure, else the log's last lines."""
    lines = [ln for ln in log.splitlines() if ln.strip()]
    for i in range(len(lines) - 1, -1, -1):
        m = _FAILED.match(lines[i])
        if m:
            return "\n".join([m.group(1)] + lines[i + 1:i + 4])
    tail = "\n".join(lines[-5:])
    return f"exit status {code}" + (f": {tail}" if tail else "")


def emulate_trial(job: TrialJob) -> TrialOutcome:
    out = Path(job.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run_file = out / "run.yaml"
    run_file.write_text(json.dumps(job.run_spec, indent=1))   # JSON is YAML; paths are absolute
    cmd = [sys.executable, "-m", "revati_search.cli", "emulate", str(run_file), "--out", str(out), "--no-trace",
           "--timeout", f"{job.timeout_s:.0f}", "--predictor", job.predictor]
    if job.target_host:
        cmd += ["--target-host", job.target_host]
    log_path = out / "emulate.log"
    t = time.perf_counter()
    with open(log_path, "wb") as log:
        code, timed_out = run_group(cmd, timeout_s=job.timeout_s + OUTER_GRACE_S, stdout=log)
    wall = time.perf_counter() - t
    text = log_path.read_text(errors="replace")
    summary_path = out / "summary.json"
    if code == 0 and summary_path.exists():
        requests = out / "requests.csv"
        return TrialOutcome(True, summary=json.loads(summary_path.read_text()), wall_s=wall,
                            requests_csv=requests.read_text() if requests.exists() else None)
    if timed_out:
        return TrialOutcome(False, reason=f"the emulation did not finish within {job.timeout_s + OUTER_GRACE_S:.0f} s "
                            "of wall time and was killed (hung engine?)", wall_s=wall)
    return TrialOutcome(False, reason=_reason(text, code), wall_s=wall)
