"""Fixtures of the API tests: the real app over the example deployment (tests.support.api)."""

from __future__ import annotations

import pytest

from tests.support.api import Api, build_api


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Api:
    """One deployed SQLite database and app per test module."""
    return build_api(f"sqlite:///{tmp_path_factory.mktemp('api') / 'db.sqlite'}")


@pytest.fixture
def fresh_api(db_url, tmp_path) -> Api:
    """A deployed database and app of its own, on SQLite and on PostgreSQL."""
    built = build_api(db_url, tmp_path / "data")
    yield built
    built.client.close()
    built.app.state.camerahub.engine.dispose()
