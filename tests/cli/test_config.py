"""Settings: precedence, validation messages, secrets, and the CLI flag surface."""

from __future__ import annotations

from pathlib import Path

import pytest

from customer_sync.cli import build_parser
from customer_sync.config import Settings, env_var, flag, load_settings
from customer_sync.errors import ConfigError

KEY = "sk-test-7f3a9c"


def test_precedence_is_flag_then_env_then_dotenv_then_default(tmp_path: Path) -> None:
    """A flag beats the environment, which beats .env, which beats the default."""
    dotenv = tmp_path / ".env"
    dotenv.write_text("PIPELINE_PER_PAGE=11\nPIPELINE_CONCURRENCY=5\nPIPELINE_READ_TIMEOUT=9\n")
    environ = {"PIPELINE_PER_PAGE": "22", "PIPELINE_CONCURRENCY": "4"}
    s = load_settings({"per_page": 33}, environ=environ, env_file=dotenv)
    assert (s.per_page, s.concurrency, s.read_timeout, s.max_retries) == (33, 4, 9.0, 3)


@pytest.mark.parametrize(
    ("overrides", "environ", "needle"),
    [
        ({"per_page": 0}, {}, "per_page (--per-page / PIPELINE_PER_PAGE)"),
        ({"api_url": "not a url"}, {}, "api_url (--api-url / PIPELINE_API_URL)"),
        ({"api_url": "ftp://host/x"}, {}, "http:// or https://"),
        ({"as_of": "yesterday"}, {}, "as_of (--as-of / PIPELINE_AS_OF)"),
        ({}, {"PIPELINE_CONCURRENCY": "lots"}, "concurrency"),
        ({"log_level": "chatty"}, {}, "log_level"),
        ({"sim_fault_rate": 1.5}, {}, "sim_fault_rate"),
    ],
)
def test_bad_settings_name_the_setting(
    overrides: dict[str, object], environ: dict[str, str], needle: str
) -> None:
    """An invalid value is a ConfigError (exit 2) naming the setting, its flag and variable."""
    with pytest.raises(ConfigError) as info:
        load_settings(overrides, environ=environ, env_file=None)
    assert needle in str(info.value)
    assert info.value.exit_code == 2


def test_validation_error_never_echoes_the_key() -> None:
    """A bad setting next to an API key does not print the key."""
    with pytest.raises(ConfigError) as info:
        load_settings({"api_key": KEY, "api_url": KEY}, environ={}, env_file=None)
    assert KEY not in str(info.value)
    assert KEY not in repr(info.value)


def test_api_key_is_secret_in_repr() -> None:
    """The settings repr masks the API key."""
    s = load_settings({}, environ={"PIPELINE_API_KEY": KEY}, env_file=None)
    assert KEY not in repr(s)
    assert s.api_key is not None
    assert s.api_key.get_secret_value() == KEY


def test_as_of_without_zone_is_utc() -> None:
    """An --as-of without an offset means UTC; with one it is converted to UTC."""
    a = load_settings({"as_of": "2026-01-02T03:04:05"}, environ={}, env_file=None).as_of
    b = load_settings({"as_of": "2026-01-02T05:04:05+02:00"}, environ={}, env_file=None).as_of
    assert a == b
    assert a is not None
    assert a.utcoffset() is not None
    assert a.isoformat().endswith("+00:00")


def test_state_dir_defaults_next_to_the_output() -> None:
    """The checkpoint lives in .pipeline_state/ beside the output unless set."""
    s = load_settings({"output": "out/x.json"}, environ={}, env_file=None)
    assert s.checkpoint_dir == Path("out/.pipeline_state")


def test_rules_come_from_settings() -> None:
    """Business thresholds in settings reach the rules object."""
    s = load_settings({"active_days": 7, "match_email": False}, environ={}, env_file=None)
    assert s.rules.active_days == 7
    assert s.rules.match_email is False


@pytest.mark.parametrize(
    "required",
    [
        "--api-url",
        "--api-key",
        "--output",
        "--as-of",
        "--per-page",
        "--concurrency",
        "--no-progress",
        "--log-level",
        "--fresh",
    ],
)
def test_flags_used_by_outside_tools_exist(required: str) -> None:
    """The flags outside tools rely on exist with these exact names."""
    assert required in build_parser().format_help()


def test_every_setting_has_a_flag_and_env_var() -> None:
    """--help lists every setting with its PIPELINE_ variable."""
    text = build_parser().format_help()
    for name in Settings.model_fields:
        assert flag(name) in text
        assert env_var(name) in text


def test_readme_configuration_table_is_generated_from_the_settings() -> None:
    """README's configuration table is exactly ``markdown_table()`` (regenerate it, never edit)."""
    from pathlib import Path as _Path

    from customer_sync.config import markdown_table

    readme = (_Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert markdown_table() in readme


def test_readme_documents_every_setting_with_its_default() -> None:
    """README's configuration table names every setting's flag, variable and default."""
    from pathlib import Path as _Path

    readme = (_Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name, info in Settings.model_fields.items():
        default = "unset" if info.default is None else str(info.default)
        row = next((line for line in readme.splitlines() if f"`{env_var(name)}`" in line), "")
        assert row, f"{env_var(name)} missing from README"
        assert f"`{default}`" in row, f"README default of {name} is not {default}"
