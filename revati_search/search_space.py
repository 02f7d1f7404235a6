"""The search space on Optuna: the knobs of a study are suggested in file order (define-by-run, so
`when` conditions see the knobs chosen before them), and a trial's params become a run spec."""
from __future__ import annotations

from typing import Any

import optuna

from . import spec as run_spec
from .study import Knob, StudySpec, apply, condition_holds, set_path


def suggest(spec: StudySpec, trial: optuna.Trial) -> dict[str, Any]:
    """The trial's knob values; a conditional knob whose condition fails is not suggested (the run
    keeps its fixed value, or the engine's default)."""
    config = spec.run.model_dump(mode="json", exclude_none=True)
    params: dict[str, Any] = {}
    for path, knob in spec.search.items():
        if not condition_holds(knob, config):
            continue
        params[path] = value = _suggest(trial, path, knob)
        set_path(config, path, value)
    return params


def _suggest(trial: optuna.Trial, name: str, knob: Knob) -> Any:
    if knob.kind == "categorical":
        return trial.suggest_categorical(name, knob.choices)  # type: ignore[arg-type]
    if knob.kind == "int":
        return trial.suggest_int(name, int(knob.low), int(knob.high), step=int(knob.step or 1), log=knob.log)  # type: ignore[arg-type]
    return trial.suggest_float(name, float(knob.low), float(knob.high), step=knob.step, log=knob.log)  # type: ignore[arg-type]


def run_for(spec: StudySpec, params: dict[str, Any]) -> run_spec.RunSpec:
    return apply(spec.run, params)
