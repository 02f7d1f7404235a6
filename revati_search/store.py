"""revati-search's result store: our own tables beside Optuna's, in the same database.

Optuna's RDB storage is the source of truth for trials; these tables keep what a trial does not:

  revati_versions     one row per combination of versions (torch, transformers, cuda, revati, predictor, ...)
  revati_runs         one row per emulated run, unique on run_hash (run spec + engine/emulator versions):
                      status ok|failed, reason, the resolved run spec, the summary (summary.json), wall time
  revati_requests     one row per request of a run: the columns of requests.csv (revati_search.metrics)
  revati_validations  an emulated run against a real-GPU run of the same spec (revati_search.emulate.compare)

The schema is migrated with Alembic, programmatically, on open (`Store(url)`), with its own version table
(`revati_alembic_version`) so Optuna's migrations and ours never meet. Opening is safe from several
processes at once: on PostgreSQL the upgrade runs under an advisory lock, on SQLite under BEGIN IMMEDIATE.

    store = Store("sqlite:///study.db")          # or a path, or postgresql+psycopg://...
    if (hit := store.find_run(h)) is None:
        store.save_run(RunRecord(run_hash=h, status="ok", run_spec=spec, summary=s), requests=rows)
"""
from __future__ import annotations

import hashlib
import json
import math
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Optional

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "revati_alembic_version"
_LOCK_KEY = zlib.crc32(b"revati_search.store.migrations")   # pg_advisory_xact_lock key
STATUSES = ("ok", "failed")

# --------------------------------------------------------------------------------------------- schema
# Mirrors migrations/versions/*.py (the migrations are what creates it; this is what queries use).

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)

metadata = sa.MetaData()

versions_t = sa.Table(
    "revati_versions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(64), nullable=False, unique=True),
    sa.Column("torch", sa.String(64)),
    sa.Column("transformers", sa.String(64)),
    sa.Column("cuda", sa.String(32)),
    sa.Column("revati", sa.String(64)),
    sa.Column("predictor", sa.String(128)),
    sa.Column("python", sa.String(32)),
    sa.Column("data", JSON, nullable=False),
    sa.Column("created_at", _WHEN, nullable=False),
)

runs_t = sa.Table(
    "revati_runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_hash", sa.String(128), nullable=False, unique=True),
    sa.Column("study_name", sa.String(512), index=True),
    sa.Column("trial_number", sa.Integer),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("run_spec", JSON, nullable=False),
    sa.Column("summary", JSON),
    sa.Column("versions_id", sa.Integer, sa.ForeignKey("revati_versions.id")),
    sa.Column("wall_s", sa.Float),
    sa.Column("out_dir", sa.Text),
    sa.Column("created_at", _WHEN, nullable=False),
    sa.CheckConstraint("status IN ('ok', 'failed')", name="revati_runs_status"),
)

