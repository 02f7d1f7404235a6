"""The run file of `revati-search emulate`: one serving run (engine, model, hardware, engine options,
workload). Pydantic models with extra="forbid", so an unknown key names itself.

    backend: hf-transformers
    model: studies/models/tiny-llama       # a folder with a Hugging Face config.json (weights random)
    dtype: bfloat16
    hardware: {gpu: h100, count: 1}
    serving: {attn_implementation: paged|sdpa, max_batch_tokens: 512, use_cuda_graph: false}
    workload:
      synthetic: {requests: 8, rate: 4, arrival: poisson, prompt_len: 64, output_len: 16}
    slo: {ttft_ms: 200, tpot_ms: 50}       # optional: adds request_goodput

Relative paths are relative to the run file's folder.
"""
from __future__ import annotations

import dataclasses
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

BACKENDS = ("hf-transformers",)
DTYPES = ("bfloat16", "float16", "float32")
ATTN_IMPLEMENTATIONS = ("paged|sdpa", "paged|eager", "paged|flash_attention_2", "paged|flash_attention_3")
TRACE_FORMATS = ("auto", "mooncake", "azure", "burstgpt", "sharegpt", "csv")


class SpecError(ValueError):
    """A run file that cannot run; the message names the key and what it allows."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ----------------------------------------------------------------------------- length distributions

class FixedLen(_Strict):
    dist: Literal["fixed"] = "fixed"
    value: int = Field(ge=1)


class UniformLen(_Strict):
    dist: Literal["uniform"]
    low: int = Field(ge=1)
    high: int = Field(ge=1)

    @model_validator(mode="after")
    def _order(self) -> UniformLen:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        return self


class NormalLen(_Strict):
    dist: Literal["normal"]
    mean: float = Field(gt=0)
    std: float = Field(ge=0)
    min: int = Field(default=1, ge=1)
    max: Optional[int] = None


class LognormalLen(_Strict):
    """Lengths whose log is normal; given by the mean and standard deviation of the lengths themselves."""
    dist: Literal["lognormal"]
    mean: float = Field(gt=0)
    std: float = Field(ge=0)
    min: int = Field(default=1, ge=1)
    max: Optional[int] = None


class FileLen(_Strict):
    """Lengths drawn (with replacement) from a file: one integer per line, or a column of a CSV."""
    dist: Literal["file"]
    path: Path
    column: Optional[str] = None


LengthDist = Union[FixedLen, UniformLen, NormalLen, LognormalLen, FileLen]


def _length(v: Any) -> Any:
    return {"dist": "fixed", "value": v} if isinstance(v, int) and not isinstance(v, bool) else v


# ----------------------------------------------------------------------------- workload

class SyntheticSpec(_Strict):
    requests: int = Field(ge=1)
    rate: Optional[float] = Field(default=None, gt=0, description="requests per second; none: all at t=0")
    arrival: Literal["poisson", "gamma"] = "poisson"
    cv: float = Field(default=1.0, gt=0, description="coefficient of variation of gaps (gamma)")
    seed: int = 0
    prompt_len: LengthDist = Field(discriminator="dist")
    output_len: LengthDist = Field(discriminator="dist")
    shared_prefix: int = Field(default=0, ge=0, description="tokens every prompt starts with")

    _lengths = field_validator("prompt_len", "output_len", mode="before")(classmethod(lambda cls, v: _length(v)))


class WorkloadSpec(_Strict):
    trace: Optional[Path] = None
    format: Literal[TRACE_FORMATS] = "auto"  # type: ignore[valid-type]
    synthetic: Optional[SyntheticSpec] = None
    block_size: int = Field(default=512, ge=1, description="tokens per hash id (Mooncake traces)")
    # traces without timestamps (ShareGPT, a CSV without them) get synthetic arrivals
    rate: Optional[float] = Field(default=None, gt=0)
    arrival: Literal["poisson", "gamma"] = "poisson"
    cv: float = Field(default=1.0, gt=0)
    seed: int = 0
    rate_scale: float = Field(default=1.0, gt=0, description="multiplies the arrival rate (divides gaps)")
    start_s: float = Field(default=0.0, ge=0, description="window of the trace, from its first arrival")
    end_s: Optional[float] = Field(default=None, gt=0)
    max_requests: Optional[int] = Field(default=None, ge=1)
    truncate: bool = Field(default=True, description="cut prompts so prompt + output fits the model's context")

    @model_validator(mode="after")
    def _one_source(self) -> WorkloadSpec:
        if (self.trace is None) == (self.synthetic is None):
            raise ValueError("give exactly one of `trace` (a file) and `synthetic` (a generator)")
        return self


# ----------------------------------------------------------------------------- the rest

class HardwareSpec(_Strict):
    gpu: str = "h100"
    count: int = Field(default=1, ge=1, le=16)

    @field_validator("gpu")
    @classmethod
    def _known(cls, v: str) -> str:
        known = gpu_keys()
        if known and v not in known:
            raise ValueError(f"unknown GPU {v!r}; allowed: {', '.join(known)}")
        return v


@lru_cache(maxsize=1)
def gpu_keys() -> tuple[str, ...]:
    try:
        from predictors.catalog import keys  # type: ignore[attr-defined]
        return tuple(keys())
    except Exception:
        pass
    hw = Path(__file__).resolve().parents[1] / "predictors" / "hardware"
    return tuple(sorted(p.stem for p in hw.glob("*.json")))


@lru_cache(maxsize=1)
def engine_option_names() -> tuple[str, ...]:
    """transformers' ContinuousBatchingConfig fields (the engine's own names)."""
    from transformers.generation.configuration_utils import ContinuousBatchingConfig
    return tuple(f.name for f in dataclasses.fields(ContinuousBatchingConfig))


class ServingSpec(BaseModel):
    """attn_implementation plus ContinuousBatchingConfig fields, passed straight to the engine."""
    model_config = ConfigDict(extra="allow")
    attn_implementation: str = "paged|sdpa"

    @field_validator("attn_implementation")
    @classmethod
    def _attn(cls, v: str) -> str:
        if v not in ATTN_IMPLEMENTATIONS:
            raise ValueError(f"unknown attn_implementation {v!r}; allowed: {', '.join(ATTN_IMPLEMENTATIONS)}")
        return v

    @model_validator(mode="after")
    def _engine_names(self) -> ServingSpec:
        allowed = engine_option_names()
        for key in self.model_extra or {}:
            if key not in allowed:
                raise ValueError(f"unknown engine option {key!r}; allowed: attn_implementation, {', '.join(allowed)}")
        sched = (self.model_extra or {}).get("scheduler_type")
        if sched is not None:
            from transformers.generation.continuous_batching.scheduler import SCHEDULER_MAPPING
            if sched not in SCHEDULER_MAPPING:
                raise ValueError(f"unknown scheduler_type {sched!r}; allowed: {', '.join(SCHEDULER_MAPPING)}")
        return self

    def engine_options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class SLOSpec(_Strict):
    ttft_ms: Optional[float] = Field(default=None, gt=0)
    tpot_ms: Optional[float] = Field(default=None, gt=0)
    e2el_ms: Optional[float] = Field(default=None, gt=0)


class RunSpec(_Strict):
    backend: Literal[BACKENDS] = "hf-transformers"  # type: ignore[valid-type]
    model: Path
    dtype: Literal[DTYPES] = "bfloat16"  # type: ignore[valid-type]
    hardware: HardwareSpec = HardwareSpec()
    serving: ServingSpec = ServingSpec()
    workload: WorkloadSpec
    slo: Optional[SLOSpec] = None
    seed: int = Field(default=0, description="seed of the model's random weights and token values")

    def resolved(self, base: Path) -> RunSpec:
        """Paths made absolute against base (the run file's folder); the model folder checked."""
        def fix(p: Path | None) -> Path | None:
            return None if p is None else (p if p.is_absolute() else (base / p)).resolve()

        data = self.model_copy(deep=True)
        data.model = fix(data.model)  # type: ignore[assignment]
        if not (data.model / "config.json").is_file():
            raise SpecError(f"model: {data.model} has no config.json (a Hugging Face model folder is needed)")
        if data.hardware.count > 1:
            check_tensor_parallel(data.model, data.hardware.count)
        w = data.workload
        w.trace = fix(w.trace)
        if w.trace is not None and not w.trace.is_file():
            raise SpecError(f"workload.trace: no such file {w.trace}")
        if w.synthetic is not None:
            for name in ("prompt_len", "output_len"):
                dist = getattr(w.synthetic, name)
                if isinstance(dist, FileLen):
                    dist.path = fix(dist.path)  # type: ignore[assignment]
        return data


def check_tensor_parallel(model: Path, count: int) -> None:
    """hardware.count > 1 is tensor parallelism over `count` GPUs (transformers' TP plan of the model):
    the model type needs a TP plan, and what the plan shards must split evenly: attention heads, KV
    heads, the MLP's intermediate size, and the vocabulary (the LM head's colwise_gather_output)."""
    try:
        cfg = json.loads((Path(model) / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise SpecError(f"model: cannot read {model}/config.json: {e}") from None
    text = cfg.get("text_config", cfg)
    model_type = text.get("model_type", cfg.get("model_type"))
    plan: Optional[dict[str, str]] = None
    try:
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING
        plan = dict(CONFIG_MAPPING[model_type].base_model_tp_plan or {})
    except Exception:  # noqa: BLE001  (no transformers here, or a model type it does not know: the engine says)
        pass
    if plan is not None and not plan:
        raise SpecError(f"hardware.count: {count} GPUs need tensor parallelism, and transformers has no TP plan "
                        f"for model type {model_type!r}; use count: 1")
    heads = text.get("num_attention_heads")
    dims = [("num_key_value_heads", text.get("num_key_value_heads", heads)), ("num_attention_heads", heads)]
    if plan is None or any(".mlp." in k for k in plan):
        dims.append(("intermediate_size", text.get("intermediate_size")))
    dims.append(("vocab_size", text.get("vocab_size")))
    for name, value in dims:
        if isinstance(value, int) and value % count:
            raise SpecError(f"hardware.count: {count} does not divide {name} {value} of {Path(model).name} "
                            f"(tensor parallelism splits it over the GPUs); counts that do: "
                            f"{', '.join(str(n) for n in _tp_counts(dims))}")


def _tp_counts(dims: list[tuple[str, Any]]) -> list[int]:
    return [n for n in range(1, 17) if all(not isinstance(v, int) or v % n == 0 for _, v in dims)]


_DIST_TAGS = ("fixed", "uniform", "normal", "lognormal", "file")


def line_of(text: str, loc: tuple[Any, ...]) -> Optional[int]:
    """The 1-based line of a key path in a YAML text (for error messages); None when not found."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(key):
                    line, node = k.start_mark.line + 1, v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def describe(err: ValidationError, text: str = "", path: Optional[Path] = None) -> str:
    """Pydantic's errors as one line each: the key, what is wrong, what is allowed; with the YAML
    text and its path, prefixed by path:line."""
    lines = []
    for e in err.errors():
        loc = tuple(x for x in e["loc"] if not (isinstance(x, str) and x in _DIST_TAGS))
        msg = e["msg"].removeprefix("Value error, ")
        first = msg.split(":", 1)[0]
        if text and loc and first and " " not in first and line_of(text, loc + (first,)) not in (None, line_of(text, loc)):
            loc, msg = loc + (first,), msg.split(":", 1)[1].strip()   # the message names a key below loc
        line = line_of(text, loc) if text else None
        where = "" if path is None else f"{path}:{line}: " if line else f"{path}: "
        key = ".".join(str(x) for x in loc)
        if e["type"] == "extra_forbidden":
            what = "unknown key"
        elif e["type"] == "literal_error":
            what = f"{e['input']!r} is not allowed; allowed: {e['ctx']['expected']}"
        elif e["type"] == "union_tag_invalid":
            what = f"unknown dist {e['ctx']['tag']!r}; allowed: {e['ctx']['expected_tags']}"
        elif e["type"] == "missing":
            what = "required key missing"
        else:
            what = msg
        lines.append(f"{where}{key}: {what}" if key else f"{where}{what}")
    return "\n".join(lines)


def parse(data: dict[str, Any], base: Path | None = None) -> RunSpec:
    try:
        spec = RunSpec.model_validate(data)
    except ValidationError as e:
        raise SpecError(describe(e)) from None
    return spec.resolved(base) if base is not None else spec


def load(path: Path) -> RunSpec:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise SpecError(f"{path}: {e}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a run file is a YAML mapping (backend, model, hardware, serving, workload)")
    return parse(data, path.resolve().parent)


def dump(spec: RunSpec) -> str:
    return json.dumps(spec.model_dump(mode="json"), indent=1)
