"""`revati-search optimize STUDY.yaml`: Optuna proposes configurations (ask), Ray runs each as an
emulated serving run, results are told back as they finish. Optuna's storage is the source of truth;
our own tables (revati_search.store) keep every run's full result and per-request records.

Guarantees:
- a run whose engine crashes, runs out of memory or hangs fails its trial with the reason
  (user attr `fail_reason`); the study goes on. A Ray worker that dies is retried by Ray.
- Ctrl-C cancels the running trials (FAIL, user attr `interrupted`) and keeps finished ones; their
  configurations are queued again, so running the same command resumes where it stopped. Trials left
  RUNNING by a killed optimizer are failed (heartbeat) and queued again the same way.
- a configuration already run with the same engine and emulator versions (identity.run_hash) is
  not emulated again: the stored result is told (user attr `cached_from`).
- n_trials counts the study's trials over all invocations and processes sharing the storage.
"""
from __future__ import annotations

import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import optuna
from optuna.trial import TrialState

from . import identity, objectives, search_space
from .metrics import read_requests
from .spec import SpecError
from .store import RunRecord, Store, storage_url
from .study import StudySpec, dump
from .trials import OUTER_GRACE_S, TrialJob, TrialOutcome, emulate_trial

Evaluate = Callable[[TrialJob], TrialOutcome]
HEARTBEAT_S = 20
GRACE_S = 120            # a RUNNING trial without heartbeat for this long belongs to a dead optimizer
BUDGET_STATES = (TrialState.COMPLETE, TrialState.FAIL, TrialState.RUNNING)   # queued (WAITING) trials are yet to run
RETRYABLE = ("did not finish within", "wall-clock limit", "interrupted", "worker died")


class OptimizeError(RuntimeError):
    """The study cannot run (storage, Ray cluster, incompatible earlier study); message says why."""


@dataclass
class TrialEvent:
    """What the progress view is told about one trial."""
    number: int
    state: str                      # started | complete | failed | cached
    params: dict[str, Any]
    values: Optional[list[float]] = None
    reason: Optional[str] = None
    wall_s: Optional[float] = None
    feasible: bool = True


@dataclass
class Summary:
    study_name: str
    storage: str
    complete: int
    failed: int
    interrupted: bool
    best: list[dict[str, Any]] = field(default_factory=list)   # the Pareto front (or the best trial)


def default_out(spec: StudySpec) -> Path:
    return Path("runs") / spec.name


def storage_for(spec: StudySpec, out: Path) -> str:
    return storage_url(spec.storage) if spec.storage else storage_url(Path(out) / "study.db")


