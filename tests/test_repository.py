"""The repository holds source, tests, docs and small test data only: no wheel, archive or large file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIMIT = 1024 * 1024  # bytes; test data under tests/data may be larger
BINARY_SUFFIXES = (".whl", ".tar.gz", ".zip", ".pt", ".pth", ".ckpt", ".so", ".egg")


def _tracked_files() -> list[str]:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    return [name for name in listing.stdout.decode().split("\0") if name]


def test_no_tracked_file_over_one_megabyte_outside_tests_data():
    large = [
        (name, (REPO / name).stat().st_size)
        for name in _tracked_files()
        if not name.startswith("tests/data/") and (REPO / name).is_file() and (REPO / name).stat().st_size > LIMIT
    ]
    assert not large, f"tracked files over 1 MB (outputs, wheels or data belong elsewhere): {large}"


def test_no_wheel_archive_or_weights_is_tracked():
    binaries = [name for name in _tracked_files() if name.endswith(BINARY_SUFFIXES)]
    assert not binaries, f"binary or generated files are tracked: {binaries}"
