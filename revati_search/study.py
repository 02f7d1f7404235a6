"""The study file of `revati-search optimize`: a fixed serving run (the keys of a run file, under
`run:`), a search space over engine options and deployment knobs, objectives, SLO constraints and
the optimizer's settings. Pydantic models with extra="forbid"; errors name the key and its line.

    name: quickstart
    run:                                    # a run file's keys (or a path to a run file)
      model: models/llama-3.2-1b
      hardware: {gpu: h100, count: 1}
      serving: {attn_implementation: paged|sdpa}
      workload: {synthetic: {requests: 64, rate: 16, prompt_len: 512, output_len: 64}}
    search:                                 # knob (a dotted path into the run) -> its values
      serving.max_batch_tokens: {int: [256, 4096], log: true}
      serving.use_cuda_graph: [false, true]
      serving.block_size: {choices: [32, 64, 128], when: {serving.use_cuda_graph: false}}
      hardware.count: [1, 2]
    objectives: [{maximize: output_throughput_per_gpu}, {minimize: p99_ttft_ms}]
    constraints: [{metric: p99_ttft_ms, max: 500}]
    n_trials: 12
    parallel: 2

Relative paths in the file are relative to its folder.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from timekeeper.calibrate import CpuTimings, load_timings

from . import spec as run_spec
from .objectives import Constraint, Objective

SAMPLERS = ("auto", "tpe", "nsga2", "gp", "random")
# what a knob may set: the engine's own options, and the deployment
KNOB_ROOTS = ("serving.", "hardware.count", "hardware.gpu", "dtype")
Scalar = Union[bool, int, float, str, None]


class StudyError(ValueError):
    """A study file that cannot run; the message names the key (and the line, where known)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Knob(_Strict):
    """One dimension of the search space. Given as a list (the choices), or as a mapping:
    {int: [low, high], step, log}, {float: [low, high], step, log}, {choices: [...]}; `when` makes it
    conditional: {other.knob: value or [values]} (other knobs come earlier in the file)."""
    kind: Literal["int", "float", "categorical"]
    low: Optional[float] = None
    high: Optional[float] = None
    step: Optional[float] = None
    log: bool = False
    choices: Optional[list[Scalar]] = None
    when: dict[str, Union[Scalar, list[Scalar]]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _forms(cls, v: Any) -> Any:
        if isinstance(v, list):
            return {"kind": "categorical", "choices": v}
        if isinstance(v, dict) and "kind" not in v:
            v = dict(v)
            for kind in ("int", "float"):
                if kind in v:
                    bounds = v.pop(kind)
                    if not (isinstance(bounds, list) and len(bounds) == 2):
                        raise ValueError(f"`{kind}` takes [low, high], got {bounds!r}")
                    return {"kind": kind, "low": bounds[0], "high": bounds[1], **v}
            if "choices" in v:
                return {"kind": "categorical", **v}
            raise ValueError("a knob is a list of choices, {choices: [...]}, {int: [low, high]} or {float: [low, high]}")
        return v

    @model_validator(mode="after")
    def _valid(self) -> Knob:
        if self.kind == "categorical":
            if not self.choices:
                raise ValueError("`choices` must list at least one value")
            if self.low is not None or self.high is not None or self.step is not None or self.log:
                raise ValueError("a list of choices takes no low/high/step/log")
            return self
        if self.low is None or self.high is None or self.high < self.low:
            raise ValueError(f"needs low <= high, got [{self.low}, {self.high}]")
        if self.kind == "int" and not (float(self.low).is_integer() and float(self.high).is_integer()):
            raise ValueError(f"`int` bounds must be integers, got [{self.low}, {self.high}]")
        if self.log and (self.low <= 0 or self.step not in (None, 1)):
            raise ValueError("log scale needs low > 0 and no step")
        if self.step is not None and self.step <= 0:
            raise ValueError("step must be > 0")
        return self

    def candidates(self) -> list[Scalar]:
        """Values that span the knob (for checking the run accepts them)."""
        if self.kind == "categorical":
            return list(self.choices or [])
        cast = int if self.kind == "int" else float
        return [cast(self.low), cast(self.high)]


class StudySpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="the study's name in the storage")
    run: run_spec.RunSpec
    search: dict[str, Knob] = Field(min_length=1)
    objectives: list[Objective] = Field(min_length=1)
    constraints: list[Constraint] = Field(default_factory=list)
    sampler: Literal[SAMPLERS] = "auto"  # type: ignore[valid-type]
    n_trials: int = Field(ge=1, description="trials in the study in all (resuming continues up to this)")
    timeout: Optional[float] = Field(default=None, gt=0, description="s of wall time for this invocation: no new trials after it, running ones finish")
    trial_timeout: float = Field(default=900, gt=0, description="s of wall time one emulated run may take")
    parallel: int = Field(default=1, ge=1, description="trials run at once (Ray tasks)")
    cpus_per_trial: Optional[float] = Field(default=None, gt=0, description="CPUs reserved per trial (default: 1 + GPUs)")
    storage: Optional[str] = Field(default=None, description="Optuna storage URL (default: sqlite file in the output folder)")
    ray_address: Optional[str] = Field(default=None, description="Ray cluster (default: RAY_ADDRESS, else a local Ray)")
    seed: Optional[int] = Field(default=None, description="the sampler's seed")
    predictor: str = Field(default="default", description="duration model of the emulations")
    target_host: Optional[Path] = Field(
        default=None, description="a host's `python3 -m timekeeper.calibrate` output (JSON): the emulations model that "
                                  "host's CPU speed (default: the GPU's stored host)")

    @field_validator("target_host")
    @classmethod
    def _target_host(cls, v: Optional[Path]) -> Optional[Path]:
        if v is not None:
            load_timings(v)   # ValueError names the file and what is wrong with it
        return v

    def host_timings(self) -> Optional[CpuTimings]:
        return load_timings(self.target_host) if self.target_host is not None else None

    @field_validator("search")
    @classmethod
    def _knobs(cls, v: dict[str, Knob], info: ValidationInfo) -> dict[str, Knob]:
        # messages start with the knob's name, so the error can point at its line
        seen: list[str] = []
        base = info.data.get("run")
        for path, knob in v.items():
            if not (path.startswith("serving.") or path in KNOB_ROOTS):
                raise ValueError(f"{path}: unknown knob; knobs are serving.<engine option>, hardware.count, hardware.gpu or dtype")
            for cond in knob.when:
                if cond == path or (cond in v and cond not in seen):
                    raise ValueError(f"{path}: `when` refers to {cond!r}, which must be a knob given before it (or a fixed run key)")
            seen.append(path)
            # every value a knob can take must make a valid run (unknown engine options, GPUs,
            # dtypes and bad values are named here, before any trial runs)
            for value in knob.candidates() if base is not None else []:
                try:
                    apply(base, {path: value})
                except run_spec.SpecError as e:
                    raise ValueError(f"{path}: the value {value!r} does not make a valid run: {e}") from None
        return v

    @model_validator(mode="after")
    def _objectives(self) -> StudySpec:
        objective_names = [o.metric for o in self.objectives]
        if len(set(objective_names)) != len(objective_names):
            raise ValueError(f"objectives repeat a metric: {objective_names}")
        return self

    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    def max_gpus(self) -> int:
        counts = self.search.get("hardware.count")
        return int(max(counts.candidates())) if counts else self.run.hardware.count  # type: ignore[arg-type]

    def reserved_cpus(self) -> float:
        return self.cpus_per_trial if self.cpus_per_trial is not None else 1.0 + self.max_gpus()


