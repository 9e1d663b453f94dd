"""One typed settings object, built once at the entry point.

Precedence: CLI flag, then environment variable (``PIPELINE_`` prefix), then a ``.env``
file, then a TOML configuration file, then the default. Nothing below the entry point
reads ``os.environ``: tests pass a mapping to :func:`load_settings`.

The TOML file (``--config PATH`` or ``PIPELINE_CONFIG``, else ``customer-sync.toml`` in
the working directory when there is one; see :func:`config_file_path`) holds the settings
by name at its top level, ``per_page = 100``, ``destination = ["json:out.json", …]``. It is
the checked-in base: the ``.env`` file, the environment and the flags override it key by
key. An unknown key or a wrong type is a configuration error naming the file and the key.
"""

from __future__ import annotations

import contextvars
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings.sources.utils import parse_env_vars

from . import __version__
from .destinations import Destination, DestinationError, parse_destination
from .errors import ConfigError
from .quality import RULE_FIELDS
from .redaction import mask_url
from .rules import BusinessRules

__all__ = [
    "CONFIG_FILE",
    "CONFIG_VAR",
    "DEFAULT_USER_AGENT",
    "ENV_PREFIX",
    "ClientSettings",
    "Settings",
    "config_file_path",
    "env_var",
    "flag",
    "load_settings",
    "unknown_variables",
]

DEFAULT_USER_AGENT = f"customer-sync-pipeline/{__version__}"

ENV_PREFIX = "PIPELINE_"

#: ``--no-report`` (or ``PIPELINE_REPORT=off``): no HTML report.
REPORT_OFF = "off"

#: The TOML configuration file read when neither --config nor PIPELINE_CONFIG names one
#: (only if it exists, in the working directory, like ``.env``).
CONFIG_FILE = Path("customer-sync.toml")

#: The environment variable naming the TOML configuration file (``--config`` beats it).
CONFIG_VAR = ENV_PREFIX + "CONFIG"

_ENVIRON: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "_ENVIRON", default=None
)
_TOML: contextvars.ContextVar[PydanticBaseSettingsSource | None] = contextvars.ContextVar(
    "_TOML", default=None
)
#: While settings are built: the TOML file and the settings whose value comes from it
#: (no flag, variable or .env entry sets them), so that an error names the file.
_FROM_TOML: contextvars.ContextVar[tuple[Path, frozenset[str]] | None] = (
    contextvars.ContextVar("_FROM_TOML", default=None)
)

