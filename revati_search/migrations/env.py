"""Alembic environment of revati-search's own tables (run programmatically by revati_search.store).

Our migrations keep their own version table, so they never touch Optuna's (which lives in the same
database and has its own `alembic_version`)."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

VERSION_TABLE = "revati_alembic_version"

config = context.config


def _include(obj, name, type_, reflected, compare_to):  # noqa: ANN001  (autogenerate: our tables only)
    return not (type_ == "table" and name and not name.startswith("revati_"))


def run() -> None:
    from revati_search.store import metadata

    conn = config.attributes.get("connection")
    if conn is None:   # `alembic -x` style use, e.g. autogenerating a new revision
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as c:
            context.configure(connection=c, target_metadata=metadata, version_table=VERSION_TABLE,
                              include_object=_include, render_as_batch=True)
            context.run_migrations()
        engine.dispose()
        return
    context.configure(connection=conn, target_metadata=metadata, version_table=VERSION_TABLE,
                      include_object=_include, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), version_table=VERSION_TABLE,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run()
