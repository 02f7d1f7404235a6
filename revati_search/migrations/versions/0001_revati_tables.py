"""revati-search's tables beside Optuna's: versions, runs, per-request records, validations.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "revati_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),   # sha256 of the whole combination
        sa.Column("torch", sa.String(64)),
        sa.Column("transformers", sa.String(64)),
        sa.Column("cuda", sa.String(32)),
        sa.Column("revati", sa.String(64)),
        sa.Column("predictor", sa.String(128)),
        sa.Column("python", sa.String(32)),
        sa.Column("data", JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "revati_runs",
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
        sa.Column("created_at", WHEN, nullable=False),
        sa.CheckConstraint("status IN ('ok', 'failed')", name="revati_runs_status"),
    )
    op.create_table(
        "revati_requests",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
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
    op.create_table(
        "revati_validations",
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
        sa.Column("created_at", WHEN, nullable=False),
    )


def downgrade() -> None:
    for name in ("revati_validations", "revati_requests", "revati_runs", "revati_versions"):
        op.drop_table(name)
