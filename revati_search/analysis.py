"""Analysis of a study (pandas): its trials as a table, the Pareto front, one recommended
configuration, and the nightly comparison of two studies' fronts.

What a study carries (the optimizer writes it; see revati_search/optimizer.py):
  study.user_attrs   revati_spec, objectives [{metric, direction}] (in the order of the trial values),
                     constraints [{metric, max, min}], revati_version
  trial.params       knob -> value (dotted paths into the run spec: serving.max_batch_tokens, hardware.count)
  trial.user_attrs   metrics (summary.json + derived), run_hash, run_spec, versions, out_dir, fail_reason,
                     cached_from
  trial constraints  Optuna's (feasible iff every value <= 0; a trial without any is feasible)

Rules, so their answers can be relied on:
  - The Pareto front holds the feasible COMPLETE trials no other feasible COMPLETE trial dominates
    (Optuna's own `study.best_trials`).
  - `recommend`: one objective -> the best feasible trial (Optuna's `study.best_trial`); several -> the
    compromise point of the front: each objective scaled over the front to 0 (its best value there) ..
    1 (its worst), the trial nearest (Euclidean) to the ideal point (0, ..., 0); ties go to the earlier
    trial.
  - `compare_fronts`: per objective, the best feasible value of each study and its relative change;
    configurations (trial params) that entered or left the front; the hypervolume of each front in a
    space shared by both (every objective turned into a loss, scaled to 0..1 over the union of both
    fronts; reference point 1.1 in every dimension; reported, not judged: its relative change depends
    on how spread the fronts are); and the multiplicative epsilon indicator: how much worse (relative,
    in the worst objective) the new front's closest trial is than each old front trial, taken over the
    old trial matched worst (<= 0: the new front matches or beats every old trial). A regression is an
    epsilon above `tolerance` (so also any objective whose best value worsened by more than
    `tolerance`), or a front that became empty.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

DEFAULT_TOLERANCE = 0.05


class StudyRefError(ValueError):
    """A STUDY argument that names no study (no such file, several studies and no --study, ...)."""


# --------------------------------------------------------------------------------------------- opening

def _sqlite_file(url: str) -> Optional[Path]:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url[len("sqlite:///"):])
    return None


def resolve(ref: str | Path, *, study_name: Optional[str] = None, storage: Optional[str] = None) -> tuple[str, str]:
    """(storage URL, study name) of a STUDY argument: a study file (YAML: its `storage` and `name`; without
    a storage, where `revati-search optimize` keeps it by default: runs/<name>/study.db), a storage URL,
    an SQLite file, or STORAGE_URL#NAME; `storage` overrides the file's storage; `study_name` is needed
    only when the storage holds several studies."""
    from .store import storage_url

    ref_s = str(ref)
    path = Path(ref_s)
    if "://" not in ref_s and path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise StudyRefError(f"no such study file: {path}")
        from . import study as study_mod
        try:
            spec = study_mod.load(path)
        except ValueError as e:   # StudyError
            raise StudyRefError(f"bad study file {path}:\n{e}") from None
        url = storage or spec.storage
        if url is None:   # where `revati-search optimize` (default --out) keeps it: runs/<name>/study.db
            try:
                from .optimizer import default_out, storage_for
                url = storage_for(spec, default_out(spec))
            except ImportError:
                url = str(Path("runs") / spec.name / "study.db")
        file = _sqlite_file(storage_url(url))
        if file is not None and not file.is_file():
            raise StudyRefError(f"no such storage file: {file} (run `revati-search optimize {path}` first, "
                                "or give the storage with --storage)")
        return storage_url(url), study_name or spec.name
    if "#" in ref_s and storage is None and not path.exists():   # STORAGE_URL#NAME (as optimize --warm-start)
        ref_s, study_name = ref_s.rsplit("#", 1)[0], study_name or ref_s.rsplit("#", 1)[1]
    url = storage_url(storage or ref_s)
    file = _sqlite_file(url)
    if file is not None and not file.is_file():
        raise StudyRefError(f"no such storage file: {file}")
    if study_name is None:
        try:
            names = optuna.get_all_study_names(storage=url)
        except Exception as e:  # noqa: BLE001  (not a database Optuna can read)
            raise StudyRefError(f"cannot read the storage {url}: {e}") from None
        if len(names) != 1:
            raise StudyRefError(f"the storage {url} holds {len(names)} studies"
                                + (f" ({', '.join(names)}): name one with --study" if names else ""))
        study_name = names[0]
    return url, study_name


def open_study(ref: str | Path, *, study_name: Optional[str] = None, storage: Optional[str] = None) -> optuna.Study:
    url, name = resolve(ref, study_name=study_name, storage=storage)
    file = _sqlite_file(url)
    if file is not None and not file.is_file():   # Optuna would create an empty database
        raise StudyRefError(f"no such storage file: {file}")
    try:
        return optuna.load_study(study_name=name, storage=url)
    except KeyError:
        raise StudyRefError(f"no study {name!r} in {url}") from None
    except Exception as e:  # noqa: BLE001
        raise StudyRefError(f"cannot open the study {name!r} in {url}: {e}") from None


# --------------------------------------------------------------------------------------------- the study's terms

def objectives(study: optuna.Study) -> list[dict[str, str]]:
    """[{metric, direction}] in the order of the trials' values."""
    dirs = ["maximize" if d == optuna.study.StudyDirection.MAXIMIZE else "minimize" for d in study.directions]
    given = study.user_attrs.get("objectives")
    if isinstance(given, list) and len(given) == len(dirs):
        return [{"metric": str(o["metric"]), "direction": d} for o, d in zip(given, dirs)]
    names = study.metric_names or (["value"] if len(dirs) == 1 else [f"value_{i}" for i in range(len(dirs))])
    return [{"metric": n, "direction": d} for n, d in zip(names, dirs)]


