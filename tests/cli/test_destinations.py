"""--destination: URL parsing, settings from flags, environment and .env, exit codes, and
the password kept out of every message."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from customer_sync.cli import main
from customer_sync.config import load_settings
from customer_sync.destinations import DestinationError, parse_destination
from customer_sync.errors import ConfigError

PASSWORD = "pa55-w0rd-x"


@pytest.mark.parametrize(
    ("url", "kind", "path", "schema"),
    [
        ("json:out/c.json", "json", "out/c.json", "customer_sync"),
        ("duckdb:warehouse.duckdb", "duckdb", "warehouse.duckdb", "customer_sync"),
        ("duckdb:///tmp/w.duckdb", "duckdb", "/tmp/w.duckdb", "customer_sync"),
        ("parquet:lake/customers", "parquet", "lake/customers", "customer_sync"),
        (f"postgresql://u:{PASSWORD}@db:5432/crm", "postgresql", None, "customer_sync"),
        ("postgres://u@db/crm?schema=analytics", "postgresql", None, "analytics"),
        ("POSTGRESQL://u@db/crm?sslmode=require", "postgresql", None, "customer_sync"),
    ],
)
def test_destination_urls_parse(url: str, kind: str, path: str | None, schema: str) -> None:
    """Each scheme gives its kind, its path or its schema (default customer_sync)."""
    destination = parse_destination(url)
    assert destination.kind == kind
    assert (str(destination.path) if destination.path else None) == path
    assert destination.schema == schema
    assert PASSWORD not in repr(destination)
    assert PASSWORD not in destination.display


def test_postgres_conninfo_drops_only_our_schema_parameter() -> None:
    """The driver gets the URL without ``schema`` and with every other parameter."""
    destination = parse_destination("postgres://u:p@db:5433/crm?schema=a&sslmode=require")
    assert destination.conninfo == "postgresql://u:p@db:5433/crm?sslmode=require"


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("warehouse.duckdb", "has no scheme"),
        ("mysql://u:{pw}@db/crm", "unknown destination scheme 'mysql'"),
        ("sqlite:c.db", "unknown destination scheme 'sqlite'"),
        ("duckdb:", "must name a file"),
        ("parquet:", "must name a folder"),
        ("postgresql://u:{pw}@/crm", "has no host"),
        ("postgresql://u:{pw}@db:5432", "names no database"),
        ("postgresql://u:{pw}@db:99999/crm", "not a valid PostgreSQL URL"),
        ("postgresql://u:{pw}@db/crm?schema=Bad-Name", "lower-case SQL identifier"),
    ],
)
def test_bad_destination_urls_are_refused_with_the_password_masked(url: str, needle: str) -> None:
    """A bad URL or an unknown scheme is refused with one line that never shows the password."""
    with pytest.raises(DestinationError) as caught:
        parse_destination(url.format(pw=PASSWORD))
    assert needle in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_default_set_is_the_json_output() -> None:
    """With no --destination the run writes json:OUTPUT, so the default run is unchanged."""
    settings = load_settings({}, environ={}, env_file=None)
    assert [d.url for d in settings.destinations] == ["json:sample_output.json"]
    moved = load_settings({"output": "out/x.json"}, environ={}, env_file=None)
    assert [str(d.path) for d in moved.destinations] == ["out/x.json"]


def test_destination_from_flags_environment_and_dotenv(tmp_path: Path) -> None:
    """Repeated flags, a comma-separated PIPELINE_DESTINATION, and a .env file all work;
    giving destinations replaces the default set."""
    from customer_sync.cli import build_parser

    args = vars(build_parser().parse_args(
        ["--destination", "duckdb:a.duckdb", "--destination", "json:o.json"]
    ))
    flags = load_settings(args, environ={}, env_file=None)
    assert [d.kind for d in flags.destinations] == ["duckdb", "json"]
    env = load_settings(
        {}, environ={"PIPELINE_DESTINATION": "parquet:lake, postgres://u@h/db"}, env_file=None
    )
    assert [d.kind for d in env.destinations] == ["parquet", "postgresql"]
    dotenv = tmp_path / ".env"
    dotenv.write_text("PIPELINE_DESTINATION=duckdb:w.duckdb,json:x.json\n")
    from_file = load_settings({}, environ={}, env_file=dotenv)
    assert [d.url for d in from_file.destinations] == ["duckdb:w.duckdb", "json:x.json"]


def test_explicit_output_next_to_destinations_is_written_too() -> None:
    """--output given with --destination adds its JSON file (once), first."""
    both = load_settings(
        {"output": "o.json", "destination": ["duckdb:c.duckdb"]}, environ={}, env_file=None
    )
    assert [d.url for d in both.destinations] == ["json:o.json", "duckdb:c.duckdb"]
    listed = load_settings(
        {"output": "o.json", "destination": ["json:o.json"]}, environ={}, env_file=None
    )
    assert [d.url for d in listed.destinations] == ["json:o.json"]
    only = load_settings({"destination": ["duckdb:c.duckdb"]}, environ={}, env_file=None)
    assert [d.url for d in only.destinations] == ["duckdb:c.duckdb"]


def test_settings_repr_hides_the_database_password() -> None:
    """The settings' repr never shows a destination's password."""
    settings = load_settings(
        {}, environ={"PIPELINE_DESTINATION": f"postgresql://u:{PASSWORD}@h/db"}, env_file=None
    )
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in repr(settings.destinations)


def test_bad_destination_is_a_configuration_error() -> None:
    """A bad destination in the settings is a ConfigError naming the flag and variable."""
    with pytest.raises(ConfigError) as caught:
        load_settings({"destination": [f"ftp://u:{PASSWORD}@h/x"]}, environ={}, env_file=None)
    assert caught.value.exit_code == 2
    assert "--destination / PIPELINE_DESTINATION" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def _cli(argv: list[str], tmp_path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, environ={}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_unknown_scheme_exits_2_with_one_masked_line(tmp_path: Path) -> None:
    """An unknown scheme exits 2 with one line on stderr, the password masked."""
    code, _, err = _cli(["--destination", f"mysql://u:{PASSWORD}@h/db"], tmp_path)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "unknown destination scheme 'mysql'" in err
    assert PASSWORD not in err


def test_unreachable_database_exits_1_before_fetching(tmp_path: Path) -> None:
    """A PostgreSQL server that cannot be reached exits 1 with one masked line and no
    traceback, before any request to the API."""
    import socket

    with socket.socket() as sock:  # a loopback port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://u:{PASSWORD}@127.0.0.1:{port}/crm"
    code, out, err = _cli(
        ["--destination", url, "--no-progress", "--log-level", "error",
         "--state-dir", str(tmp_path / "state"), "--api-url", "http://127.0.0.1:9/api"],
        tmp_path,
    )
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: cannot connect to postgresql://***@")
    assert PASSWORD not in err
    assert "Traceback" not in err