def make_sampler(spec: StudySpec) -> optuna.samplers.BaseSampler:
    """auto = TPE (multivariate, grouped): it takes conditional spaces, several objectives and
    constraints at once. Startup trials are a third of the budget (at least 3, at most 10).
    Constraints reach every sampler through Trial.set_constraint (see _tell_outcome)."""
    startup = min(10, max(3, spec.n_trials // 3))
    if spec.sampler in ("auto", "tpe"):
        return optuna.samplers.TPESampler(seed=spec.seed, multivariate=True, group=True, n_startup_trials=startup)
    if spec.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=spec.seed, population_size=max(4, min(50, spec.n_trials // 4)))
    if spec.sampler == "gp":
        return optuna.samplers.GPSampler(seed=spec.seed, n_startup_trials=startup)
    return optuna.samplers.RandomSampler(seed=spec.seed)


def _quiet_optuna() -> None:
    # our progress view reports trials; heartbeats are recorded by hand (ask/tell has no thread for it)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")


# PostgreSQL fails a concurrent CREATE TABLE / CREATE TYPE of the same name with one of these, depending
# on timing (all seen in tests): unique_violation on its catalog, duplicate_table, duplicate_object (enums)
_TABLE_RACE_SQLSTATES = {"23505", "42P07", "42710"}


def _lost_table_creation_race(e: Exception) -> bool:
    orig = getattr(e, "orig", None)
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)   # psycopg 3 / psycopg2
    return state in _TABLE_RACE_SQLSTATES


def open_study(spec: StudySpec, url: str, sampler: Optional[optuna.samplers.BaseSampler] = None) -> optuna.Study:
    import sqlalchemy.exc

    _quiet_optuna()
    if url.startswith("sqlite:///"):   # a new SQLite file's folder is made, as for the default one
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(5):
        try:
            storage = optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                                                 engine_kwargs=_engine_kwargs(url))
            break
        except sqlalchemy.exc.DBAPIError as e:
            if not _lost_table_creation_race(e):
                raise OptimizeError(f"cannot open the storage {url}: {str(e).splitlines()[0]}") from None
            # another optimizer is creating Optuna's tables in the same new database right now
            # (PostgreSQL's concurrent CREATE TABLE): they exist once it is done
            time.sleep(0.5 * (attempt + 1))
        except (sqlalchemy.exc.SQLAlchemyError, ImportError) as e:
            raise OptimizeError(f"cannot open the storage {url}: {str(e).splitlines()[0]}") from None
    else:
        raise OptimizeError(f"cannot open the storage {url}: its tables could not be created (another process kept failing them)")
    try:
        study = optuna.create_study(study_name=spec.name, storage=storage, directions=spec.directions(),
                                    sampler=sampler or make_sampler(spec), load_if_exists=True)
    except ValueError as e:   # e.g. an existing study with other directions
        raise OptimizeError(f"study {spec.name!r} in {url}: {e}") from None
    attrs = study.user_attrs
    mine = {"objectives": [o.model_dump() for o in spec.objectives],
            "constraints": [c.model_dump() for c in spec.constraints]}
    if "objectives" in attrs and attrs["objectives"] != mine["objectives"]:
        raise OptimizeError(f"study {spec.name!r} in {url} already exists with objectives {attrs['objectives']}; "
                            "give the study another name to optimize other objectives")
    study.set_user_attr("revati_spec", json.loads(dump(spec)))
    study.set_user_attr("objectives", mine["objectives"])
    study.set_user_attr("constraints", mine["constraints"])
    study.set_user_attr("revati_version", identity.versions()["revati_search"])
    if study.metric_names is None:   # optuna-dashboard labels the objectives with these
        study.set_metric_names([o.metric for o in spec.objectives])
    return study


def _engine_kwargs(url: str) -> dict[str, Any]:
    # SQLite: wait for another optimizer's write lock instead of failing at once
    return {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}


def _counted(t: optuna.trial.FrozenTrial) -> bool:
    return not (t.state == TrialState.FAIL and t.user_attrs.get("interrupted")) and not (
        t.state == TrialState.FAIL and "fail_reason" not in t.user_attrs)   # killed optimizer: re-queued


def trials_counted(study: optuna.Study) -> int:
    return sum(_counted(t) for t in study.get_trials(deepcopy=False, states=BUDGET_STATES))


def _requeue_stale(study: optuna.Study) -> int:
    """RUNNING trials of an optimizer that died (no heartbeat) fail and their params run again."""
    optuna.storages.fail_stale_trials(study)
    n = 0
    trials = study.get_trials(deepcopy=False)
    queued = {_key(_params(t)) for t in trials if t.state == TrialState.WAITING}
    done = {_key(t.params) for t in trials if t.state == TrialState.COMPLETE}
    retried = {t.user_attrs.get("retry_of") for t in trials}   # each lost trial is queued again once
    for t in trials:
        if t.state != TrialState.FAIL or t.number in retried or t.user_attrs.get("requeued"):
            continue
        if "fail_reason" not in t.user_attrs or t.user_attrs.get("interrupted"):
            k = _key(t.params)
            if t.params and k not in queued and k not in done:
                study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
                queued.add(k)
                n += 1
    return n


def _params(t: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """A trial's configuration, also for queued trials (whose params are only fixed, not yet set)."""
    return t.params or t.system_attrs.get("fixed_params", {})


def _key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


@dataclass
class _Running:
    trial: optuna.Trial
    params: dict[str, Any]
    started: float


class Optimizer:
    def __init__(self, spec: StudySpec, out: Optional[Path] = None, *, evaluate: Evaluate = emulate_trial,
                 on_event: Optional[Callable[[TrialEvent], None]] = None):
        self.spec = spec
        self.out = Path(out) if out is not None else default_out(spec)
        self.out.mkdir(parents=True, exist_ok=True)
        self.url = storage_for(spec, self.out)
        self.host = spec.host_timings()   # the modelled host, part of every run's identity
        self.evaluate = evaluate
        self.on_event = on_event or (lambda e: None)

    # ------------------------------------------------------------------ set-up
    def _ray(self) -> float:
        """Starts or joins Ray; returns the CPUs it has."""
        import ray

        if not ray.is_initialized():
            address = self.spec.ray_address or os.environ.get("RAY_ADDRESS")
            try:
                if address:
                    ray.init(address=address, log_to_driver=False, configure_logging=False)
                else:
                    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
                             configure_logging=False)
            except Exception as e:  # noqa: BLE001  (connection refused, bad address, ...)
                hint = ("; a cluster with token authentication (Ray's default since 2.59) needs RAY_AUTH_MODE=token "
                        "and its token (RAY_AUTH_TOKEN, or ~/.ray/auth_token)") if address and not os.environ.get("RAY_AUTH_MODE") else ""
                raise OptimizeError(f"cannot start or join Ray{f' at {address}' if address else ''}: {e}{hint}") from None
        return float(ray.cluster_resources().get("CPU", 0))

    def _slots(self, cpus: float) -> int:
        need = self.spec.reserved_cpus()
        if need > cpus:
            raise OptimizeError(f"a trial reserves {need:g} CPUs (cpus_per_trial) but the Ray cluster has {cpus:g}")
        fit = int(cpus // need)
        if self.spec.parallel > fit:
            self.on_event(TrialEvent(-1, "note", {}, reason=f"parallel: {self.spec.parallel} trials of {need:g} CPUs "
                                     f"do not fit the cluster's {cpus:g} CPUs; running {fit} at once"))
        return max(1, min(self.spec.parallel, fit))

    # ------------------------------------------------------------------ the loop
    def run(self) -> Summary:
        import ray

        study = open_study(self.spec, self.url)
        store = Store(self.url)
        _requeue_stale(study)
        slots = self._slots(self._ray())
        remote = ray.remote(_execute).options(num_cpus=self.spec.reserved_cpus(), max_retries=2)
        running: dict[Any, list[_Running]] = {}      # Ray ref -> the trials waiting for that run
        by_hash: dict[str, Any] = {}
        deadline = time.monotonic() + self.spec.timeout if self.spec.timeout else math.inf
        interrupted = False
        last_beat = 0.0
        try:
            while True:
                while (len(running) < slots and time.monotonic() < deadline
                       and trials_counted(study) < self.spec.n_trials):
                    self._start(study, store, remote, running, by_hash)
                if not running:
                    break
                ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
                for ref in ready:
                    self._finish(study, store, ref, running.pop(ref), by_hash)
                now = time.monotonic()
                if now - last_beat >= HEARTBEAT_S / 2:
                    for group in running.values():
                        for r in group:
                            study._storage.record_heartbeat(r.trial._trial_id)
                    last_beat = now
                self._kill_overdue(running)
        except KeyboardInterrupt:
            interrupted = True
            self._cancel_all(study, running)
        finally:
            store.close()
        return self._summary(study, interrupted)

    def _start(self, study: optuna.Study, store: Store, remote: Any, running: dict[Any, list[_Running]],
               by_hash: dict[str, Any]) -> None:
        trial = study.ask()
        params = search_space.suggest(self.spec, trial)
        try:
            run = search_space.run_for(self.spec, params)
        except SpecError as e:   # a combination of knob values the engine options reject
            self._tell_fail(study, trial, params, f"invalid configuration: {e}")
            return
        h = identity.run_hash(run, self.spec.predictor, self.host)
        trial.set_user_attr("run_hash", h)
        trial.set_user_attr("run_spec", run.model_dump(mode="json"))
        trial.set_user_attr("versions", identity.versions())
        out_dir = (self.out / "trials" / f"{trial.number:04d}").resolve()
        trial.set_user_attr("out_dir", str(out_dir))
        cached = store.find_run(h)
        if cached is not None and (cached.status == "ok" or not _retryable(cached.reason)):
            trial.set_user_attr("cached_from", cached.trial_number if cached.study_name == self.spec.name else h)
            self._tell_outcome(study, trial, params, TrialOutcome(cached.status == "ok", summary=cached.summary,
                                                                   reason=cached.reason, wall_s=0.0), cached=True)
            return
        entry = _Running(trial, params, time.monotonic())
        if h in by_hash:   # the same configuration is already running: share its result
            running[by_hash[h]].append(entry)
            self.on_event(TrialEvent(trial.number, "started", params, reason="same configuration as a running trial"))
            return
        job = TrialJob(trial.number, h, run.model_dump(mode="json"), str(out_dir),
                       self.spec.trial_timeout, self.spec.predictor,
                       str(self.spec.target_host) if self.spec.target_host else None)
        ref = remote.remote(self.evaluate, job)
        running[ref] = [entry]
        by_hash[h] = ref
        self.on_event(TrialEvent(trial.number, "started", params))

    def _finish(self, study: optuna.Study, store: Store, ref: Any, group: list[_Running],
                by_hash: dict[str, Any]) -> None:
        import ray

        for h, r in list(by_hash.items()):
            if r is ref:
                del by_hash[h]
        try:
            outcome: TrialOutcome = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            outcome = TrialOutcome(False, reason=f"the emulation did not finish within {self.spec.trial_timeout + OUTER_GRACE_S:.0f} s "
                                   "of wall time and was cancelled (hung engine?)")
        except ray.exceptions.RayError as e:   # the worker died, also after Ray's retries
            outcome = TrialOutcome(False, reason=f"the Ray worker died running the trial: {str(e).splitlines()[0]}")
        first = group[0].trial
        self._save(store, first, outcome)
        for entry in group:
            self._tell_outcome(study, entry.trial, entry.params, outcome)

    def _save(self, store: Store, trial: optuna.Trial, outcome: TrialOutcome) -> None:
        attrs = trial.user_attrs
        out_dir = Path(attrs["out_dir"])
        rows = None
        if outcome.requests_csv is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            path = out_dir / "requests.csv"
            if not path.exists():   # the trial ran on another node
                path.write_text(outcome.requests_csv)
            rows = read_requests(path)
        store.save_run(RunRecord(run_hash=attrs["run_hash"], status="ok" if outcome.ok else "failed",
                                 run_spec=attrs["run_spec"], summary=outcome.summary, reason=outcome.reason,
                                 study_name=self.spec.name, trial_number=trial.number,
                                 versions={**identity.versions(), **((outcome.summary or {}).get("versions") or {})},
                                 wall_s=outcome.wall_s, out_dir=attrs.get("out_dir")), rows)

    def _tell_outcome(self, study: optuna.Study, trial: optuna.Trial, params: dict[str, Any], outcome: TrialOutcome,
                      cached: bool = False) -> None:
        if not outcome.ok or outcome.summary is None:
            self._tell_fail(study, trial, params, outcome.reason or "the run failed", outcome.wall_s)
            return
        run_spec = trial.user_attrs["run_spec"]
        metrics = objectives.derive(outcome.summary, int(run_spec["hardware"]["count"]))
        try:
            values = objectives.values(self.spec.objectives, metrics)
        except KeyError as e:
            self._tell_fail(study, trial, params, str(e.args[0]), outcome.wall_s)
            return
        constraints = objectives.constraint_values(self.spec.constraints, metrics)
        trial.set_user_attr("metrics", metrics)
        for key, value in zip(constraint_keys(self.spec), constraints):
            trial.set_constraint(key, value)
        trial.set_user_attr("wall_s", outcome.wall_s)
        study.tell(trial, values)
        self.on_event(TrialEvent(trial.number, "cached" if cached else "complete", params, values=values,
                                 wall_s=outcome.wall_s, feasible=all(c <= 0 for c in constraints)))

    def _tell_fail(self, study: optuna.Study, trial: optuna.Trial, params: dict[str, Any], reason: str,
                   wall_s: Optional[float] = None, interrupted: bool = False) -> None:
        trial.set_user_attr("fail_reason", reason)
        if interrupted:
            trial.set_user_attr("interrupted", True)
        study.tell(trial, state=TrialState.FAIL)
        self.on_event(TrialEvent(trial.number, "failed", params, reason=reason, wall_s=wall_s))

    def _kill_overdue(self, running: dict[Any, list[_Running]]) -> None:
        """A trial whose Ray task outlives the run's own limit (a stuck worker) is cancelled."""
        import ray

        limit = self.spec.trial_timeout + 2 * OUTER_GRACE_S
        for ref, group in list(running.items()):
            if time.monotonic() - group[0].started > limit:
                ray.cancel(ref, force=True)

    def _cancel_all(self, study: optuna.Study, running: dict[Any, list[_Running]]) -> None:
        import ray

        for ref in running:
            ray.cancel(ref)   # KeyboardInterrupt in the task: it stops its emulation's process group
        for ref, group in running.items():
            try:
                ray.get(ref, timeout=OUTER_GRACE_S)
            except Exception:  # noqa: BLE001  (cancelled, as asked)
                pass
            for entry in group:
                entry.trial.set_user_attr("requeued", True)
                self._tell_fail(study, entry.trial, entry.params, "interrupted (Ctrl-C): queued to run again on resume",
                                interrupted=True)
                study.enqueue_trial(entry.params, user_attrs={"retry_of": entry.trial.number})
        running.clear()

    def _summary(self, study: optuna.Study, interrupted: bool) -> Summary:
        trials = study.get_trials(deepcopy=False)
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        failed = [t for t in trials if t.state == TrialState.FAIL and not t.user_attrs.get("interrupted")]
        best = []
        if complete:
            for t in study.best_trials:
                best.append({"number": t.number, "params": t.params, "values": t.values})
        return Summary(self.spec.name, self.url, len(complete), len(failed), interrupted, best)


def constraint_keys(spec: StudySpec) -> list[str]:
    """Each constraint's key in Optuna (trial.constraints): its metric, numbered if repeated."""
    keys: list[str] = []
    for c in spec.constraints:
        key = c.metric if c.metric not in keys else f"{c.metric}#{len(keys)}"
        keys.append(key)
    return keys


def _retryable(reason: Optional[str]) -> bool:
    return any(k in (reason or "") for k in RETRYABLE)


def _execute(evaluate: Evaluate, job: TrialJob) -> TrialOutcome:
    """The Ray task: one trial, with a failure of the evaluator itself reported, not raised."""
    try:
        return evaluate(job)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001
        import traceback
        return TrialOutcome(False, reason=f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}")


def load_other(ref: str) -> optuna.Study:
    """Another study by its study file, or as STORAGE_URL#NAME."""
    from .study import StudyError, load

    if "#" in ref:
        url, name = ref.rsplit("#", 1)
        try:
            return optuna.load_study(study_name=name, storage=storage_url(url))
        except KeyError as e:
            raise OptimizeError(f"no study {name!r} in {url}") from e
    path = Path(ref)
    if not path.is_file():
        raise OptimizeError(f"{ref}: not a study file nor STORAGE_URL#NAME")
    try:
        other = load(path)
    except StudyError as e:
        raise OptimizeError(str(e)) from None
    url = storage_for(other, default_out(other))
    try:
        return optuna.load_study(study_name=other.name, storage=url)
    except KeyError as e:
        raise OptimizeError(f"study {other.name!r} has no results in {url} yet") from e


def warm_start(study: optuna.Study, ref: str) -> int:
    """Queues the Pareto configurations of another study (a previous night's, another engine
    version's) as this study's next trials, each once."""
    other = load_other(ref)
    known = {_key(_params(t)) for t in study.get_trials(deepcopy=False)}
    n = 0
    for t in other.best_trials if any(t.state == TrialState.COMPLETE for t in other.get_trials(deepcopy=False)) else []:
        if _key(t.params) not in known:
            study.enqueue_trial(t.params, user_attrs={"warm_start_from": f"{other.study_name}#{t.number}"})
            known.add(_key(t.params))
            n += 1
    return n