# Groups shown in --help and in the README's configuration table.
API, OUTPUT, RULES, RUN, SIM = "API", "Output", "Business rules", "Run", "Built-in simulator"
INCREMENTAL = "Incremental sync"

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhms]?)")
_UNIT_SECONDS = {"w": 604_800.0, "d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0, "": 1.0}


def parse_duration(value: Any) -> Any:
    """``"7d"``, ``"5m"``, ``"1h30m"``, ``"90s"`` or plain seconds -> seconds (a float).

    Anything else is passed on for pydantic to refuse with its own message.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        return value
    text = value.strip().lower().replace(" ", "")
    parts = _DURATION_PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError("must be a duration such as 7d, 12h, 5m, 90s or 1h30m")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    if not math.isfinite(seconds):
        raise ValueError("must be finite")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


def _f(default: Any, group: str, help: str, *, off: bool = False, **kw: Any) -> Any:
    """A setting; ``off=True`` adds a ``--no-NAME`` flag that sets it to ``off``."""
    extra: dict[str, Any] = {"group": group, "off": True} if off else {"group": group}
    return Field(default, description=help, json_schema_extra=extra, **kw)


#: ``--per-page``: a number of records, or ``auto`` (ask for ``--max-per-page``, use what
#: the API grants).
PerPage = Annotated[int, Field(ge=1, le=10_000)] | Literal["auto"]


class ClientSettings(BaseModel):
    """Every knob of the API client, declared once: the run's :class:`Settings` inherits
    these fields (each is also a flag and an environment variable), and
    :class:`~customer_sync.source.CustomerAPIClient` takes this object. Documented in
    ``docs/client.md``. An invalid value raises :class:`ConfigError` naming the setting.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    per_page: PerPage = _f(
        "auto", API, "Records per page requested, or auto: ask for --max-per-page and use "
        "what the API grants (falling back to its default if it refuses)."
    )
    max_per_page: int = _f(
        100, API, "The page size --per-page auto asks for.", ge=1, le=10_000
    )
    concurrency: int = _f(8, API, "Pages fetched at the same time.", ge=1, le=256)
    connect_timeout: float = _f(5.0, API, "Connect timeout, seconds.", gt=0, allow_inf_nan=False)
    read_timeout: float = _f(
        30.0, API, "Read timeout (each read), seconds.", gt=0, allow_inf_nan=False
    )
    request_deadline: float = _f(
        60.0, API, "Overall deadline of one request (headers and body), seconds.", gt=0,
        allow_inf_nan=False,
    )
    max_response_bytes: int = _f(
        64 * 1024 * 1024, API, "Largest decoded size of one response, bytes (64 MiB).", ge=1
    )
    pool_timeout: float = _f(
        30.0, API, "Wait for a free connection, seconds.", gt=0, allow_inf_nan=False
    )
    max_retries: int = _f(3, API, "Retries per page for errors (not 429s).", ge=0, le=20)
    backoff_base: float = _f(
        1.0, API, "First backoff wait, seconds.", ge=0, allow_inf_nan=False
    )
    backoff_factor: float = _f(
        2.0,
        API,
        "Backoff growth per retry, while the server looks in trouble.",
        ge=1,
        allow_inf_nan=False,
    )
    backoff_max: float = _f(30.0, API, "Longest backoff wait, seconds.", ge=0, allow_inf_nan=False)
    jitter: float = _f(
        0.1, API, "Random extra wait, as a fraction of the backoff.", ge=0, le=1
    )
    retry_after_cap: float = _f(
        60.0, API, "Longest Retry-After honoured, seconds.", ge=0, allow_inf_nan=False
    )
    rate_limit_wait_budget: float = _f(
        300.0, API, "Total seconds a run may spend waiting on 429s.", ge=0, allow_inf_nan=False
    )
    rate_limit: float | None = _f(
        None, API, "Client-side request rate, req/s. Unset: unlimited, adapting to 429s "
        "and X-RateLimit headers.", gt=0, allow_inf_nan=False
    )
    rate_limit_burst: int = _f(
        1, API, "Requests the client-side limiter lets through at once.", ge=1
    )
    max_pages: int = _f(100_000, API, "Refuse to page past this many pages.", ge=1)
    max_drift_passes: int = _f(
        3, API, "Re-check passes when the data changes during the sync.", ge=0, le=20
    )
    max_redirects: int = _f(5, API, "Redirects followed per request.", ge=0, le=50)
    cache_dir: Path | None = _f(
        None, API, "Directory of an ETag HTTP cache kept across runs. Unset: no cache."
    )
    verify_tls: bool = _f(True, API, "Verify TLS certificates. Turning it off warns every run.")
    user_agent: str = _f(
        DEFAULT_USER_AGENT, API, "User-Agent header sent with every request.", min_length=1,
        pattern=r"^[^\r\n]*\S[^\r\n]*$",
    )

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _config_error(exc) from None


class Settings(ClientSettings, BaseSettings):
    """Every setting of a run. Field names map to ``--flag-name`` and ``PIPELINE_FLAG_NAME``.

    The API group is :class:`ClientSettings`; :attr:`client` hands the client its part.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        # Unknown PIPELINE_ variables, in the environment or in .env, are warned about
        # (see unknown_variables), not fatal; unknown init keywords are refused below.
        extra="ignore",
        hide_input_in_errors=True,
        frozen=True,
    )

    # --- API (the client's own knobs are inherited from ClientSettings) -----------------
    api_url: str | None = _f(
        None, API, "Base URL of the API, e.g. https://reqres.in/api. Unset: start the "
        "built-in simulated API on loopback."
    )
    api_key: SecretStr | None = _f(None, API, "API key, sent as the x-api-key header.")

    # --- Output ------------------------------------------------------------------------
    output: Path = _f(
        Path("sample_output.json"), OUTPUT, "Output JSON file, written atomically with its "
        "side files. '-' streams the JSON to stdout instead: not atomic, no side files."
    )
    destination: Annotated[tuple[str, ...] | None, NoDecode] = _f(
        None, OUTPUT, "Where to write; repeatable, comma-separated in the environment: "
        "json:PATH, duckdb:PATH, parquet:DIR, postgresql://user:password@host:port/db"
        "?schema=NAME. Replaces the default set. Unset: json:OUTPUT.",
        repr=False,  # a PostgreSQL URL may hold a password
    )
    state_dir: Path | None = _f(
        None, OUTPUT, "Checkpoint directory. Unset: .pipeline_state/ next to the output."
    )
    checkpoint_max_age_hours: float = _f(
        24.0, OUTPUT, "Discard a checkpoint older than this, hours.", gt=0
    )
    fresh: bool = _f(False, OUTPUT, "Ignore any checkpoint and fetch everything.")
    report: str | None = _f(
        None, OUTPUT, "HTML data-quality report, written with the output. Unset: next to "
        "the output, named like it with .report.html; off (--no-report): none.", off=True,
    )
    require_fields: str | None = _f(
        None, OUTPUT, "Comma-separated source fields that must not be missing: fail the run "
        "(exit 1, previous output kept) when the source leaves one out of over 90 percent of "
        "records.",
    )

    # --- Incremental sync (see the README, "Incremental sync") ------------------------
    sync_mode: Literal["auto", "full", "incremental"] = _f(
        "auto", INCREMENTAL, "auto: incremental when a saved state exists for this source "
        "and credentials, else full. full: fetch everything (sees deletions). incremental: "
        "fetch only what changed (full when there is no state)."
    )
    full_refresh: bool = _f(False, INCREMENTAL, "Force a full sync this run.")
    full_refresh_every: Duration | None = _f(
        None, INCREMENTAL, "Force a full sync when the last one is older than this "
        "(e.g. 7d). Only a full sync sees deletions. Unset: never forced.", gt=0,
    )
    lookback: Duration = _f(
        "5m", INCREMENTAL, "Overlap before the saved mark an incremental run asks for "
        "again (clock skew, late commits), e.g. 5m.", ge=0, validate_default=True,
    )
    incremental_param: str = _f(
        "updated_since", INCREMENTAL, "Query parameter of the API's changed-since filter.",
        pattern=r"^[A-Za-z0-9_.\-\[\]]+$",
    )
    cursor_field: str = _f(
        "updated_at", INCREMENTAL, "Record field the API filters and orders on.",
        pattern=r"^[A-Za-z0-9_.\-]+$",
    )

    # --- Run ---------------------------------------------------------------------------
    as_of: datetime | None = _f(
        None, RUN, "Reference time (ISO-8601) for relative rules. Unset: run start, UTC."
    )
    log_level: Literal["debug", "info", "warning", "error"] = _f("info", RUN, "Log level.")
    log_format: Literal["text", "json"] = _f("text", RUN, "Log format on stderr.")
    progress: bool = _f(True, RUN, "Progress bar on stderr (only when it is a terminal).")

    # --- Business rules (see docs/business_rules.md) -----------------------------------
    match_email: bool = _f(True, RULES, "Treat records sharing an email as duplicates.")
    active_days: int = _f(30, RULES, "Last login within this many days is active.", ge=0)
    high_sessions: int = _f(10, RULES, "Sessions (30d) for high engagement.", ge=0)
    high_orders_if_active: int = _f(5, RULES, "Orders for high engagement if active.", ge=0)
    medium_sessions: int = _f(3, RULES, "Sessions (30d) for medium engagement.", ge=0)
    medium_orders: int = _f(1, RULES, "Orders for medium engagement.", ge=0)
    enterprise_ltv: float = _f(10_000.0, RULES, "Lifetime value for enterprise tier.", ge=0)
    premium_ltv: float = _f(1_000.0, RULES, "Lifetime value for premium tier.", ge=0)

    # --- Built-in simulator (used only when api_url is unset) --------------------------
    sim_customers: int | None = _f(
        None, SIM, "Generated customers. Unset: the 12-user demo dataset.", ge=0
    )
    sim_seed: int = _f(11, SIM, "Seed of the generated data and faults.")
    sim_fault_rate: float = _f(0.2, SIM, "Share of requests failing with 5xx.", ge=0, le=1)
    sim_rate_limit: float = _f(0.0, SIM, "Server rate limit, req/s; 0 = unlimited.", ge=0)

    @field_validator("api_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if any(c.isspace() or not c.isprintable() or c in _BAD_HOST for c in parts.hostname):
            raise ValueError("the host holds a space or a character no host name has")
        try:
            port = parts.port
        except ValueError:
            port = 0
        if port == 0:
            raise ValueError("the port must be a number from 1 to 65535")
        return value.rstrip("/")

    @field_validator("report")
    @classmethod
    def _report(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.strip().lower() in ("", "off", "none", "false", "no", "0"):
            return REPORT_OFF
        return value

    @field_validator("require_fields")
    @classmethod
    def _known_fields(cls, value: str | None) -> str | None:
        names = [name.strip() for name in (value or "").split(",") if name.strip()]
        unknown = [name for name in names if name not in RULE_FIELDS]
        if unknown:
            raise ValueError(
                f"unknown field {unknown[0]!r}; choose from {', '.join(RULE_FIELDS)}"
            )
        return ",".join(dict.fromkeys(names)) or None

    @field_validator("destination", mode="before")
    @classmethod
    def _split_destinations(cls, value: Any) -> Any:
        if isinstance(value, str):  # the environment and .env: one comma-separated list
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            for item in value:
                try:
                    parse_destination(str(item))
                except DestinationError as exc:
                    raise ValueError(str(exc)) from None
            return tuple(str(item).strip() for item in value) or None
        return value

    @field_validator("as_of")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @field_validator("output")
    @classmethod
    def _output_is_file(cls, value: Path) -> Path:
        if value.name in ("", ".", ".."):
            raise ValueError("must name a file")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        environ = _ENVIRON.get()
        if environ is not None:
            env_settings = _MappingEnvSource(settings_cls, environ)
        toml = _TOML.get()
        if toml is None:
            return init_settings, env_settings, dotenv_settings
        return init_settings, env_settings, dotenv_settings, toml

    # --- derived -----------------------------------------------------------------------
    def secret_values(self) -> list[str]:
        """Every secret a run knows: the API key, and credentials inside the API URL (the
        user name or password, and secret query values such as ``?key=``)."""
        from urllib.parse import parse_qsl, urlencode

        found = [self.api_key.get_secret_value()] if self.api_key else []
        if self.api_url:
            parts = urlsplit(self.api_url)
            # https://TOKEN@host carries the secret as the user name; user:password the password
            found.append(parts.password or parts.username or "")
            for name, value in parse_qsl(parts.query, keep_blank_values=True):
                probe = f"http://host/?{urlencode([(name, 'x')])}"
                if value and mask_url(probe) != probe:
                    found.append(value)
        for destination in self.destinations:
            if destination.kind == "postgresql":  # postgresql://user:PASSWORD@host/db
                found.append(urlsplit(destination.url).password or "")
        return [s for s in found if s]

    @property
    def destinations(self) -> tuple[Destination, ...]:
        """Where this run writes: ``--destination`` as given, else ``json:OUTPUT``.

        ``--output`` is the JSON shorthand: given explicitly next to ``--destination``, its
        file is written too (first), unless a ``json:`` destination names it already.
        """
        output = Destination("json", f"json:{self.output}", path=self.output)
        if not self.destination:
            return (output,)
        given = tuple(parse_destination(url) for url in self.destination)
        if "output" in self.model_fields_set and all(d.path != self.output for d in given):
            return (output, *given)
        return given

    @property
    def client(self) -> ClientSettings:
        """The client's part of the settings, as the client takes it."""
        return ClientSettings.model_construct(
            **{name: getattr(self, name) for name in ClientSettings.model_fields}
        )

    @property
    def rules(self) -> BusinessRules:
        return BusinessRules(
            active_days=self.active_days,
            high_sessions=self.high_sessions,
            high_orders_if_active=self.high_orders_if_active,
            medium_sessions=self.medium_sessions,
            medium_orders=self.medium_orders,
            enterprise_ltv=self.enterprise_ltv,
            premium_ltv=self.premium_ltv,
            match_email=self.match_email,
        )

    @property
    def writes_to_stdout(self) -> bool:
        """``--output -``: the document goes to stdout, with no side files."""
        return str(self.output) == "-"

    @property
    def report_path(self) -> Path | None:
        """Where the HTML report goes: ``--report``, else ``<output stem>.report.html``."""
        if self.report == REPORT_OFF or self.writes_to_stdout:  # --output -: no files
            return None
        if self.report is None:
            return self.output.with_name(f"{self.output.stem}.report.html")
        return Path(self.report)

    @property
    def report_beside_output(self) -> bool:
        """Whether the report joins the JSON output's file set: ``--output``'s file is one
        of the destinations (the default set, or listed with ``--destination``)."""
        return not self.writes_to_stdout and any(
            d.kind == "json" and d.path == self.output for d in self.destinations
        )

    @property
    def written_report_path(self) -> Path | None:
        """Where this run writes its report: :attr:`report_path` with the JSON output;
        without it (database destinations only) only a path given with ``--report``."""
        if self.report_beside_output:
            return self.report_path
        if self.report in (None, REPORT_OFF) or self.writes_to_stdout:
            return None
        return Path(self.report)

    @property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(self.require_fields.split(",")) if self.require_fields else ()

    @property
    def sync_state_dir(self) -> Path:
        """Where the incremental state lives: ``sync_state/`` in the state directory."""
        return self.checkpoint_dir / "sync_state"

    @property
    def checkpoint_dir(self) -> Path:
        if self.state_dir is not None:
            return self.state_dir
        return self.output.parent / ".pipeline_state"

    def resolved_as_of(self, now: datetime) -> datetime:
        return self.as_of if self.as_of is not None else now.astimezone(UTC)


class _MappingEnvSource(EnvSettingsSource):
    """The environment source, reading a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._given = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._given, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


#: Characters no host name holds (besides spaces and control characters).
_BAD_HOST = frozenset('<>"{}|\\^`%')


def flag(name: str) -> str:
    """The CLI flag of a settings field: ``per_page`` -> ``--per-page``."""
    return "--" + name.replace("_", "-")


def env_var(name: str) -> str:
    """The environment variable of a settings field: ``per_page`` -> ``PIPELINE_PER_PAGE``."""
    return ENV_PREFIX + name.upper()


def _default_text(name: str) -> str:
    default = Settings.model_fields[name].default
    return "unset" if default is None else str(default)


def markdown_table() -> str:
    """The README's configuration table, one row per setting (a test keeps them equal)."""
    rows = [
        "| flag | environment variable | default | group | meaning |",
        "|---|---|---|---|---|",
    ]
    for name, info in Settings.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, Mapping) else {}
        shown = f"--[no-]{flag(name)[2:]}" if info.annotation is bool else flag(name)
        if extra.get("off"):
            shown = f"{flag(name)}` / `--no-{flag(name)[2:]}"
        rows.append(
            f"| `{shown}` | `{env_var(name)}` | `{_default_text(name)}` | "
            f"{extra.get('group', '')} | {info.description} |"
        )
    return "\n".join(rows)


