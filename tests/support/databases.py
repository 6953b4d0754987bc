"""The test PostgreSQL server and throwaway schemas on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

PG_ADMIN_URL = os.environ.get("CAMERAHUB_TEST_PG",
                              "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def pg_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it answers."""
    engine = create_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except OperationalError as exc:
        return f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc.orig}"
    finally:
        engine.dispose()
    return None


@contextmanager
def pg_schema() -> Iterator[str]:
    """A URL on a fresh schema of its own (unique per test and per xdist worker), dropped after."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