def constraints(study: optuna.Study) -> list[dict[str, Any]]:
    return list(study.user_attrs.get("constraints") or [])


def _constraint_names(study: optuna.Study, keys: list[str]) -> dict[str, str]:
    specs = constraints(study)
    out, used = {}, set()
    for k in keys:
        name = k
        if k.isdigit() and int(k) < len(specs):
            c = specs[int(k)]
            name = c.get("metric", k)
        col = f"constraint_{name}"
        while col in used:
            col += "'"
        used.add(col)
        out[k] = col
    return out


def is_feasible(t: FrozenTrial) -> bool:
    return all(v <= 0.0 for v in t.constraints.values())


def _violation(t: FrozenTrial) -> float:
    return float(sum(max(v, 0.0) for v in t.constraints.values()))


def _state(t: FrozenTrial) -> str:
    return t.state.name


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (int, float, str, bool))


def _jsonish(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, float) and v == 0.0:
        return 0.0   # not -0.0
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return _jsonish(v.item())
    return v


# --------------------------------------------------------------------------------------------- tables

def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, feasible (COMPLETE trials; NA otherwise), pareto, the objective
    values (a column per objective metric), constraint values (constraint_<metric>, <= 0 met),
    params_<knob>, duration_s, fail_reason, run_hash, cached_from, start/complete times and every
    scalar metric of the run (metrics_<name>)."""
    objs = objectives(study)
    trials = study.get_trials(deepcopy=False)
    front = {t.number for t in study.best_trials} if trials else set()
    ckeys = sorted({k for t in trials for k in t.constraints}, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
    cnames = _constraint_names(study, ckeys)
    pkeys: list[str] = []
    for t in trials:
        for k in t.params:
            if k not in pkeys:
                pkeys.append(k)
    rows = []
    for t in trials:
        complete = t.state == TrialState.COMPLETE
        row: dict[str, Any] = {"number": t.number, "state": _state(t),
                               "feasible": is_feasible(t) if complete else pd.NA,
                               "pareto": t.number in front}
        for i, o in enumerate(objs):
            row[o["metric"]] = t.values[i] if complete and t.values is not None else math.nan
        for k in ckeys:
            row[cnames[k]] = t.constraints.get(k, math.nan)
        for k in pkeys:
            row[f"params_{k}"] = t.params.get(k)
        dur = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else math.nan
        ua = t.user_attrs
        row.update({"duration_s": dur, "fail_reason": ua.get("fail_reason"), "run_hash": ua.get("run_hash"),
                    "cached_from": ua.get("cached_from"), "datetime_start": t.datetime_start,
                    "datetime_complete": t.datetime_complete})
        if row["fail_reason"] is None and t.state == TrialState.FAIL:
            row["fail_reason"] = t.system_attrs.get("fail_reason")   # Optuna's own, when the objective raised
        for k, v in (ua.get("metrics") or {}).items():
            if _scalar(v):
                row[f"metrics_{k}"] = v
        rows.append(row)
    cols = (["number", "state", "feasible", "pareto"] + [o["metric"] for o in objs] + [cnames[k] for k in ckeys]
            + [f"params_{k}" for k in pkeys]
            + ["duration_s", "fail_reason", "run_hash", "cached_from", "datetime_start", "datetime_complete"])
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=cols)
    metric_cols = [c for c in df.columns if c.startswith("metrics_")]
    df = df[cols + metric_cols]
    df["feasible"] = df["feasible"].astype("boolean")
    return df.sort_values("number").reset_index(drop=True)


def front_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The Pareto front: feasible COMPLETE trials no other one dominates (Optuna's), by trial number."""
    return sorted(study.best_trials, key=lambda t: t.number)