def config_file_path(
    given: str | Path | None,
    environ: Mapping[str, str] | None,
    env_file: str | Path | None = ".env",
) -> Path | None:
    """The TOML configuration file of a run: ``--config`` (``given``), else
    ``PIPELINE_CONFIG`` from the environment, else from the ``.env`` file, else
    ``customer-sync.toml`` in the working directory if it exists, else none. A file named
    explicitly must exist (checked by :func:`load_settings`)."""
    import os

    from dotenv import dotenv_values

    if given not in (None, ""):
        return Path(given)
    env = os.environ if environ is None else environ
    sources: list[Mapping[str, str | None]] = [env]
    if env_file is not None and Path(env_file).is_file():
        sources.append(dotenv_values(env_file))
    for variables in sources:
        named = next((v for k, v in variables.items() if k.upper() == CONFIG_VAR and v), None)
        if named:
            return Path(named)
    return CONFIG_FILE if CONFIG_FILE.is_file() else None


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    env_file: str | Path | None = ".env",
    config_file: str | Path | None = None,
) -> Settings:
    """Build the settings: ``overrides`` (CLI) > ``environ`` > ``env_file`` >
    ``config_file`` (TOML) > defaults.

    ``environ=None`` reads the process environment; pass a mapping in tests.
    Raises :class:`ConfigError` naming the setting, its flag and its variable (or the TOML
    file and key the value came from), never its value.
    """
    unknown = sorted(set(overrides or {}) - set(Settings.model_fields))
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r}")
    toml = from_toml = None
    if config_file is not None:
        toml = _toml_source(Path(config_file))
        above = _set_above_toml(overrides or {}, environ, env_file)
        from_toml = (Path(config_file), frozenset(toml.toml_data) - above)
    tokens = (_ENVIRON.set(environ), _TOML.set(toml), _FROM_TOML.set(from_toml))
    try:
        return Settings(_env_file=env_file, **dict(overrides or {}))  # type: ignore[call-arg]
    except ValidationError as exc:
        raise _config_error(exc) from None
    finally:
        _FROM_TOML.reset(tokens[2])
        _TOML.reset(tokens[1])
        _ENVIRON.reset(tokens[0])


