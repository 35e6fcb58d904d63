from pathlib import Path

import pytest

from commentsvc import create_app
from commentsvc.config import ConfigError
from commentsvc.config import load_settings


def test_defaults_apply_without_anything_set():
    settings = load_settings(environ={})
    assert settings["GUARD"] is True
    assert settings["FETCH_ALLOW_PRIVATE"] is False
    assert settings["DATABASE_URL"] == ""


def test_file_then_environment_then_overrides(tmp_path):
    config = tmp_path / "commentsvc.toml"
    config.write_text('public_url = "https://file.example"\nguard = false\nmax_text_length = 50\n')
    environ = {
        "COMMENTSVC_CONFIG": str(config),
        "COMMENTSVC_PUBLIC_URL": "https://env.example",
        "COMMENTSVC_MAX_TEXT_LENGTH": "70",
    }
    settings = load_settings(environ=environ)
    assert settings["PUBLIC_URL"] == "https://env.example"  # environment beats the file
    assert settings["GUARD"] is False  # from the file
    assert settings["MAX_TEXT_LENGTH"] == 70

    settings = load_settings(environ=environ, overrides={"MAX_TEXT_LENGTH": 90})
    assert settings["MAX_TEXT_LENGTH"] == 90  # the caller's dict beats everything


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("COMMENTSVC_GUARD", "maybe", "on or off"),
        ("COMMENTSVC_MAX_BODY_BYTES", "lots", "whole number"),
        ("COMMENTSVC_PROXY_COUNT", "-1", "negative"),
    ],
)
def test_bad_environment_values_are_named(key, value, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(environ={key: value})
    assert key in str(info.value)


def test_unknown_or_broken_config_file_is_refused(tmp_path):
    unknown = tmp_path / "a.toml"
    unknown.write_text('databse_url = "x"\n')
    with pytest.raises(ConfigError, match="unknown setting 'databse_url'"):
        load_settings(environ={"COMMENTSVC_CONFIG": str(unknown)})
    broken = tmp_path / "b.toml"
    broken.write_text("guard = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(environ={"COMMENTSVC_CONFIG": str(broken)})
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(environ={"COMMENTSVC_CONFIG": str(tmp_path / "missing.toml")})


def test_environment_reaches_the_app(monkeypatch, tmp_path):
    monkeypatch.setenv("COMMENTSVC_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.setenv("COMMENTSVC_PUBLIC_URL", "https://comments.example.org")
    app = create_app()
    assert app.config["PUBLIC_URL"] == "https://comments.example.org"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'inst' / 'comments.db'}"


def test_secret_key_is_generated_once_into_the_instance_folder(tmp_path):
    first = create_app({"INSTANCE_PATH": str(tmp_path)})
    second = create_app({"INSTANCE_PATH": str(tmp_path)})
    key_file = Path(tmp_path) / "secret_key"
    assert key_file.stat().st_mode & 0o077 == 0
    assert len(first.config["SECRET_KEY"]) >= 40
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == key_file.read_text()


def test_a_given_secret_key_wins(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "given"})
    assert app.config["SECRET_KEY"] == "given"
    assert not (tmp_path / "secret_key").exists()


def test_postgres_urls_get_the_psycopg_driver(tmp_path):
    app = create_app(
        {"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "postgres://u@127.0.0.1:5432/x"}
    )
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@127.0.0.1:5432/x"