requests_t = sa.Table(
    "revati_requests", metadata,
    sa.Column("id", _BIGID, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("revati_runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("idx", sa.Integer, nullable=False),
    sa.Column("request_id", sa.String(256)),
    sa.Column("arrival_s", sa.Float),
    sa.Column("sent_s", sa.Float),
    sa.Column("first_token_s", sa.Float),
    sa.Column("last_token_s", sa.Float),
    sa.Column("input_tokens", sa.Integer),
    sa.Column("output_tokens", sa.Integer),
    sa.Column("status", sa.String(32)),
    sa.Column("error", sa.Text),
    sa.Column("token_times_s", sa.Text),
    sa.UniqueConstraint("run_id", "idx", name="revati_requests_run_idx"),
)

validations_t = sa.Table(
    "revati_validations", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(256)),
    sa.Column("run_hash", sa.String(128), index=True),
    sa.Column("run_spec", JSON, nullable=False),
    sa.Column("emulated", JSON, nullable=False),
    sa.Column("real", JSON, nullable=False),
    sa.Column("errors", JSON, nullable=False),
    sa.Column("comparison", JSON, nullable=False),
    sa.Column("versions_id", sa.Integer, sa.ForeignKey("revati_versions.id")),
    sa.Column("real_versions_id", sa.Integer, sa.ForeignKey("revati_versions.id")),
    sa.Column("created_at", _WHEN, nullable=False),
)

_REQUEST_FLOATS = ("arrival_s", "sent_s", "first_token_s", "last_token_s")


# --------------------------------------------------------------------------------------------- records

@dataclass
class RunRecord:
    """One emulated (or real) run, as the optimizer stores it."""
    run_hash: str
    status: str = "ok"                         # ok | failed
    run_spec: dict[str, Any] = field(default_factory=dict)
    summary: Optional[dict[str, Any]] = None   # summary.json
    reason: Optional[str] = None               # why it failed
    study_name: Optional[str] = None
    trial_number: Optional[int] = None
    versions: Optional[dict[str, Any]] = None  # torch, transformers, cuda, revati, predictor, ...
    wall_s: Optional[float] = None
    out_dir: Optional[str] = None
    created_at: Optional[datetime] = None      # set by save_run when None


@dataclass
class ValidationRecord:
    id: int
    name: Optional[str]
    run_hash: Optional[str]
    run_spec: dict[str, Any]
    emulated: dict[str, Any]
    real: dict[str, Any]
    errors: dict[str, Optional[float]]         # metric -> (emulated - real) / real
    comparison: dict[str, Any]                 # revati_search.emulate.compare's whole answer
    created_at: datetime


# --------------------------------------------------------------------------------------------- URLs

def storage_url(storage: str | Path) -> str:
    """A storage as users write it (a URL, or a path to an SQLite file) as a URL that both SQLAlchemy
    and Optuna open: plain paths become sqlite:///ABS, postgresql:// and postgres:// use psycopg 3."""
    s = str(storage)
    if "://" not in s:
        return f"sqlite:///{Path(s).expanduser().resolve()}"
    for plain in ("postgresql://", "postgres://"):
        if s.startswith(plain):
            return "postgresql+psycopg://" + s[len(plain):]
    return s


def make_engine(url: str) -> sa.Engine:
    url = storage_url(url)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 60}   # wait for other writers (Optuna, other trials) instead of failing
    else:
        kwargs["pool_pre_ping"] = True
    return sa.create_engine(url, **kwargs)


# --------------------------------------------------------------------------------------------- migrations

def _alembic_config(url: str):  # noqa: ANN202
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()  # type: ignore[return-value]


