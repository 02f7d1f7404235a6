"""What a study optimizes and requires: the metrics of a finished run (its summary.json plus
per-GPU and cost figures derived here, once), objective values, and SLO constraint values in
Optuna's convention (feasible iff every value <= 0)."""
from __future__ import annotations

import math
from typing import Any, Iterable, Literal, Optional

from pydantic import BaseModel, ConfigDict, model_validator

from .metrics import SERIES, STATS

# summary.json keys (revati_search/metrics.py and emulate.run) a study may use
BASE = ("duration", "completed", "failed", "total_input_tokens", "total_output_tokens", "request_throughput",
        "output_throughput", "total_token_throughput", "request_goodput", "cost_per_million_output_tokens_usd",
        "price_per_hour_usd") + tuple(f"{s}_{n}_ms" for n in SERIES for s in STATS)
PER_GPU = ("request_throughput", "output_throughput", "total_token_throughput", "request_goodput")
METRICS = BASE + tuple(f"{m}_per_gpu" for m in PER_GPU) + ("gpus", "cost_per_million_total_tokens_usd")


def derive(summary: dict[str, Any], gpus: int) -> dict[str, Any]:
    """summary.json plus the figures objectives often want: throughput per GPU and cost per
    million tokens (from the catalog's price per GPU-hour, which emulate.run adds)."""
    out = dict(summary)
    out["gpus"] = gpus
    for m in PER_GPU:
        if m in summary and summary[m] is not None:
            out[f"{m}_per_gpu"] = summary[m] / gpus
    price, dur = summary.get("price_per_hour_usd"), summary.get("duration")
    tokens = (summary.get("total_input_tokens") or 0) + (summary.get("total_output_tokens") or 0)
    if price and dur and tokens:
        out["cost_per_million_total_tokens_usd"] = price / 3600 * dur / tokens * 1e6
    return out


class Objective(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric: str
    direction: Literal["maximize", "minimize"]

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        # `maximize: output_throughput_per_gpu` is the same as {metric: ..., direction: maximize}
        if isinstance(v, dict) and len(v) == 1 and next(iter(v)) in ("maximize", "minimize"):
            (direction, metric), = v.items()
            return {"metric": metric, "direction": direction}
        return v

    @model_validator(mode="after")
    def _known(self) -> Objective:
        _check_metric(self.metric)
        return self


class Constraint(BaseModel):
    """An SLO on a metric of the run, e.g. {metric: p99_ttft_ms, max: 500}."""
    model_config = ConfigDict(extra="forbid")
    metric: str
    max: Optional[float] = None
    min: Optional[float] = None

    @model_validator(mode="after")
    def _bound(self) -> Constraint:
        _check_metric(self.metric)
        if self.max is None and self.min is None:
            raise ValueError(f"constraint on {self.metric}: give `max` or `min`")
        return self

    def value(self, metrics: dict[str, Any]) -> float:
        """Optuna's constraint value: <= 0 when met; the relative violation otherwise. A missing
        metric violates (1.0), so a run without it is never taken as feasible."""
        v = metrics.get(self.metric)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return 1.0
        worst = 0.0
        if self.max is not None:
            worst = max(worst, (v - self.max) / (abs(self.max) or 1.0)) if v > self.max else worst
        if self.min is not None:
            worst = max(worst, (self.min - v) / (abs(self.min) or 1.0)) if v < self.min else worst
        # met constraints report how much room is left (negative), which the samplers can use
        if worst == 0.0:
            room = [((self.max - v) / (abs(self.max) or 1.0)) if self.max is not None else math.inf,
                    ((v - self.min) / (abs(self.min) or 1.0)) if self.min is not None else math.inf]
            return -min(room)
        return worst


def _check_metric(name: str) -> None:
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; allowed: {', '.join(METRICS)}")


def values(objectives: Iterable[Objective], metrics: dict[str, Any]) -> list[float]:
    """The objective values of a finished run; a missing metric raises (the trial fails with it named)."""
    out = []
    for o in objectives:
        v = metrics.get(o.metric)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            raise KeyError(f"the run has no value for the objective {o.metric!r}")
        out.append(float(v))
    return out


def constraint_values(constraints: Iterable[Constraint], metrics: dict[str, Any]) -> list[float]:
    return [c.value(metrics) for c in constraints]
