"""Engines, sessions and schema migrations for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
# Arbitrary constant that names camerahub's inventory write lock on PostgreSQL.
INVENTORY_LOCK_ID = 0x6361_6D68


class DatabaseError(Exception):
    """The database URL is unusable or the database cannot be reached."""


class DatabaseMissing(DatabaseError):
    """There is no camerahub database where the URL points (and none may be created)."""


def describe_url(url: str) -> str:
    """The URL for messages: the file of a SQLite URL, any other URL without its password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "an invalid database URL"
    if parsed.get_backend_name() == "sqlite":
        return str(Path(parsed.database or ":memory:").resolve()) if parsed.database else url
    return parsed.render_as_string(hide_password=True)


def _parse(url: str) -> tuple[URL, str | None]:
    """The parsed URL and, for a SQLite file, its path (None for memory or another backend)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"invalid database URL: {exc}") from None
    is_file = parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "",
                                                                                ":memory:")
    return parsed, parsed.database if is_file else None


def require_database(url: str) -> None:
    """DatabaseMissing unless url holds a camerahub schema already (nothing is created)."""
    parsed, sqlite_file = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        if sqlite_file is not None and not Path(sqlite_file).is_file():
            raise DatabaseMissing(f"no camerahub database at {describe_url(url)}")
        return
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            present = inspect(conn).has_table("alembic_version")
    except OperationalError as exc:
        raise DatabaseError(f"cannot reach database: {exc.orig}") from None
    finally:
        engine.dispose()
    if not present:
        raise DatabaseMissing(f"the database at {describe_url(url)} has no camerahub schema")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # let the begin hook below issue BEGIN itself
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn) -> None:
    # IMMEDIATE takes the write lock up front, so two deploy applies cannot interleave.
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str) -> Engine:
    """An engine for url; SQLite gets WAL, foreign keys and explicit transactions."""
    parsed, sqlite_file = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        if sqlite_file is not None:
            Path(sqlite_file).parent.mkdir(parents=True, exist_ok=True)
            # Connections to a local file are cheap; a roomy pool keeps threads that wait for
            # the write lock from starving the one that holds it of a second connection.
            engine = create_engine(parsed, connect_args={"timeout": 30}, pool_size=20,
                                   max_overflow=40)
        else:  # in memory: one connection shared by every thread, or each sees its own DB
            engine = create_engine(parsed, poolclass=StaticPool,
                                   connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (Alembic upgrade head)."""
    # Alembic costs about 0.15 s to import; only commands that open a database pay it.
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise DatabaseError(f"cannot reach database: {exc.orig}") from None


class Sessions(sessionmaker):
    """A sessionmaker whose begin() takes SQLite's write lock up front.

    A deferred SQLite transaction that reads and then writes fails at once with "database
    is locked" when another writer got in between (no busy wait is possible there), so
    every write transaction starts with BEGIN IMMEDIATE and waits its turn instead.
    """

    @contextlib.contextmanager
    def begin(self) -> Iterator[Session]:  # type: ignore[override]
        """A session in a write transaction: commit on success, rollback on error."""
        with self() as session:
            if session.get_bind().dialect.name == "sqlite":
                session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise


    @contextlib.contextmanager
    def immediate(self) -> Iterator[Session]:
        """A session whose every transaction (also after a commit) starts IMMEDIATE on SQLite.

        For request handlers that read and then write (the audit entry of an access
        decision) possibly several times: each transaction waits for the write lock up
        front instead of failing when another writer got in between.
        """
        bind = self.kw["bind"]
        if bind.dialect.name == "sqlite":
            bind = bind.execution_options(sqlite_begin="IMMEDIATE")
        with self(bind=bind) as session:
            yield session


def session_factory(engine: Engine) -> Sessions:
    """Sessions that keep loaded objects usable after commit."""
    return Sessions(engine, expire_on_commit=False)


@contextlib.contextmanager
def inventory_write(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction holding the inventory write lock; commits on success, else rolls back."""
    with factory.begin() as session:
        if session.get_bind().dialect.name != "sqlite":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": INVENTORY_LOCK_ID})
        yield session


def open_database(url: str) -> tuple[Engine, Sessions]:
    """Engine and session factory for url, with the schema migrated."""
    engine = make_engine(url)
    migrate(engine)
    return engine, session_factory(engine)