def pareto_front(study: optuna.Study, df: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """The rows of trials_frame on the front, ordered by the first objective (best first)."""
    df = trials_frame(study) if df is None else df
    front = df[df["pareto"]].copy()
    objs = objectives(study)
    if not front.empty:
        front = front.sort_values(objs[0]["metric"], ascending=objs[0]["direction"] == "minimize", kind="stable")
    return front.reset_index(drop=True)


def pareto_params(study: optuna.Study) -> list[dict[str, Any]]:
    """The params of every configuration on the front, once each (for warm starts:
    `new_study.enqueue_trial(p, skip_if_exists=True)`)."""
    out, seen = [], set()
    for t in front_trials(study):
        key = json.dumps(t.params, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(dict(t.params))
    return out


# --------------------------------------------------------------------------------------------- recommendation

@dataclass
class Recommendation:
    trial_number: int
    params: dict[str, Any]
    values: dict[str, float]                   # objective metric -> value
    metrics: dict[str, Any]                    # the run's metrics (summary.json + derived)
    run_spec: dict[str, Any]                   # the resolved run spec of the configuration
    run_hash: Optional[str]
    rule: str                                  # how it was chosen, in words
    front_size: int
    feasible: bool = True
    alternatives: list[int] = field(default_factory=list)   # the other front trials

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str), parse_constant=lambda _c: None)


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    cur = data
    for part in parents:
        cur = cur.setdefault(part, {})
    cur[leaf] = value


def run_spec_of(study: optuna.Study, t: FrozenTrial) -> dict[str, Any]:
    """The trial's resolved run spec (its user attribute), else the study's fixed run with the knobs set."""
    spec = t.user_attrs.get("run_spec")
    if isinstance(spec, dict):
        return json.loads(json.dumps(spec))
    base = (study.user_attrs.get("revati_spec") or {}).get("run")
    data = json.loads(json.dumps(base)) if isinstance(base, dict) else {}
    for k, v in t.params.items():
        _set_path(data, k, v)
    return data


