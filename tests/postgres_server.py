"""A private PostgreSQL server for the tests and the benchmark: a new cluster in a temp
directory, on a free loopback port, stopped and removed at the end.

The server binaries come from Debian's ``postgresql`` package (``.ci/run`` installs it with
``apt-get`` when it is missing). PostgreSQL refuses to run as root, so as root the cluster
is owned by, and the server runs as, the ``postgres`` user the package creates.

Run ``python -m tests.postgres_server`` to start one by hand; it prints its URL.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

__all__ = ["PASSWORD", "PostgresServer", "ServerUnavailable", "find_bin_dir"]

#: The superuser's password of every test cluster (host connections need it).
PASSWORD = "s3cret-Pw-for-tests"


class ServerUnavailable(RuntimeError):
    """The server binaries are missing or the server would not start."""


def find_bin_dir() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl``: Debian's newest version, else ``PATH``."""
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if versions:
        return Path(versions[-1]).parent
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """``with PostgresServer() as server: server.url``. ``durable=False`` (the tests)
    turns fsync off; the benchmark keeps PostgreSQL's defaults."""

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.port = 0
        self._dir: Path | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres:{PASSWORD}@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return self.url.rsplit("/", 1)[0] + f"/{database}"

    def _run(self, *argv: str) -> None:
        prefix: list[str] = []
        if os.geteuid() == 0:
            prefix = ["runuser", "-u", "postgres", "--"]
        done = subprocess.run(
            [*prefix, *argv], capture_output=True, text=True, check=False, timeout=120
        )
        if done.returncode != 0:
            raise ServerUnavailable(
                f"{Path(argv[0]).name} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-2000:]}"
            )

    def start(self) -> str:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise ServerUnavailable(
                "PostgreSQL server binaries not found: run .ci/run, or "
                "apt-get install postgresql"
            )
        self._dir = Path(tempfile.mkdtemp(prefix="customer-sync-pg-"))
        data, log = self._dir / "data", self._dir / "server.log"
        pwfile = self._dir / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if os.geteuid() == 0:
            shutil.chown(self._dir, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        self._run(
            str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8",
            "--no-locale", "--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256",
            f"--pwfile={pwfile}",
        )
        self.port = _free_port()
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-p {self.port}",
            f"-c unix_socket_directories={self._dir}",
            "-c max_connections=40",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
            "-o", " ".join(options), "start",
        )
        return self.url

    def stop(self) -> None:
        if self._dir is None:
            return
        bin_dir = find_bin_dir()
        if bin_dir is not None and (self._dir / "data" / "postmaster.pid").exists():
            with contextlib.suppress(ServerUnavailable):  # already gone; remove the dir anyway
                self._run(
                    str(bin_dir / "pg_ctl"), "-D", str(self._dir / "data"), "-m", "immediate",
                    "-w", "stop",
                )
        shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    server = PostgresServer(durable=True)
    server.start()
    print(server.url, flush=True)
    try:
        input("PostgreSQL is running; press Enter to stop it.\n")
    finally:
        server.stop()
