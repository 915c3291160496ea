"""Alembic environment: runs on the engine that :func:`tikguard.store.db.upgrade` passes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from tikguard.store.models import Base

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("tikguard migrations run through tikguard.store.db.upgrade()")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=config.get_main_option("version_table") or "tikguard_alembic_version",
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
