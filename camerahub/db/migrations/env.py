"""Alembic environment: runs on the connection camerahub hands it, or on sqlalchemy.url."""

from alembic import context
from sqlalchemy import create_engine

from camerahub.db.models import Base

target_metadata = Base.metadata


def run() -> None:
    """Run migrations online, reusing a given connection when there is one."""
    conn = context.config.attributes.get("connection")
    if conn is not None:
        context.configure(connection=conn, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