def _toml_source(path: Path) -> TomlConfigSettingsSource:
    """The TOML file as a settings source; refuses a missing or malformed file and any key
    that names no setting (one line, exit 2, no value shown)."""
    import difflib
    import tomllib

    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise ConfigError(
            f"config file {str(path)!r} {what}",
            hint=f"name a TOML file with --config or {CONFIG_VAR}",
        )
    try:
        source = TomlConfigSettingsSource(Settings, toml_file=path)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {str(path)!r}: {exc.strerror or exc}"
        ) from None
    for key in source.toml_data:
        if key not in Settings.model_fields:
            close = difflib.get_close_matches(
                key.lower().replace("-", "_"), list(Settings.model_fields), n=1, cutoff=0.6
            )
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(
                f"config file {str(path)!r}: key {key!r} names no setting{hint}",
                hint="keys are setting names such as per_page and destination; --help lists them",
            )
    return source


def _set_above_toml(
    overrides: Mapping[str, Any], environ: Mapping[str, str] | None, env_file: str | Path | None
) -> frozenset[str]:
    """The settings a source above the TOML file sets: a flag, a variable, a .env entry."""
    import os

    from dotenv import dotenv_values

    env = os.environ if environ is None else environ
    variables = {key.upper() for key in env}
    if env_file is not None and Path(env_file).is_file():
        variables |= {key.upper() for key in dotenv_values(env_file)}
    return frozenset(overrides) | {n for n in Settings.model_fields if env_var(n) in variables}


