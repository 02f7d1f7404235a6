"""The result store (revati_search.store): our tables beside Optuna's, on real SQLite and PostgreSQL."""
from __future__ import annotations

import math
import multiprocessing as mp
import random

import optuna
import pytest
import sqlalchemy as sa

from revati_search import metrics
from revati_search.store import (RunRecord, Store, VERSION_TABLE, current_revision, head_revision, storage_url)

optuna.logging.set_verbosity(optuna.logging.WARNING)

SUMMARY = {"duration": 1.5, "output_throughput": 123.0, "p99_ttft_ms": 45.0, "std_itl_ms": float("nan")}
VERSIONS = {"torch": "2.14.1+cu130", "transformers": "5.18.0", "cuda": "13.0", "revati": "0.1.0", "predictor": "default"}


def _requests(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        sent = i * 0.1
        times = [sent + 0.02 + k * 0.01 + rng.random() * 1e-3 for k in range(4)]
        rows.append({"request_id": f"r{i}", "arrival_s": sent, "sent_s": sent, "first_token_s": times[0],
                     "last_token_s": times[-1], "input_tokens": 32 + i, "output_tokens": 4, "status": "ok",
                     "error": "", "token_times_s": times})
    rows.append({"request_id": "bad", "arrival_s": 9.0, "sent_s": 9.0, "first_token_s": math.nan,
                 "last_token_s": math.nan, "input_tokens": 8, "output_tokens": 0, "status": "failed",
                 "error": "engine dropped it", "token_times_s": []})
    return rows


def _record(h: str, **kw) -> RunRecord:
    base = dict(run_hash=h, status="ok", study_name="s", trial_number=0, run_spec={"model": "m", "serving": {"x": 1}},
                summary=SUMMARY, versions=VERSIONS, wall_s=2.0, out_dir="/tmp/x")
    base.update(kw)
    return RunRecord(**base)


def _roundtrip(url: str) -> None:
    optuna.create_study(storage=url, study_name="s")   # Optuna's tables first, as the driver does
    store = Store(url)
    assert current_revision(store.engine) == head_revision()
    rows = _requests(5)
    assert store.save_run(_record("h1"), rows) is True
    got = store.find_run("h1")
    assert got is not None and got.status == "ok" and got.study_name == "s"
    assert got.summary["std_itl_ms"] is None and got.summary["output_throughput"] == 123.0   # NaN stored as null
    assert got.versions == VERSIONS and got.created_at is not None and got.created_at.tzinfo is not None
    back = store.requests("h1")
    assert len(back) == 6 and math.isnan(back[-1]["first_token_s"]) and back[-1]["error"] == "engine dropped it"
    assert metrics.summarize(back) == pytest.approx(metrics.summarize(rows))   # the per-request table is whole
    # idempotent: a second save of the hash writes nothing
    assert store.save_run(_record("h1", trial_number=7), rows) is False
    assert store.find_run("h1").trial_number == 0 and len(store.requests("h1")) == 6
    # a failed run is kept with its reason; an ok run of the same hash replaces it, a failed one does not
    assert store.save_run(_record("h2", status="failed", summary=None, reason="CUDA out of memory"), rows[:2])
    assert not store.save_run(_record("h2", status="failed", reason="again"))
    assert store.find_run("h2").reason == "CUDA out of memory"
    assert store.save_run(_record("h2", trial_number=3), rows[:3])
    h2 = store.find_run("h2")
    assert h2.status == "ok" and h2.reason is None and h2.trial_number == 3 and len(store.requests("h2")) == 3
    assert store.find_run("nope") is None
    with pytest.raises(ValueError):
        store.save_run(_record("h3", status="weird"))
    store.save_run(_record("h4", study_name="other", versions={**VERSIONS, "torch": "2.15"}))
    assert [r.run_hash for r in store.runs("s")] == ["h1", "h2"] and len(store.runs()) == 3
    assert len(store.versions()) == 2
    # validations: both summaries, per-metric errors
    vid = store.save_validation({"model": "m"}, {"duration": 1.1, "p99_ttft_ms": 50.0, "versions": VERSIONS},
                                {"duration": 1.0, "p99_ttft_ms": 40.0, "versions": {"torch": "x"}},
                                run_hash="h1", name="8b-poisson")
    (v,) = store.validations(run_hash="h1")
    assert v.id == vid and v.name == "8b-poisson"
    assert v.errors["duration"] == pytest.approx(0.1) and v.errors["p99_ttft_ms"] == pytest.approx(0.25)
    assert len(store.versions()) == 3
    store.close()
    # a second open is a no-op migration; Optuna still reads its study
    Store(url).close()
    assert optuna.load_study(study_name="s", storage=url).study_name == "s"
    engine = sa.create_engine(url)
    tables = set(sa.inspect(engine).get_table_names())
    assert {"revati_runs", "revati_requests", "revati_versions", "revati_validations", VERSION_TABLE,
            "alembic_version", "trials"} <= tables
    with engine.connect() as c:   # Optuna's own migration table is untouched by ours
        assert c.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one() == head_revision()
        assert c.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() != head_revision()
    engine.dispose()


def test_store_sqlite(tmp_path):
    _roundtrip(f"sqlite:///{tmp_path / 'study.db'}")


def test_store_postgres(postgres_url):
    _roundtrip(postgres_url)


def test_storage_url(tmp_path):
    assert storage_url(tmp_path / "a.db") == f"sqlite:///{tmp_path / 'a.db'}"
    assert storage_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert storage_url("sqlite:///x.db") == "sqlite:///x.db"
    with Store(tmp_path / "b.db") as s:   # a bare path opens as SQLite
        assert s.engine.dialect.name == "sqlite"


# ------------------------------------------------------------------------------------------- two processes

SHARED = [f"shared-{i}" for i in range(30)]


def _worker(url: str, me: int, barrier, results) -> None:
    barrier.wait()                 # both open (and migrate) at the same instant
    store = Store(url)
    mine = [f"own-{me}-{i}" for i in range(15)]
    hashes = SHARED + mine
    random.Random(me).shuffle(hashes)
    stored = []
    for i, h in enumerate(hashes):
        if store.save_run(_record(h, trial_number=i, study_name=f"p{me}"), _requests(3, seed=i)):
            stored.append(h)
    store.close()
    results.put((me, stored))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_processes_save_concurrently(backend, tmp_path, request):
    url = f"sqlite:///{tmp_path / 'study.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, me, barrier, results)) for me in (0, 1)]
    for p in procs:
        p.start()
    got = dict(results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    # every shared hash stored by exactly one of them; each one's own hashes all stored
    assert sorted(got[0] + got[1]) == sorted(SHARED + [f"own-{m}-{i}" for m in (0, 1) for i in range(15)])
    store = Store(url)
    runs = store.runs()
    assert len(runs) == len(SHARED) + 30 and len({r.run_hash for r in runs}) == len(runs)
    for h in SHARED[:5] + ["own-0-0", "own-1-14"]:
        assert len(store.requests(h)) == 4
    with store.engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM revati_requests")).scalar_one() == 4 * len(runs)
        assert c.execute(sa.text("SELECT count(*) FROM revati_versions")).scalar_one() == 1
        assert c.execute(sa.text(f"SELECT count(*) FROM {VERSION_TABLE}")).scalar_one() == 1
    store.close()