def _normalised_losses(values: np.ndarray, directions: list[str], lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """values (n, m) -> losses scaled so lo..hi (in loss units) maps to 0..1 (0 where the range is empty)."""
    loss = np.where(np.array(directions) == "maximize", -values, values)
    span = np.where(hi > lo, hi - lo, 1.0)
    return np.where(hi > lo, (loss - lo) / span, 0.0)


def _losses(values: np.ndarray, directions: list[str]) -> np.ndarray:
    return np.where(np.array(directions) == "maximize", -values, values)


def recommend(study: optuna.Study) -> Optional[Recommendation]:
    """The configuration to deploy (the rule is in the module's docstring); None when no trial is
    both COMPLETE and feasible."""
    objs = objectives(study)
    front = front_trials(study)
    if not front:
        return None
    directions = [o["direction"] for o in objs]
    if len(objs) == 1:
        best = study.best_trial
        rule = f"best feasible {objs[0]['metric']} ({objs[0]['direction']})"
    else:
        vals = np.array([t.values for t in front], dtype=float)
        loss = _losses(vals, directions)
        norm = _normalised_losses(vals, directions, loss.min(axis=0), loss.max(axis=0))
        dist = np.sqrt((norm ** 2).sum(axis=1))
        best = front[int(np.argmin(dist))]   # argmin: the first of equals, and front is by trial number
        rule = ("compromise point of the Pareto front: the trial nearest the ideal point, every objective "
                "scaled over the front from its best (0) to its worst (1) value")
    return Recommendation(
        trial_number=best.number, params=dict(best.params),
        values={o["metric"]: float(v) for o, v in zip(objs, best.values)},
        metrics=dict(best.user_attrs.get("metrics") or {}), run_spec=run_spec_of(study, best),
        run_hash=best.user_attrs.get("run_hash"), rule=rule, front_size=len(front),
        alternatives=[t.number for t in front if t.number != best.number])


def least_infeasible(study: optuna.Study) -> Optional[FrozenTrial]:
    """Among COMPLETE trials (none feasible), the one whose constraint violations sum to the least."""
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    return min(done, key=lambda t: (_violation(t), t.number)) if done else None


def counts(study: optuna.Study) -> dict[str, int]:
    trials = study.get_trials(deepcopy=False)
    out = {s.name.lower(): 0 for s in TrialState}
    for t in trials:
        out[t.state.name.lower()] += 1
    out["total"] = len(trials)
    out["feasible"] = sum(1 for t in trials if t.state == TrialState.COMPLETE and is_feasible(t))
    out["infeasible"] = out["complete"] - out["feasible"]
    return out


# --------------------------------------------------------------------------------------------- hypervolume

def hypervolume(losses: np.ndarray, reference: np.ndarray) -> float:
    """Of points given as losses (minimised), against a reference point every point should beat."""
    if losses.size == 0:
        return 0.0
    pts = losses[np.all(losses < reference, axis=1)]
    if pts.size == 0:
        return 0.0
    if pts.shape[1] == 1:
        return float(reference[0] - pts[:, 0].min())
    from optuna._hypervolume import compute_hypervolume   # Optuna's exact (WFG) hypervolume
    return float(compute_hypervolume(pts, reference))


# --------------------------------------------------------------------------------------------- nightly comparison

def _worse_by(a: float, b: float, direction: str) -> float:
    """How much worse b is than a, relative to |a| (negative: better)."""
    d = (a - b) if direction == "maximize" else (b - a)
    return d / abs(a) if a != 0 else d


def epsilon_indicator(old: list[FrozenTrial], new: list[FrozenTrial], objs: list[dict[str, str]]) -> dict[str, Any]:
    """The multiplicative epsilon indicator of the new front against the old one: for each old trial,
    the new trial that comes closest (the least relative worsening over its worst objective); the
    answer is the old trial matched worst. None when either front is empty."""
    out: dict[str, Any] = {"value": None, "old_trial": None, "new_trial": None, "metric": None}
    if not old or not new:
        return out
    directions = [o["direction"] for o in objs]
    worst = None
    for a in old:
        best = None
        for b in new:
            per = [_worse_by(x, y, d) for x, y, d in zip(a.values, b.values, directions)]
            j = int(np.argmax(per))
            if best is None or per[j] < best[0]:
                best = (per[j], b.number, j)
        if worst is None or best[0] > worst[0]:
            worst = (best[0], a.number, best[1], best[2])
    value, out["old_trial"], out["new_trial"], j = worst
    out["value"] = _jsonish(float(value))
    out["metric"] = objs[j]["metric"]
    return out


def _params_key(p: dict[str, Any]) -> str:
    return json.dumps(p, sort_keys=True, default=str)


def _rel(new: float, old: float) -> Optional[float]:
    if old == 0:
        return None if new != 0 else 0.0
    return (new - old) / abs(old)


def compare_fronts(old: optuna.Study, new: optuna.Study, tolerance: float = DEFAULT_TOLERANCE) -> dict[str, Any]:
    """What changed between two studies of the same objectives (e.g. yesterday's and today's nightly
    run): see the module docstring for the rules. Raises ValueError when the objectives differ."""
    o_objs, n_objs = objectives(old), objectives(new)
    if [(o["metric"], o["direction"]) for o in o_objs] != [(o["metric"], o["direction"]) for o in n_objs]:
        raise ValueError(f"the studies optimize different objectives: {o_objs} vs {n_objs}")
    directions = [o["direction"] for o in o_objs]
    fo, fn = front_trials(old), front_trials(new)
    vo = np.array([t.values for t in fo], dtype=float).reshape(len(fo), len(directions))
    vn = np.array([t.values for t in fn], dtype=float).reshape(len(fn), len(directions))
    reasons: list[str] = []

    per_objective = []
    for i, o in enumerate(o_objs):
        pick = max if o["direction"] == "maximize" else min
        ob = float(pick(vo[:, i])) if len(fo) else None
        nb = float(pick(vn[:, i])) if len(fn) else None
        change = _rel(nb, ob) if ob is not None and nb is not None else None
        # improvement > 0: better, whatever the direction
        improvement = None if change is None else (change if o["direction"] == "maximize" else -change)
        regressed = bool(improvement is not None and improvement < -tolerance)
        if regressed:
            reasons.append(f"best {o['metric']} worsened by {-improvement:.1%} ({ob:.6g} -> {nb:.6g}; tolerance {tolerance:.1%})")
        per_objective.append({"metric": o["metric"], "direction": o["direction"], "old_best": _jsonish(ob),
                              "new_best": _jsonish(nb), "change": _jsonish(change),
                              "improvement": _jsonish(improvement), "regressed": regressed})

    # hypervolume in one space for both fronts
    hv: dict[str, Any] = {"old": None, "new": None, "change": None, "reference_point": None, "bounds": None}
    both = np.vstack([vo, vn])
    if len(both):
        loss = _losses(both, directions)
        lo, hi = loss.min(axis=0), loss.max(axis=0)
        ref = np.full(len(directions), 1.1)
        hv_o = hypervolume(_normalised_losses(vo, directions, lo, hi), ref) if len(fo) else 0.0
        hv_n = hypervolume(_normalised_losses(vn, directions, lo, hi), ref) if len(fn) else 0.0
        change = _rel(hv_n, hv_o) if len(fo) else None
        hv = {"old": hv_o, "new": hv_n, "change": _jsonish(change), "reference_point": ref.tolist(),
              "bounds": {o["metric"]: ([-hi[i], -lo[i]] if o["direction"] == "maximize" else [lo[i], hi[i]])
                         for i, o in enumerate(o_objs)}}
    eps = epsilon_indicator(fo, fn, o_objs)
    if eps["value"] is not None and eps["value"] > tolerance:
        reasons.append(f"trial {eps['old_trial']} of the old front is matched at best {eps['value']:.1%} worse "
                       f"(new trial {eps['new_trial']}, in {eps['metric']}; tolerance {tolerance:.1%})")
    if fo and not fn:
        reasons.append("the new study has no feasible completed trial (empty front)")

    def entries(front: list[FrozenTrial]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for t in front:
            out.setdefault(_params_key(t.params), {"params": dict(t.params), "trial": t.number,
                                                   "values": {o["metric"]: _jsonish(v) for o, v in zip(o_objs, t.values)}})
        return out

    eo, en = entries(fo), entries(fn)
    kept = []
    for k in eo.keys() & en.keys():
        kept.append({"params": eo[k]["params"], "old_trial": eo[k]["trial"], "new_trial": en[k]["trial"],
                     "old": eo[k]["values"], "new": en[k]["values"],
                     "change": {m: _jsonish(_rel(en[k]["values"][m], eo[k]["values"][m]))
                                if eo[k]["values"][m] is not None and en[k]["values"][m] is not None else None
                                for m in eo[k]["values"]}})
    kept.sort(key=lambda r: r["new_trial"])

    def side(s: optuna.Study, front: list[FrozenTrial]) -> dict[str, Any]:
        c = counts(s)
        return {"study": s.study_name, "trials": c["total"], "complete": c["complete"], "failed": c["fail"],
                "feasible": c["feasible"], "front_size": len(front)}

    return {
        "objectives": per_objective,
        "hypervolume": hv,
        "epsilon": eps,
        "front": {"entered": sorted((en[k] for k in en.keys() - eo.keys()), key=lambda r: r["trial"]),
                  "left": sorted((eo[k] for k in eo.keys() - en.keys()), key=lambda r: r["trial"]),
                  "kept": kept},
        "old": side(old, fo), "new": side(new, fn),
        "tolerance": tolerance,
        "regression": bool(reasons),
        "reasons": reasons,
        "compared_at": datetime.now().astimezone().isoformat(timespec="seconds"),
    }