_MESSAGES = {
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "int_from_float": "must be an integer",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "finite_number": "must be finite",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
}


def _config_error(exc: ValidationError) -> ConfigError:
    """One line naming the setting, its flag and its variable (or the TOML file the value
    came from), never its value."""
    first = exc.errors(include_input=False, include_url=False)[0]
    name = str(first["loc"][0]) if first["loc"] else "settings"
    template = _MESSAGES.get(first["type"])
    message = (
        template.format(**first.get("ctx", {}))
        if template
        else first["msg"].removeprefix("Value error, ")
    )
    if name == "per_page" and first["type"] in ("int_parsing", "literal_error"):
        message = "must be an integer or auto"
    from_toml = _FROM_TOML.get()
    if from_toml is not None and name in from_toml[1]:
        config_file = from_toml[0]
        return ConfigError(
            f"invalid setting {name} in config file {str(config_file)!r} (key {name}): "
            f"{message}"
        )
    if name in Settings.model_fields:
        where = f"{flag(name)} / {env_var(name)}"
        return ConfigError(f"invalid setting {name} ({where}): {message}")
    return ConfigError(f"unknown setting {name!r}: {message}")


def unknown_variables(
    environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env"
) -> list[str]:
    """One warning per ``PIPELINE_`` variable (in ``environ`` or the ``.env`` file) that
    names no setting, with the closest real one: a typo never passes silently, and the
    environment and ``.env`` are treated alike. Values are never shown."""
    import difflib
    import os

    from dotenv import dotenv_values

    known = [env_var(name) for name in Settings.model_fields] + [CONFIG_VAR]
    sources: list[tuple[str, Mapping[str, str | None]]] = [
        ("environment variable", os.environ if environ is None else environ)
    ]
    if env_file is not None and Path(env_file).is_file():
        sources.append((f"{env_file} entry", dotenv_values(env_file)))
    warnings = []
    for where, variables in sources:
        for name in sorted(variables):
            upper = name.upper()
            if not upper.startswith(ENV_PREFIX) or upper in known:
                continue
            close = difflib.get_close_matches(upper, known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            warnings.append(f"warning: {where} {name} names no setting; ignored{hint}")
    return warnings


def utcnow() -> datetime:
    """The wall clock, read once at the entry point."""
    return datetime.now(UTC)
