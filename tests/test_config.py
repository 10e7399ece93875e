"""Configuration: parsed once from the environment (and `.env`); bad settings stop the start."""

from __future__ import annotations

import ast
import os
import re
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from server_process import REPO_ROOT, run_service

from armada import const
from armada.config import (
    ARMADA_VARIABLES,
    OTHER_VARIABLES,
    Config,
    ConfigError,
    MssqlSettings,
    SqliteSettings,
    environment_with_dotenv,
    load_config,
    parse_duration,
)

MSSQL = {
    "SQL_SERVER_NAME": "db.example.com",
    "SQL_SERVER_USER": "armada",
    "SQL_SERVER_PASSWORD": "secret",
    "SQL_SERVER_DB": "ArmadaDB",
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory, and a process environment without any Armada or SQL Server setting."""
    for variable in list(os.environ):
        if variable.startswith(("ARMADA_", "SQL_SERVER_")):
            monkeypatch.delenv(variable)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def config_error(environ: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(environ)
    return caught.value


def test_defaults_serve_sqlite_on_localhost_8000():
    config = load_config({})

    assert config == Config(database=SqliteSettings(path=Path("armada.db")))
    assert config.host == "127.0.0.1"
    assert config.port == 8000
    assert config.cors_origins == (
        "http://localhost:5173", "http://localhost:8080", "http://localhost:3000",
    )
    assert config.db_timeout == const.DB_TIMEOUT_SECONDS


def test_sqlite_at_armada_db_path(tmp_path: Path):
    config = load_config({"ARMADA_DB_PATH": str(tmp_path / "tracking.db")})

    assert config.database == SqliteSettings(path=tmp_path / "tracking.db")


def test_sql_server_is_chosen_when_sql_server_name_is_set(tmp_path: Path):
    config = load_config({**MSSQL, "ARMADA_DB_PATH": str(tmp_path / "ignored.db")})

    assert config.database == MssqlSettings(
        server="db.example.com", port=1433, user="armada", password="secret",
        database="ArmadaDB",
    )


def test_sql_server_port_variable():
    assert load_config({**MSSQL, "SQL_SERVER_PORT": "14330"}).database.port == 14330


def test_sql_server_name_may_carry_the_port():
    database = load_config({**MSSQL, "SQL_SERVER_NAME": "db.example.com, 1533"}).database

    assert (database.server, database.port) == ("db.example.com", 1533)


@pytest.mark.parametrize("name", ["db.example.com,", "db.example.com,abc", "db,70000", ",1433"])
def test_a_bad_port_in_sql_server_name_names_it(name: str):
    assert config_error({**MSSQL, "SQL_SERVER_NAME": name}).variable == "SQL_SERVER_NAME"


@pytest.mark.parametrize("variable", ["SQL_SERVER_USER", "SQL_SERVER_PASSWORD", "SQL_SERVER_DB"])
def test_missing_sql_server_setting_names_the_variable(variable: str):
    environ = {key: value for key, value in MSSQL.items() if key != variable}

    error = config_error(environ)

    assert error.variable == variable
    assert variable in str(error)


def test_sql_server_name_alone_names_every_missing_login_variable_in_one_error():
    error = config_error({"SQL_SERVER_NAME": "db"})

    assert error.variable == "SQL_SERVER_USER, SQL_SERVER_PASSWORD, SQL_SERVER_DB"
    assert str(error) == ("SQL_SERVER_USER, SQL_SERVER_PASSWORD, SQL_SERVER_DB: "
                          "required when SQL_SERVER_NAME is set")


def test_the_password_is_not_in_the_settings_repr():
    assert "secret" not in repr(load_config(MSSQL))


@pytest.mark.parametrize("port", ["abc", "0", "65536", "80.5", "-1"])
def test_a_bad_armada_port_names_it(port: str):
    error = config_error({"ARMADA_PORT": port})

    assert error.variable == "ARMADA_PORT"
    assert "ARMADA_PORT" in str(error)


def test_armada_db_path_in_a_missing_directory_names_it(tmp_path: Path):
    error = config_error({"ARMADA_DB_PATH": str(tmp_path / "missing" / "armada.db")})

    assert error.variable == "ARMADA_DB_PATH"
    assert "missing" in error.problem


def test_armada_db_path_that_is_a_directory_names_it(tmp_path: Path):
    assert config_error({"ARMADA_DB_PATH": str(tmp_path)}).variable == "ARMADA_DB_PATH"


def test_cors_origins_are_a_comma_separated_list():
    config = load_config({"ARMADA_CORS_ORIGINS": " https://a.example.com/, http://b:8080 ,,"})

    assert config.cors_origins == ("https://a.example.com", "http://b:8080")


def test_empty_cors_origins_allow_no_browser_origin():
    assert load_config({"ARMADA_CORS_ORIGINS": ""}).cors_origins == ()


def test_a_cors_origin_that_is_not_http_names_the_variable():
    assert config_error({"ARMADA_CORS_ORIGINS": "localhost:3000"}).variable \
        == "ARMADA_CORS_ORIGINS"


def test_host_and_port():
    config = load_config({"ARMADA_HOST": "0.0.0.0", "ARMADA_PORT": "9000"})

    assert (config.host, config.port) == ("0.0.0.0", 9000)


def test_a_bad_host_names_it():
    assert config_error({"ARMADA_HOST": "not a host"}).variable == "ARMADA_HOST"


def test_dotenv_in_the_working_directory_is_read(workdir: Path):
    (workdir / ".env").write_text("ARMADA_PORT=9100\nARMADA_HOST=0.0.0.0\n")

    config = load_config(environment_with_dotenv())

    assert (config.host, config.port) == ("0.0.0.0", 9100)


def test_the_environment_wins_over_dotenv(workdir: Path, monkeypatch: pytest.MonkeyPatch):
    (workdir / ".env").write_text("ARMADA_PORT=9100\n")
    monkeypatch.setenv("ARMADA_PORT", "9200")

    assert load_config(environment_with_dotenv()).port == 9200


def test_no_dotenv_file_is_fine(workdir: Path):
    assert load_config(environment_with_dotenv()).port == 8000


@pytest.mark.external
def test_serve_with_a_bad_port_exits_2_with_one_line_naming_it(tmp_path: Path):
    result = run_service(tmp_path, ARMADA_PORT="eighty")

    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "ARMADA_PORT" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.external
def test_serve_reads_a_bad_setting_from_dotenv_too(tmp_path: Path):
    (tmp_path / ".env").write_text("SQL_SERVER_NAME=db.example.com\n")

    result = run_service(tmp_path)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert "SQL_SERVER_USER, SQL_SERVER_PASSWORD, SQL_SERVER_DB: required" in result.stderr


def test_memory_and_slow_client_limits_have_defaults():
    config = load_config({})

    assert (config.ws_buffer_bytes, config.ws_queue_bytes) == (
        const.WS_BUFFER_BYTES, const.WS_MAX_PENDING_BYTES)
    assert (config.header_timeout, config.max_connections) == (
        const.HEADER_TIMEOUT_SECONDS, const.MAX_CONNECTIONS)


def test_memory_and_slow_client_limits_are_read_from_the_environment():
    config = load_config({"ARMADA_WS_BUFFER_BYTES": "8388608", "ARMADA_WS_QUEUE_BYTES": "65536",
                          "ARMADA_HEADER_TIMEOUT": "2.5", "ARMADA_MAX_CONNECTIONS": "300"})

    assert (config.ws_buffer_bytes, config.ws_queue_bytes) == (8 * 1024 * 1024, 65536)
    assert (config.header_timeout, config.max_connections) == (2.5, 300)


@pytest.mark.parametrize("variable, value", [
    ("ARMADA_WS_BUFFER_BYTES", "1000"), ("ARMADA_WS_BUFFER_BYTES", "64MB"),
    ("ARMADA_WS_QUEUE_BYTES", "0"), ("ARMADA_WS_QUEUE_BYTES", "-1"),
    ("ARMADA_HEADER_TIMEOUT", "0"), ("ARMADA_HEADER_TIMEOUT", "soon"),
    ("ARMADA_MAX_CONNECTIONS", "0"), ("ARMADA_MAX_CONNECTIONS", "1.5"),
])
def test_a_bad_memory_or_slow_client_limit_names_the_variable(variable: str, value: str):
    error = config_error({variable: value})

    assert error.variable == variable
    assert variable in str(error)


@pytest.mark.parametrize("text, plain_unit, seconds", [
    ("45s", "s", 45), ("90m", "s", 5400), ("12h", "s", 43200), ("30d", "s", 2592000),
    ("1.5h", "s", 5400), (" 2 m ", "s", 120), ("30D", "s", 2592000), ("90", "s", 90),
    ("0.5", "s", 0.5), ("7", "d", 604800), ("7", "m", 420), ("0", "s", 0),
])
def test_one_duration_syntax_a_plain_number_in_the_settings_own_unit(
        text: str, plain_unit: str, seconds: float):
    assert parse_duration(text, plain_unit) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "30x", "d", "-5m", "1e3", "30 days", "nan",
                                  "inf", "1h30m"])
def test_what_is_not_a_duration_is_refused_with_the_syntax(text: str):
    with pytest.raises(ValueError, match="45s, 90m, 12h or 30d"):
        parse_duration(text)


@pytest.mark.parametrize("variable, attribute, text, expected", [
    ("ARMADA_JOB_STALE_AFTER", "job_stale_after", "1d", 86400),
    ("ARMADA_JOB_STALE_AFTER", "job_stale_after", "900", 900),
    ("ARMADA_RETENTION_DAYS", "retention_days", "30d", 30),
    ("ARMADA_RETENTION_DAYS", "retention_days", "30", 30),
    ("ARMADA_RETENTION_DAYS", "retention_days", "12h", 0.5),
    ("ARMADA_DB_TIMEOUT", "db_timeout", "2m", 120),
    ("ARMADA_DB_TIMEOUT", "db_timeout", "2.5", 2.5),
    ("ARMADA_REQUEST_TIMEOUT", "request_timeout", "1m", 60),
    ("ARMADA_HEADER_TIMEOUT", "header_timeout", "30s", 30),
    ("ARMADA_WS_HEARTBEAT", "ws_heartbeat", "15s", 15),
])
def test_every_duration_setting_takes_the_one_syntax(variable: str, attribute: str, text: str,
                                                     expected: float):
    assert getattr(load_config({variable: text}), attribute) == expected


@pytest.mark.parametrize("variable, text", [
    ("ARMADA_JOB_STALE_AFTER", "367d"), ("ARMADA_RETENTION_DAYS", "1d2"),
    ("ARMADA_DB_TIMEOUT", "11m"), ("ARMADA_WS_HEARTBEAT", "1m"),
])
def test_a_duration_out_of_range_or_malformed_names_the_variable(variable: str, text: str):
    error = config_error({variable: text})

    assert error.variable == variable
    assert text in str(error)


def test_a_misspelt_armada_variable_is_a_warning_that_names_the_closest_setting():
    config = load_config({"ARMADA_PROT": "9000", "ARMADA_NOTHING_LIKE_IT": "1",
                          "ARMADA_TOKEN": "client-side-token", "ARMADA_TEST_MSSQL": "1",
                          "OTHER_PROT": "1"})

    assert config.warnings == (
        "ARMADA_NOTHING_LIKE_IT is not a setting of the service; it is ignored",
        "ARMADA_PROT is not a setting of the service (did you mean ARMADA_PORT?); it is ignored",
    )
    assert config.port == 8000


@pytest.mark.external
def test_serve_warns_at_start_of_a_misspelt_variable_in_dotenv(tmp_path: Path):
    (tmp_path / ".env").write_text("ARMADA_PROT=9000\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        # A port in use stops the start right after the warnings: the run needs no server.
        result = run_service(tmp_path, ARMADA_PORT=str(taken.getsockname()[1]),
                             ARMADA_DB_PATH=str(tmp_path / "armada.db"))

    first, second = result.stderr.splitlines()
    assert first.endswith(" WARNING armada: ARMADA_PROT is not a setting of the service "
                          "(did you mean ARMADA_PORT?); it is ignored"), result.stderr
    assert second.startswith("armada: cannot listen on")


def test_every_armada_variable_named_in_the_configuration_is_known_and_documented():
    source = ast.parse((REPO_ROOT / "armada" / "config.py").read_text())
    named = {node.value for node in ast.walk(source) if isinstance(node, ast.Constant)
             and isinstance(node.value, str) and re.fullmatch(r"ARMADA_[A-Z_]*[A-Z]", node.value)}
    table = (REPO_ROOT / "README.md").read_text().partition("## Configuration")[2]
    documented = set(re.findall(r"^\| `(ARMADA_[A-Z_]+)`", table, re.MULTILINE)) | set(
        re.findall(r"^\| `ARMADA_[A-Z_]+`, `(ARMADA_[A-Z_]+)`", table, re.MULTILINE))

    assert named - set(OTHER_VARIABLES) == set(ARMADA_VARIABLES)
    assert documented == set(ARMADA_VARIABLES)


def test_the_sql_server_description_names_host_and_database_and_never_the_password():
    described = load_config(MSSQL).database.describe()

    assert described == "SQL Server db.example.com:1433, database ArmadaDB"
    assert "secret" not in described


@pytest.mark.parametrize("variable, value, listed", [
    ("ARMADA_LOG_FORMAT", "xml", "'xml' is not one of text, json"),
    ("ARMADA_EVENT_LOOP", "trio", "'trio' is not one of auto, uvloop, asyncio"),
    ("ARMADA_LOG_LEVEL", "loud", "'loud' is not one of DEBUG, INFO, WARNING, ERROR"),
])
def test_a_value_not_among_the_choices_is_named_as_given_with_the_choices_as_the_readme_writes(
        variable: str, value: str, listed: str):
    assert str(config_error({variable: value})) == f"{variable}: {listed}"


@pytest.mark.parametrize("variable, value, loaded", [
    ("ARMADA_LOG_FORMAT", "JSON", "json"), ("ARMADA_EVENT_LOOP", "AsyncIO", "asyncio"),
    ("ARMADA_LOG_LEVEL", "debug", "DEBUG"),
])
def test_choices_are_read_in_any_letter_case(variable: str, value: str, loaded: str):
    attribute = {"ARMADA_LOG_FORMAT": "log_format", "ARMADA_EVENT_LOOP": "event_loop",
                 "ARMADA_LOG_LEVEL": "log_level"}[variable]
    assert getattr(load_config({variable: value}), attribute) == loaded
