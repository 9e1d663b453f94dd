"""The installable package: one copy of each module, pins in step, a clean wheel, lazy --help."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _pins(path: Path) -> set[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {line for line in lines if line and not line.startswith("-r")}


def _project() -> dict[str, object]:
    project: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


def test_user_entry_modules_are_the_package_itself() -> None:
    """The classes reached through ``src.*`` are the very classes of ``customer_sync``."""
    import customer_sync.errors
    import customer_sync.exporter
    import customer_sync.models
    import customer_sync.source
    import customer_sync.transform
    import src.api_client
    import src.data_processor
    import src.exporter
    import src.models

    assert src.api_client.CustomerAPIClient is customer_sync.source.CustomerAPIClient
    assert src.data_processor.CustomerDataProcessor is customer_sync.transform.CustomerDataProcessor
    assert src.exporter.DataExporter is customer_sync.exporter.DataExporter
    assert src.models.ProcessResult is customer_sync.models.ProcessResult
    # one module object per name: no second copy under another path
    ours = [name for name in sys.modules if name.split(".", 1)[0] in ("src", "customer_sync")]
    tails = [name.removeprefix("customer_sync.") for name in ours if name.startswith("customer_")]
    src_modules = {name.removeprefix("src.") for name in ours if name.startswith("src.")}
    assert src_modules <= {"api_client", "data_processor", "exporter", "models", "main"}
    assert len(tails) == len(set(tails))
    assert "errors" not in sys.modules
    assert "src.errors" not in sys.modules


def test_requirements_match_the_project_pins() -> None:
    """requirements.txt pins the runtime and the destination extras; -dev.txt pins dev."""
    project = _project()
    runtime = set(project["dependencies"])  # type: ignore[call-overload]
    extras = project["optional-dependencies"]
    dev = set(extras["dev"])  # type: ignore[index]
    drivers = set(extras["duckdb"]) | set(extras["postgres"])  # type: ignore[index]
    assert _pins(ROOT / "requirements.txt") == runtime | drivers
    assert _pins(ROOT / "requirements-dev.txt") == dev


@pytest.mark.parametrize("argv", [["--help"], ["--per-page", "0"], ["--api-url", "notaurl"]])
def test_help_and_config_errors_do_not_load_polars(argv: list[str]) -> None:
    """``--help`` and a configuration error answer without importing Polars or pycountry."""
    code = (
        "import sys\n"
        "from customer_sync.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in ('polars', 'pycountry', 'httpx') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.stdout.splitlines()[-1] == "HEAVY="


@pytest.mark.slow
def test_wheel_holds_only_the_package(tmp_path: Path) -> None:
    """The built wheel is ``customer_sync`` with its metadata and console scripts, nothing else."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "customer_sync",
        source / "customer_sync",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    subprocess.run(
        [
            sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
            "--quiet", "-w", str(tmp_path / "dist"), str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("customer_sync-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"customer_sync", f"customer_sync-{wheel.name.split('-')[1]}.dist-info"}
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "customer-sync = customer_sync.cli:run" in text
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA")))
    assert b"Requires-Dist: polars==" in metadata
    assert b"Requires-Python: >=3.11" in metadata
