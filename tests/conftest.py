"""Shared test helpers: fixture paths and a CLI runner that captures output and exit code."""

from __future__ import annotations

import shutil
from pathlib import Path

# Lightning attaches a logging handler to sys.stderr when first imported. Imported inside a test that
# captures output (capsys), the handler would keep that test's stream and print "--- Logging error
# ---" tracebacks into later tests once it is closed; importing it here binds it to pytest's
# session-wide stream instead.
import lightning.pytorch  # noqa: E402,F401
import pytest

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def run_cli(capsys):
    """Run ``deepperformer`` in-process; return (exit code, stdout, stderr)."""
    from deepperformer.cli.main import main

    def run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def fixture_copy(tmp_path):
    """Copy a fixture dataset into tmp_path (for tests that break it on purpose)."""

    def copy(name: str) -> Path:
        dst = tmp_path / "src" / name
        shutil.copytree(DATA / name, dst)
        return dst

    return copy


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """The Bach Violin fixture prepared once per session (read-only for the tests): its manifest.csv."""
    from deepperformer.data.prepare import prepare

    out = tmp_path_factory.mktemp("bv") / "bv"
    prepare("bach-violin", DATA / "bach-violin", out, log=lambda *a: None)
    return out / "manifest.csv"


@pytest.fixture(scope="session")
def vienna(tmp_path_factory) -> Path:
    """The Vienna 4x22 fixtures prepared as a renderer corpus; -> its manifest."""
    from deepperformer.data.prepare import prepare

    out = tmp_path_factory.mktemp("vienna") / "v"
    prepare("vienna4x22", DATA / "vienna4x22", out, log=lambda *a: None)
    return out / "manifest.csv"
