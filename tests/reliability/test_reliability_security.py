"""Security (issue #6): nothing leaked. The API key stays out of everything a run prints or
writes, redirects do not carry it to other hosts, TLS is verified by default, the output
holds no raw PII, and private files are private.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
import zstandard

from customer_sync.cli import redact_usage_error
from customer_sync.config import load_settings
from customer_sync.errors import ConfigError
from customer_sync.models import Event
from customer_sync.pipeline import Interrupted
from customer_sync.simulated_api import SimulatedServer, SimulatorConfig, create_app
from customer_sync.sink.json_file import lineage_path, rejected_path

from ..chaos_support import (
    AS_OF_TEXT,
    NOW,
    FailPagesApp,
    LoopbackApp,
    Recorder,
    cli_in_process,
    cli_run,
    files_under,
    in_process_api,
    page_body,
    people,
    read_jsonl,
    settings_for,
)
from ..support import make_client, read_strict, validate_output

KEY = "sk-live-RELIABILITY-5f3a9c"
URL_SECRET = "qp-SECRET-e81b"
USER_SECRET = "pw-SECRET-77d0"
SECRETS = (KEY, URL_SECRET, USER_SECRET)
QUIET = [
    "--no-progress", "--as-of", AS_OF_TEXT, "--backoff-base", "0.01", "--retry-after-cap", "0.05"
]


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret.lower() in text.lower()]


def everything_written(*roots: Path) -> str:
    """Every file's text; checkpoint pages (zstd) are read decompressed."""
    return "".join(
        (zstandard.decompress(p.read_bytes()) if p.name.endswith(".zst") else p.read_bytes())
        .decode("utf-8", errors="replace")
        for p in files_under(*roots)
    )


# -- the key never leaks ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def keyed_api() -> Iterator[str]:
    """The simulator requiring KEY, with page 9 failing every time behind /broken."""
    config = SimulatorConfig(customers=120, seed=6, now=NOW, api_key=KEY, fault_rate=0.2,
                             fault_kinds=("5xx", "429"), retry_after_seconds=0)
    app = create_app(config)
    broken = FailPagesApp(app, {9})

    async def route(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/broken"):
            scope = {**scope, "path": scope["path"].removeprefix("/broken")}
            await broken(scope, receive, send)
        else:
            await app(scope, receive, send)

    with LoopbackApp(route) as server:
        yield server.url


@pytest.mark.parametrize(
    ("path", "log", "code"),
    [("/api", "json", 0), ("/api", "text", 0), ("/broken/api", "text", 1)],
    ids=["success-json", "success-text", "fails-half-way"],
)
def test_the_key_is_in_nothing_a_debug_run_prints_or_writes(
    keyed_api: str, path: str, log: str, code: int, tmp_path: Path
) -> None:
    """Key and URL secrets are in no output, log, side file, checkpoint or cache of a run."""
    host = keyed_api.removeprefix("http://")
    url = f"http://user:{USER_SECRET}@{host}{path}?api_key={URL_SECRET}"
    (tmp_path / "out").mkdir()
    run = cli_run(
        "--api-url", url, "--api-key", KEY, "--output", str(tmp_path / "out" / "o.json"),
        "--state-dir", str(tmp_path / "state"), "--cache-dir", str(tmp_path / "cache"),
        "--per-page", "6", "--concurrency", "2", "--log-level", "debug", "--log-format", log,
        *QUIET, cwd=tmp_path,
    )
    assert run.code == code, run.stderr
    written = everything_written(tmp_path)
    assert leaks(run.stdout + run.stderr + written) == []
    assert "***" in run.stderr  # the URL's secrets were there, masked
    if code:
        assert "Traceback" in run.stderr  # debug shows it, scrubbed
        assert run.last_line.startswith("error: page 9: giving up after 4 attempts")
        assert list((tmp_path / "state" / "pages").glob("*.json.zst"))  # the checkpoint is left
    else:
        validate_output(tmp_path / "out" / "o.json")
        assert (tmp_path / "out" / "o.report.html").is_file()  # the report is scanned too
        assert list((tmp_path / "cache").glob("*.json"))


def test_the_key_is_in_no_repr_event_or_error_of_an_in_process_run(tmp_path: Path) -> None:
    """Settings, client, checkpoint reprs, every event and the interrupt error hide the key."""
    api = in_process_api(customers=60, api_key=KEY)
    settings = settings_for(tmp_path, api_key=KEY, per_page=6)
    assert KEY not in repr(settings) + str(settings)
    client = make_client(settings.api_url or "", KEY)
    assert KEY not in repr(client)
    seen: list[Event] = []

    def strike(event: Event) -> None:
        seen.append(event)
        if event.name == "page_fetched" and len(seen) > 4:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted) as caught:
        api.run(settings, hook=strike)
    report = api.run(settings)
    assert leaks(repr(seen) + repr(api.events) + str(caught.value) + repr(report)) == []
    assert leaks(everything_written(tmp_path)) == []