def current_revision(engine: sa.Engine) -> Optional[str]:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Brings our tables to `revision` (Optuna's are left alone). Several processes may call it at once:
    one migrates, the others wait and find the work done."""
    from alembic import command

    if revision == "head" and current_revision(engine) == head_revision():
        return
    cfg = _alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        elif engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")   # the database's write lock, held until the commit
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


# --------------------------------------------------------------------------------------------- helpers

def _clean(obj: Any) -> Any:
    """JSON-able: paths and other objects as strings, NaN/inf as null (PostgreSQL's JSON has no NaN)."""
    return json.loads(json.dumps(obj, default=str), parse_constant=lambda _c: None)


_VERSION_ALIASES = {"revati": ("revati", "revati_version", "revati-search", "revati_search"),
                    "torch": ("torch",), "transformers": ("transformers",), "cuda": ("cuda",),
                    "predictor": ("predictor",), "python": ("python",)}


def _version_row(versions: dict[str, Any]) -> dict[str, Any]:
    data = _clean(versions)
    row: dict[str, Any] = {"key": hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest(), "data": data}
    for col, names in _VERSION_ALIASES.items():
        val = next((data[n] for n in names if data.get(n) is not None), None)
        row[col] = None if val is None else str(val)
    return row


def _nan_to_none(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


def _request_row(run_id: int, idx: int, r: dict[str, Any]) -> dict[str, Any]:
    times = r.get("token_times_s") or ""
    if not isinstance(times, str):
        times = " ".join(f"{t:.9f}" for t in times)
    row = {"run_id": run_id, "idx": idx, "request_id": None if r.get("request_id") is None else str(r["request_id"]),
           "status": r.get("status"), "error": r.get("error") or None, "token_times_s": times}
    for k in _REQUEST_FLOATS:
        v = r.get(k)
        row[k] = None if v in (None, "") else _nan_to_none(float(v))
    for k in ("input_tokens", "output_tokens"):
        v = r.get(k)
        row[k] = None if v in (None, "") else int(v)
    return row


def _utc(dt: Optional[datetime]) -> Optional[datetime]:
    if dt is not None and dt.tzinfo is None:   # SQLite gives naive datetimes back; we store UTC
        return dt.replace(tzinfo=timezone.utc)
    return dt


# --------------------------------------------------------------------------------------------- the store

class Store:
    """Our tables in the database at `url` (the study's storage). Creates or upgrades them on open."""

    def __init__(self, url: str | Path, *, migrate: bool = True):
        self.url = storage_url(url)
        self.engine = make_engine(self.url)
        if migrate:
            upgrade(self.engine)

    # -- lifecycle
    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _insert(self, table: sa.Table):  # noqa: ANN202  (the dialect's INSERT, with ON CONFLICT)
        return (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(table)

    def _versions_id(self, conn: sa.Connection, versions: Optional[dict[str, Any]]) -> Optional[int]:
        if not versions:
            return None
        row = _version_row(versions)
        row["created_at"] = datetime.now(timezone.utc)
        conn.execute(self._insert(versions_t).values(**row).on_conflict_do_nothing(index_elements=["key"]))
        return conn.execute(sa.select(versions_t.c.id).where(versions_t.c.key == row["key"])).scalar_one()

    # -- runs
    def save_run(self, record: RunRecord, requests: Optional[Iterable[dict[str, Any]]] = None) -> bool:
        """Stores a run and its per-request rows in one transaction. Idempotent on run_hash: when the
        hash is already stored (by this or another process) nothing is written and False comes back,
        except that an ok run replaces a failed one of the same hash (a retried hang or crash)."""
        if record.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {record.status!r}")
        with self.engine.begin() as conn:
            values = {
                "run_hash": record.run_hash, "study_name": record.study_name, "trial_number": record.trial_number,
                "status": record.status, "reason": record.reason, "run_spec": _clean(record.run_spec or {}),
                "summary": None if record.summary is None else _clean(record.summary),
                "versions_id": self._versions_id(conn, record.versions),
                "wall_s": record.wall_s, "out_dir": None if record.out_dir is None else str(record.out_dir),
                "created_at": record.created_at or datetime.now(timezone.utc),
            }
            ins = self._insert(runs_t).values(**values)
            if record.status == "ok":
                stmt = ins.on_conflict_do_update(
                    index_elements=["run_hash"],
                    set_={k: ins.excluded[k] for k in values if k != "run_hash"},
                    where=runs_t.c.status == "failed")
            else:
                stmt = ins.on_conflict_do_nothing(index_elements=["run_hash"])
            run_id = conn.execute(stmt.returning(runs_t.c.id)).scalar_one_or_none()
            if run_id is None:
                return False
            conn.execute(sa.delete(requests_t).where(requests_t.c.run_id == run_id))   # a replaced failure's
            rows = [_request_row(run_id, i, r) for i, r in enumerate(requests or ())]
            if rows:
                conn.execute(sa.insert(requests_t), rows)
        return True

    def _select_runs(self):  # noqa: ANN202
        return (sa.select(runs_t, versions_t.c.data.label("versions_data"))
                .select_from(runs_t.outerjoin(versions_t, runs_t.c.versions_id == versions_t.c.id)))

    @staticmethod
    def _record(row: sa.Row) -> RunRecord:
        m = row._mapping
        return RunRecord(run_hash=m["run_hash"], status=m["status"], run_spec=m["run_spec"], summary=m["summary"],
                         reason=m["reason"], study_name=m["study_name"], trial_number=m["trial_number"],
                         versions=m["versions_data"], wall_s=m["wall_s"], out_dir=m["out_dir"],
                         created_at=_utc(m["created_at"]))

    def find_run(self, run_hash: str) -> Optional[RunRecord]:
        with self.engine.connect() as conn:
            row = conn.execute(self._select_runs().where(runs_t.c.run_hash == run_hash)).first()
        return None if row is None else self._record(row)

    def runs(self, study_name: Optional[str] = None) -> list[RunRecord]:
        """The runs of a study (every run when None), by trial number."""
        q = self._select_runs()
        if study_name is not None:
            q = q.where(runs_t.c.study_name == study_name)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(runs_t.c.trial_number, runs_t.c.id)).all()
        return [self._record(r) for r in rows]

    def requests(self, run_hash: str) -> list[dict[str, Any]]:
        """A run's per-request rows as revati_search.metrics.read_requests gives them (NaN for missing
        times, token_times_s a list), so metrics.summarize recomputes its summary."""
        q = (sa.select(requests_t).join(runs_t, requests_t.c.run_id == runs_t.c.id)
             .where(runs_t.c.run_hash == run_hash).order_by(requests_t.c.idx))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        out = []
        for row in rows:
            m = row._mapping
            r: dict[str, Any] = {"request_id": m["request_id"], "status": m["status"], "error": m["error"] or ""}
            for k in _REQUEST_FLOATS:
                r[k] = math.nan if m[k] is None else float(m[k])
            for k in ("input_tokens", "output_tokens"):
                r[k] = m[k] or 0
            r["token_times_s"] = [float(x) for x in (m["token_times_s"] or "").split()]
            out.append(r)
        return out

    # -- validations
    def save_validation(self, run_spec: dict[str, Any], emulated: dict[str, Any], real: dict[str, Any], *,
                        run_hash: Optional[str] = None, name: Optional[str] = None,
                        comparison: Optional[dict[str, Any]] = None) -> int:
        """Stores an emulated run (its summary) against the real-GPU run of the same spec: both summaries,
        each metric's relative error (revati_search.emulate.compare unless `comparison` is given) and
        both sides' versions. Returns the validation's id."""
        if comparison is None:
            from .emulate import compare
            comparison = compare(emulated, real)
        comparison = _clean(comparison)
        errors = {k: row.get("error") for k, row in comparison.get("metrics", {}).items()}
        with self.engine.begin() as conn:
            return conn.execute(sa.insert(validations_t).values(
                name=name, run_hash=run_hash, run_spec=_clean(run_spec), emulated=_clean(emulated), real=_clean(real),
                errors=errors, comparison=comparison,
                versions_id=self._versions_id(conn, emulated.get("versions")),
                real_versions_id=self._versions_id(conn, real.get("versions")),
                created_at=datetime.now(timezone.utc)).returning(validations_t.c.id)).scalar_one()

    def validations(self, *, run_hash: Optional[str] = None, name: Optional[str] = None) -> list[ValidationRecord]:
        q = sa.select(validations_t).order_by(validations_t.c.id)
        if run_hash is not None:
            q = q.where(validations_t.c.run_hash == run_hash)
        if name is not None:
            q = q.where(validations_t.c.name == name)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [ValidationRecord(id=m["id"], name=m["name"], run_hash=m["run_hash"], run_spec=m["run_spec"],
                                 emulated=m["emulated"], real=m["real"], errors=m["errors"],
                                 comparison=m["comparison"], created_at=_utc(m["created_at"]))
                for m in (r._mapping for r in rows)]

    # -- versions
    def versions(self) -> list[dict[str, Any]]:
        """Every stored combination of versions (the whole dict each run or validation gave)."""
        with self.engine.connect() as conn:
            return [dict(r.data) for r in conn.execute(sa.select(versions_t.c.data).order_by(versions_t.c.id))]