def get_path(data: dict[str, Any], path: str) -> Any:
    cur: Any = data
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    cur = data
    for part in parents:
        cur = cur.setdefault(part, {})
    cur[leaf] = value


def condition_holds(knob: Knob, config: dict[str, Any]) -> bool:
    """config: the run as a dict with the knobs chosen so far applied."""
    for path, want in knob.when.items():
        have = get_path(config, path)
        if have not in (want if isinstance(want, list) else [want]):
            return False
    return True


def apply(base: run_spec.RunSpec, params: dict[str, Any]) -> run_spec.RunSpec:
    """The run with the knobs' values set (validated as a run file is)."""
    data = base.model_dump(mode="json", exclude_none=True)
    for path, value in params.items():
        set_path(data, path, value)
    try:
        return run_spec.RunSpec.model_validate(data)
    except ValidationError as e:
        raise run_spec.SpecError(run_spec.describe(e)) from None


# ----------------------------------------------------------------------------- loading

def parse(data: dict[str, Any], base: Path, text: str = "", path: Path = Path("<study>")) -> StudySpec:
    data = dict(data)
    run = data.get("run")
    if isinstance(run, str):   # a path to a run file
        run_path = (base / run).resolve()
        try:
            data["run"] = run_spec.load(run_path).model_dump(mode="json", exclude_none=True)
        except run_spec.SpecError as e:
            raise StudyError(f"{path}: run: {run_path}: {e}") from None
    elif isinstance(run, dict):
        try:   # paths in the run are relative to the study file
            data["run"] = run_spec.parse(run, base).model_dump(mode="json", exclude_none=True)
        except run_spec.SpecError as e:
            raise StudyError("\n".join(f"{path}: run.{line}" for line in str(e).splitlines())) from None
    if isinstance(data.get("target_host"), str):
        data["target_host"] = str((base / data["target_host"]).resolve())
    try:
        return StudySpec.model_validate(data)
    except ValidationError as e:
        raise StudyError(run_spec.describe(e, text, path)) from None


def load(path: Path) -> StudySpec:
    path = Path(path)
    try:
        text = path.read_text()
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as e:
        raise StudyError(f"{path}: {e}") from None
    if not isinstance(data, dict):
        raise StudyError(f"{path}: a study file is a YAML mapping (name, run, search, objectives, n_trials, ...)")
    return parse(data, path.resolve().parent, text, path)


def dump(spec: StudySpec) -> str:
    return json.dumps(spec.model_dump(mode="json"), indent=1)


def json_schema() -> dict[str, Any]:
    return StudySpec.model_json_schema()