# -- side doors ---------------------------------------------------------------------------------
def redirecting(target: str) -> Recorder:
    """Answers every request with a 307 to ``target`` + the same path and query."""

    def respond(request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        query = str(httpx.QueryParams(request["params"]))
        return 307, {"location": f"{target}{request['path']}?{query}"}, b""

    return Recorder(respond)


def pages_of(rows: list[dict[str, Any]]) -> Recorder:
    def respond(request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        page = int(request["params"].get("page", "1"))
        return 200, {"content-type": "application/json"}, page_body(page, rows, 6)

    return Recorder(respond)


@pytest.mark.parametrize("other", ["127.0.0.2", "127.0.0.1"], ids=["other_host", "other_port"])
def test_a_redirect_to_another_origin_does_not_carry_the_key(other: str) -> None:
    """Server A redirects to server B (another host, or another port): B never sees x-api-key."""
    rows = people(12)
    target = pages_of(rows)
    with LoopbackApp(target, host=other) as b:
        origin = redirecting(b.url)
        with LoopbackApp(origin) as a:
            client = make_client(a.url + "/api", KEY, per_page=6)
            records = client.fetch_all_customers()
    assert records == rows
    assert origin.requests
    assert all(r["headers"].get("x-api-key") == KEY for r in origin.requests)
    assert len(target.requests) == 2
    assert all("x-api-key" not in r["headers"] for r in target.requests)
    assert all(KEY not in str(r) for r in target.requests)


def test_a_redirect_within_the_origin_keeps_the_key() -> None:
    """The control case: a redirect to the same scheme, host and port keeps the key."""
    rows = people(6)
    seen: list[dict[str, Any]] = []

    def respond(request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        seen.append(request)
        if request["path"] == "/api/users":
            query = str(httpx.QueryParams(request["params"]))
            return 301, {"location": f"/v2/api/users?{query}"}, b""
        return 200, {}, page_body(1, rows, 6)

    with LoopbackApp(Recorder(respond)) as server:
        records = make_client(server.url + "/api", KEY).fetch_all_customers()
    assert records == rows
    assert [r["path"] for r in seen] == ["/api/users", "/v2/api/users"]
    assert all(r["headers"]["x-api-key"] == KEY for r in seen)


@pytest.mark.parametrize(
    ("args", "environ"),
    [
        (["--per-page", KEY], {}),
        (["--api-url", KEY], {}),
        (["--as-of", KEY], {}),
        ([], {"PIPELINE_API_KEY": KEY, "PIPELINE_CONCURRENCY": KEY}),
        ([], {"PIPELINE_API_KEY": KEY + "\nX-Injected: 1"}),
        (["--api-kye", KEY], {}),
        (["--api-kye=" + KEY], {}),
        (["--api=" + KEY], {}),
        (["--log-level", KEY], {}),
        (["--api-key"], {}),
    ],
    ids=["per_page", "api_url", "as_of", "env", "newline", "typo", "typo=", "ambiguous",
         "choice", "no-value"],
)
def test_a_settings_or_usage_error_never_echoes_the_key(
    args: list[str],
    environ: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The key typed into the wrong flag, mistyped, or malformed: exit 2, key not shown."""
    monkeypatch.chdir(tmp_path)
    with SimulatedServer(SimulatorConfig(fault_rate=0.0, now=NOW)) as server:
        base = ["--api-url", server.base_url, "--output", str(tmp_path / "o.json"), *QUIET]
        try:
            run = cli_in_process(*base, *args, environ=environ)
            code, printed = run.code, run.stdout + run.stderr
        except SystemExit as exc:  # argparse exits by itself, printing to sys.stderr
            code, printed = exc.code, ""
        assert server.stats.snapshot()["requests"] == 0
    captured = capsys.readouterr()
    printed += captured.out + captured.err
    assert code == 2
    assert printed.strip().splitlines()[-1].startswith("error: ")
    assert leaks(printed) == []


def test_argparse_errors_are_redacted_before_printing() -> None:
    """The parser's messages keep the flags and drop the values typed."""
    assert redact_usage_error(f"unrecognized arguments: --api-kye {KEY} --x={KEY}") == (
        "unrecognized arguments: --api-kye --x"
    )
    assert redact_usage_error(f"ambiguous option: --api={KEY} could match --api-url") == (
        "ambiguous option: --api=*** could match --api-url"
    )
    assert redact_usage_error(f"argument --log-level: invalid choice: '{KEY}' (choose from)") == (
        "argument --log-level: invalid choice (choose from)"
    )


def test_a_validation_error_hides_the_input() -> None:
    """ConfigError from the settings names the setting, never the value, and hides its cause."""
    with pytest.raises(ConfigError) as caught:
        load_settings({"per_page": KEY, "api_key": KEY}, environ={}, env_file=None)
    assert "per_page" in str(caught.value)
    assert KEY not in str(caught.value) + repr(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


# -- TLS ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatedServer]:
    """The simulator over HTTPS with a certificate from a throwaway CA nobody trusts."""
    pem = tmp_path_factory.mktemp("tls") / "server.pem"
    trustme.CA().issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(pem))
    config = SimulatorConfig(fault_rate=0.0, now=NOW)
    with SimulatedServer(config, ssl_certfile=str(pem)) as server:
        yield server


def test_tls_is_verified_by_default_and_an_untrusted_certificate_is_fatal(
    https_server: SimulatedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An untrusted certificate: exit 1 at once, one line naming the host, the cause, the fix."""
    monkeypatch.chdir(tmp_path)
    assert https_server.base_url.startswith("https://127.0.0.1:")
    run = cli_in_process("--api-url", https_server.base_url, "--output",
                         str(tmp_path / "o.json"), *QUIET)
    assert run.code == 1
    host = f"127.0.0.1:{https_server.port}"
    assert run.last_line.startswith(
        f"error: page 1: TLS certificate verification failed for {host} ("
    )
    assert "--no-verify-tls" in run.last_line
    assert [line for line in run.stderr.splitlines() if "error" in line] == [run.last_line]
    assert " retry " not in run.stderr  # not retried
    assert https_server.stats.snapshot()["requests"] == 0
    assert not (tmp_path / "o.json").exists()


@pytest.mark.parametrize("level", ["info", "error"])
def test_turning_tls_verification_off_works_and_warns_on_every_run(
    https_server: SimulatedServer, level: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--no-verify-tls syncs the untrusted server, and warns once, whatever the log level."""
    monkeypatch.chdir(tmp_path)
    run = cli_in_process("--api-url", https_server.base_url, "--no-verify-tls",
                         "--output", str(tmp_path / "o.json"), "--log-level", level, *QUIET)
    assert run.code == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if "TLS" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: TLS certificate verification is off")
    assert read_strict(tmp_path / "o.json")["metadata"]["total_customers"] == 13


# -- privacy of what is written ------------------------------------------------------------------
def test_the_output_holds_no_raw_pii_beyond_the_email_domain(tmp_path: Path) -> None:
    """No email address, no raw record field: customers carry the nine derived fields only."""
    api = in_process_api(customers=300, seed=12)
    api.run(settings_for(tmp_path, per_page=50))
    out = tmp_path / "sample_output.json"
    text = out.read_text()
    document = read_strict(out)
    assert "@" not in text
    emails = {r["email"].strip() for r in api.final_records()
              if isinstance(r, dict) and isinstance(r.get("email"), str) and "@" in r["email"]}
    assert emails
    assert not [e for e in emails if e in text]
    assert {tuple(c) for c in document["customers"]} == {(
        "customer_id", "full_name", "email_domain", "engagement_level", "activity_status",
        "acquisition_channel", "market_segment", "customer_tier", "data_quality_score",
    )}
    raw_keys = {"email", "last_login_at", "lifetime_value", "avatar", "phone"}
    assert not raw_keys & set(document["metadata"])


def test_files_holding_raw_records_are_private(tmp_path: Path) -> None:
    """Side files, checkpoint pages and cache entries are 0600 in 0700 directories."""
    api = in_process_api(customers=120, seed=3)
    settings = settings_for(tmp_path, per_page=6, cache_dir=tmp_path / "cache")

    def stop(event: Event) -> None:
        if event.name == "page_fetched" and event.fields["page"] == 10:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        api.run(settings, hook=stop)
    state = tmp_path / ".pipeline_state"
    private = [state / "manifest.json", *(state / "pages").iterdir(),
               *(tmp_path / "cache").iterdir()]
    assert len(private) > 10
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in private} == {"0o600"}
    for directory in (state, state / "pages", tmp_path / "cache"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700

    api.run(settings)
    out = tmp_path / "sample_output.json"
    assert stat.S_IMODE(rejected_path(out).stat().st_mode) == 0o600
    assert stat.S_IMODE(lineage_path(out).stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert read_jsonl(rejected_path(out))  # they do hold raw records


# -- paths -----------------------------------------------------------------------------------
def _unusable(tmp_path: Path, case: str) -> list[str]:
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    if case == "missing_dir":
        return ["--output", str(tmp_path / "nope" / "o.json")]
    if case == "dir_is_a_file":
        return ["--output", str(blocker / "o.json")]
    if case == "output_is_a_dir":
        return ["--output", str(tmp_path)]
    return ["--output", str(tmp_path / "o.json"), "--state-dir", str(blocker / "state")]


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("missing_dir", "does not exist"),
        ("dir_is_a_file", "is not a directory"),
        ("output_is_a_dir", "is a directory"),
        ("state_dir_under_a_file", "state directory"),
    ],
)
def test_an_unusable_output_or_state_path_fails_before_any_request(
    case: str, needle: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad --output or --state-dir: exit 1, one line, and the server saw no request."""
    monkeypatch.chdir(tmp_path)
    with SimulatedServer(SimulatorConfig(fault_rate=0.0, now=NOW)) as server:
        run = cli_in_process("--api-url", server.base_url, *_unusable(tmp_path, case), *QUIET)
        assert server.stats.snapshot()["requests"] == 0
    assert run.code == 1
    assert run.last_line.startswith("error: ")
    assert needle in run.last_line
    assert "Traceback" not in run.stderr
