"""Commands that read the inventory never create an empty database by accident; they say
which database they looked at and how to point them at another. --config goes before or
after the verb."""

from __future__ import annotations

import pytest

from camerahub.cli import main
from tests.support.deployment import SECRET
from tests.support.paths import MINIMAL

READERS = [["cameras"], ["cameras", "--json"], ["audit", "verify"], ["apikey", "list"],
           ["user", "revoke", "kiki-sato"], ["index", "rebuild"], ["retention", "sweep"],
           ["record", "--duration", "1"]]


@pytest.fixture
def empty(tmp_path, monkeypatch, capsys):
    """No database yet, in a data directory of the test's own."""
    monkeypatch.setenv("CAMERAHUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CAMERAHUB_DATABASE_URL", raising=False)
    monkeypatch.setenv("CAMERAHUB_CONFIG", str(MINIMAL))

    def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(list(argv))
        return code, capsys.readouterr().err

    return run, tmp_path / "data" / "camerahub.db"


@pytest.mark.parametrize("argv", READERS, ids=[" ".join(a) for a in READERS])
def test_readers_refuse_a_missing_database_and_say_where_they_looked(argv, empty):
    run, db = empty
    code, err = run(*argv)
    assert code == 2
    assert f"no camerahub database at {db}" in err and "CAMERAHUB_DATA_DIR" in err
    assert "deploy apply" in err and "--config" in err
    assert not db.exists()


def test_deploy_creates_it_and_then_the_readers_work(empty):
    run, db = empty
    assert run("deploy", "apply", "-f", str(MINIMAL))[0] == 0
    assert db.exists()
    assert run("cameras")[0] == 0


def test_config_before_the_verb(empty, tmp_path, monkeypatch, capsys):
    run, _ = empty
    monkeypatch.delenv("CAMERAHUB_CONFIG")
    assert run("--config", str(MINIMAL), "deploy", "apply", "-f", str(MINIMAL))[0] == 0
    capsys.readouterr()
    assert main(["--config", str(MINIMAL), "cameras", "--json"]) == 0
    assert "hq-1f-koseki-01" in capsys.readouterr().out


def test_a_postgres_url_without_the_schema_is_refused(postgres_url, monkeypatch, capsys):
    monkeypatch.setenv("CAMERAHUB_DATABASE_URL", postgres_url)
    assert main(["--config", str(MINIMAL), "cameras"]) == 2
    err = capsys.readouterr().err
    assert "has no camerahub schema" in err and "CAMERAHUB_DATABASE_URL" in err


@pytest.mark.parametrize("verb", [["record", "--duration", "1"], ["serve"], ["discover"]],
                         ids=["record", "serve", "discover"])
@pytest.mark.parametrize("content", [None, "not a certificate\n"], ids=["absent", "garbage"])
def test_an_unusable_camera_ca_file_stops_the_verb_at_once(empty, tmp_path, monkeypatch,
                                                            content, verb):
    """defaults.tls_ca_file is read when record, serve or discover starts (relative to the
    config file), so a typo is one clear error, not every camera spoken to over TLS
    (rtsps://, ONVIF over HTTPS) failing on its own later."""
    import yaml

    run, _ = empty
    config = tmp_path / "camerahub.yaml"
    data = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    data.setdefault("defaults", {})["tls_ca_file"] = "cameras-ca.pem"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    if content is not None:
        (tmp_path / "cameras-ca.pem").write_text(content)
    monkeypatch.setenv("CAMERAHUB_CONFIG", str(config))
    monkeypatch.setenv("CAMERAHUB_SECRET_KEY", SECRET)  # serve asks for it first
    assert run("deploy", "apply", "-f", str(config))[0] == 0
    code, err = run(*verb)
    assert code == 2
    assert f"the cameras' CA file {tmp_path / 'cameras-ca.pem'} cannot be used" in err
    assert "Traceback" not in err
