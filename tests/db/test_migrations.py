"""The migrations are one chain and build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from camerahub.db import models as m
from camerahub.db.engine import MIGRATIONS, migrate


def test_the_migrations_have_one_head_and_no_branch():
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(cfg)
    assert len(script.get_heads()) == 1, script.get_heads()
    revisions = list(script.walk_revisions())
    assert all(not isinstance(r.down_revision, tuple) for r in revisions)


def test_upgrade_head_gives_the_models_schema(db_url):
    engine = create_engine(db_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), m.Base.metadata)
    finally:
        engine.dispose()
    # types are compared loosely across dialects; tables, columns and indexes must match
    structural = [d for d in diff if not (isinstance(d, list) or d[0].startswith("modify_"))]
    assert structural == [], structural
