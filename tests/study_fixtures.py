"""Studies built with Optuna directly, as the optimizer writes them (the contract in
revati_search/analysis.py's docstring), with made-up metrics: for tests of analysis, reports and the
commands that read studies.

    from study_fixtures import make_study, serving_study
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import optuna
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

optuna.logging.set_verbosity(optuna.logging.WARNING)

DISTRIBUTIONS = {
    "serving.max_batch_tokens": IntDistribution(128, 8192, log=True),
    "serving.use_cuda_graph": CategoricalDistribution([False, True]),
    "hardware.count": CategoricalDistribution([1, 2]),
}

RUN = {"backend": "hf-transformers", "model": "/models/llama-3.2-1b", "dtype": "bfloat16",
       "hardware": {"gpu": "h100", "count": 1}, "serving": {"attn_implementation": "paged|sdpa"},
       "workload": {"synthetic": {"requests": 16, "rate": 8.0, "prompt_len": {"dist": "fixed", "value": 128},
                                  "output_len": {"dist": "fixed", "value": 32}}},
       "slo": {"ttft_ms": 500.0}, "seed": 0}


def run_spec(params: dict[str, Any]) -> dict[str, Any]:
    import copy

    spec = copy.deepcopy(RUN)
    for k, v in params.items():
        *parents, leaf = k.split(".")
        cur = spec
        for p in parents:
            cur = cur.setdefault(p, {})
        cur[leaf] = v
    return spec


def make_study(storage: str, name: str, objectives: Sequence[tuple[str, str]], trials: Sequence[dict[str, Any]],
               constraints: Sequence[dict[str, Any]] = ()) -> optuna.Study:
    """trials: dicts of params, metrics, state ('complete' default, 'fail', 'running', 'pruned'),
    fail_reason, and optionally `constraints` (Optuna's values; computed from `constraints` and the
    metrics when absent)."""
    study = optuna.create_study(storage=storage, study_name=name, directions=[d for _, d in objectives])
    study.set_user_attr("objectives", [{"metric": m, "direction": d} for m, d in objectives])
    study.set_user_attr("constraints", [dict(c) for c in constraints])
    study.set_user_attr("revati_version", "0.1.0")
    study.set_user_attr("revati_spec", {"name": name, "run": RUN,
                                        "objectives": [{"metric": m, "direction": d} for m, d in objectives],
                                        "constraints": [dict(c) for c in constraints]})
    for i, t in enumerate(trials):
        params = t["params"]
        state = {"complete": TrialState.COMPLETE, "fail": TrialState.FAIL, "running": TrialState.RUNNING,
                 "pruned": TrialState.PRUNED}[t.get("state", "complete")]
        metrics = t.get("metrics")
        user_attrs: dict[str, Any] = {"run_hash": f"hash-{name}-{i}", "run_spec": run_spec(params),
                                      "versions": {"torch": "2.14.1", "transformers": "5.18.0"},
                                      "out_dir": f"/runs/{name}/trial-{i}"}
        if metrics is not None:
            user_attrs["metrics"] = metrics
        if t.get("fail_reason"):
            user_attrs["fail_reason"] = t["fail_reason"]
        system_attrs: dict[str, Any] = {}
        cons: Optional[list[float]] = t.get("constraints")
        if cons is None and constraints and metrics is not None and state == TrialState.COMPLETE:
            cons = [constraint_value(c, metrics) for c in constraints]
        if cons is not None:
            system_attrs["constraints"] = cons
        values = [metrics[m] for m, _ in objectives] if state == TrialState.COMPLETE else None
        study.add_trial(create_trial(state=state, params=params,
                                     distributions={k: DISTRIBUTIONS[k] for k in params},
                                     values=values, user_attrs=user_attrs, system_attrs=system_attrs))
    return study


def constraint_value(c: dict[str, Any], metrics: dict[str, Any]) -> float:
    v = metrics.get(c["metric"])
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return 1.0
    worst = -math.inf
    if c.get("max") is not None:
        worst = max(worst, (v - c["max"]) / abs(c["max"]))
    if c.get("min") is not None:
        worst = max(worst, (c["min"] - v) / abs(c["min"]))
    return worst


def metrics(tput: float, ttft: float, cost: float = 1.0, gpus: int = 1) -> dict[str, Any]:
    return {"output_throughput": tput * gpus, "output_throughput_per_gpu": tput, "p99_ttft_ms": ttft,
            "median_tpot_ms": 10.0, "cost_per_million_output_tokens_usd": cost, "duration": 2.0,
            "completed": 16, "mode": "emulated", "hardware": {"gpu": "h100", "count": gpus}, "predictor": "default",
            "cpu_scale": 1.41, "cpu_scale_source": "default (serving scale)"}


# A two-objective study: throughput per GPU (max) vs p99 TTFT (min), SLO p99 TTFT <= 500 ms
TWO = [("output_throughput_per_gpu", "maximize"), ("p99_ttft_ms", "minimize")]
SLO = [{"metric": "p99_ttft_ms", "max": 500.0, "min": None}]


def serving_study(storage: str, name: str = "serving", scale: float = 1.0) -> optuna.Study:
    """8 trials: 3 on the front (0, 2, 5), one dominated (1), one infeasible (3: TTFT over the SLO), one
    failed (4, out of memory), one running (6), one cached (7: same config as 0, dominated by nothing
    new). scale multiplies the throughputs (a nightly run with a faster or slower engine)."""
    p = lambda mbt, g=False, n=1: {"serving.max_batch_tokens": mbt, "serving.use_cuda_graph": g, "hardware.count": n}  # noqa: E731
    trials = [
        {"params": p(256), "metrics": metrics(100 * scale, 50.0)},
        {"params": p(512), "metrics": metrics(90 * scale, 80.0)},
        {"params": p(1024), "metrics": metrics(200 * scale, 120.0)},
        {"params": p(4096), "metrics": metrics(400 * scale, 900.0)},
        {"params": p(8192, True), "state": "fail", "fail_reason": "CUDA out of memory (tried to allocate 2.0 GiB)"},
        {"params": p(2048, True), "metrics": metrics(300 * scale, 300.0)},
        {"params": p(128), "state": "running"},
        {"params": p(384, False, 2), "metrics": metrics(95 * scale, 60.0, gpus=2)},
    ]
    return make_study(storage, name, TWO, trials, SLO)
