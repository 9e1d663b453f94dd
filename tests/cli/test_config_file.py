"""The TOML configuration file: keys are setting names, it ranks below .env, the environment
and flags, and every mistake in it is one line naming the file and the key (exit 2)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from customer_sync.cli import main
from customer_sync.config import config_file_path, load_settings, unknown_variables
from customer_sync.errors import ConfigError

PASSWORD = "s3cr3t-Pw"


def _toml(tmp_path: Path, text: str, name: str = "pipeline.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _cli(argv: list[str], environ: dict[str, str] | None = None) -> tuple[int, str]:
    err = io.StringIO()
    code = main(argv, environ=environ or {}, stdout=io.StringIO(), stderr=err)
    return code, err.getvalue()


def test_precedence_is_flag_env_dotenv_toml_default(tmp_path: Path) -> None:
    """A flag beats the environment, which beats .env, which beats the TOML file, which
    beats the default, key by key."""
    config = _toml(
        tmp_path,
        "per_page = 10\nconcurrency = 2\nread_timeout = 7.5\nmax_retries = 6\n"
        "backoff_max = 12\n",
    )
    dotenv = tmp_path / ".env"
    dotenv.write_text("PIPELINE_PER_PAGE=11\nPIPELINE_CONCURRENCY=5\nPIPELINE_READ_TIMEOUT=9\n")
    environ = {"PIPELINE_PER_PAGE": "22", "PIPELINE_CONCURRENCY": "4"}
    s = load_settings({"per_page": 33}, environ=environ, env_file=dotenv, config_file=config)
    assert (s.per_page, s.concurrency, s.read_timeout, s.max_retries, s.backoff_max) == (
        33, 4, 9.0, 6, 12.0,
    )
    assert s.jitter == 0.1  # in no source: the default


def test_destinations_are_a_toml_array(tmp_path: Path) -> None:
    """``destination`` is an array of URLs, each parsed like --destination."""
    config = _toml(
        tmp_path,
        'destination = ["json:out/customers.json", "duckdb:out/c.duckdb", '
        f'"postgresql://crm:{PASSWORD}@db.internal:5432/crm?schema=analytics"]\n'
        'lookback = "10m"\nsync_mode = "incremental"\nas_of = 2026-01-02T03:04:05Z\n',
    )
    s = load_settings({}, environ={}, env_file=None, config_file=config)
    assert [d.kind for d in s.destinations] == ["json", "duckdb", "postgresql"]
    assert s.destinations[2].schema == "analytics"
    assert (s.lookback, s.sync_mode) == (600.0, "incremental")
    assert s.as_of is not None
    assert s.as_of.isoformat() == "2026-01-02T03:04:05+00:00"
    assert PASSWORD not in repr(s)
    assert PASSWORD in s.secret_values()  # redacted from logs like any other secret


def test_environment_replaces_the_toml_destinations(tmp_path: Path) -> None:
    """PIPELINE_DESTINATION replaces the file's list as a whole (no merging of lists)."""
    config = _toml(tmp_path, 'destination = ["duckdb:a.duckdb", "parquet:lake"]\n')
    s = load_settings(
        {}, environ={"PIPELINE_DESTINATION": "json:b.json"}, env_file=None, config_file=config
    )
    assert [d.url for d in s.destinations] == ["json:b.json"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("per_pag = 10\n", "key 'per_pag' names no setting (did you mean per_page?)"),
        ("max-retries = 2\n", "key 'max-retries' names no setting (did you mean max_retries?)"),
        ("[api]\nper_page = 10\n", "key 'api' names no setting"),
        ("api_url = 'https://x.test'\nPER_PAGE = 3\n", "key 'PER_PAGE' names no setting"),
        ("per_page = 0\n", "invalid setting per_page in config file"),
        ("concurrency = 'lots'\n", "invalid setting concurrency in config file"),
        ("match_email = 'maybe'\n", "invalid setting match_email in config file"),
        ("lookback = 'soon'\n", "invalid setting lookback in config file"),
        ("destination = 'json:a.json'\nsim_seed = [1, 2]\n", "invalid setting sim_seed"),
        ("per_page = \n", "is not valid TOML"),
    ],
)
def test_mistakes_name_the_file_and_the_key(tmp_path: Path, text: str, needle: str) -> None:
    """An unknown key, a wrong type or bad TOML is a ConfigError (exit 2) naming the file."""
    config = _toml(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings({}, environ={}, env_file=None, config_file=config)
    assert caught.value.exit_code == 2
    assert needle in str(caught.value)
    assert str(config) in str(caught.value)


def test_bad_value_overridden_above_the_file_is_not_an_error(tmp_path: Path) -> None:
    """A bad value in the file that the environment overrides is never used, never refused;
    a bad environment value over a good file value is blamed on the variable."""
    config = _toml(tmp_path, "concurrency = 'lots'\nmax_retries = 2\n")
    s = load_settings(
        {}, environ={"PIPELINE_CONCURRENCY": "3"}, env_file=None, config_file=config
    )
    assert (s.concurrency, s.max_retries) == (3, 2)
    with pytest.raises(ConfigError) as caught:
        load_settings({}, environ={"PIPELINE_MAX_RETRIES": "x"}, env_file=None,
                      config_file=_toml(tmp_path, "max_retries = 2\n", "good.toml"))
    assert "max_retries (--max-retries / PIPELINE_MAX_RETRIES)" in str(caught.value)


def test_bad_database_url_in_the_file_is_masked(tmp_path: Path) -> None:
    """A bad destination URL in the file names the file and key, with the password masked."""
    config = _toml(tmp_path, f'destination = ["postgresql://crm:{PASSWORD}@/crm"]\n')
    with pytest.raises(ConfigError) as caught:
        load_settings({}, environ={}, env_file=None, config_file=config)
    message = str(caught.value)
    assert "invalid setting destination in config file" in message
    assert "has no host" in message
    assert PASSWORD not in message


def test_cli_exits_2_with_one_line_for_a_bad_file(tmp_path: Path) -> None:
    """--config naming a file with an unknown key: exit 2, one line, nothing fetched."""
    config = _toml(tmp_path, f'api_key = "{PASSWORD}"\npage_size = 100\n')
    code, err = _cli(["--config", str(config)])
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "key 'page_size' names no setting" in err
    assert PASSWORD not in err


def test_a_named_file_must_exist(tmp_path: Path) -> None:
    """--config or PIPELINE_CONFIG naming a missing file is an error, not a silent default."""
    missing = tmp_path / "nope.toml"
    for argv, environ in (
        (["--config", str(missing)], {}),
        ([], {"PIPELINE_CONFIG": str(missing)}),
    ):
        code, err = _cli(argv, environ)
        assert code == 2
        assert f"config file {str(missing)!r} does not exist" in err


def test_which_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--config beats PIPELINE_CONFIG in the environment, then in .env, which beat
    customer-sync.toml in the working directory, read only if it is there."""
    monkeypatch.chdir(tmp_path)
    assert config_file_path(None, {}) is None
    (tmp_path / "customer-sync.toml").write_text("per_page = 5\n")
    assert config_file_path(None, {}) == Path("customer-sync.toml")
    assert config_file_path(None, {"PIPELINE_CONFIG": "b.toml"}) == Path("b.toml")
    assert config_file_path("a.toml", {"PIPELINE_CONFIG": "b.toml"}) == Path("a.toml")
    (tmp_path / ".env").write_text("PIPELINE_CONFIG=c.toml\n")
    assert config_file_path(None, {}) == Path("c.toml")
    assert config_file_path(None, {"PIPELINE_CONFIG": "b.toml"}) == Path("b.toml")
    assert config_file_path(None, {}, env_file=None) == Path("customer-sync.toml")


def test_cli_reads_the_file_of_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no --config, the CLI reads customer-sync.toml from the working directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "customer-sync.toml").write_text("sim_fault_rate = 2.0\n")
    code, err = _cli([])
    assert code == 2
    assert "invalid setting sim_fault_rate in config file 'customer-sync.toml'" in err


def test_pipeline_config_is_not_an_unknown_variable() -> None:
    """PIPELINE_CONFIG names the file: it is not warned about as a misspelt setting."""
    assert unknown_variables({"PIPELINE_CONFIG": "x.toml"}, env_file=None) == []


def test_readme_example_file_loads(tmp_path: Path) -> None:
    """The README's example customer-sync.toml is a valid configuration."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    s = load_settings({}, environ={}, env_file=None, config_file=_toml(tmp_path, example))
    assert s.api_url == "https://crm.example.com/api"
    assert [d.kind for d in s.destinations] == ["json", "duckdb", "parquet"]
    assert s.full_refresh_every == 7 * 86_400.0
