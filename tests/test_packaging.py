"""pyproject.toml builds without setuptools' deprecation warnings, with the license as an SPDX expression."""

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BUILD_METADATA = """
import os
import warnings

import setuptools.build_meta as backend

os.mkdir("meta")
warnings.simplefilter("error")  # any deprecation (e.g. a TOML-table project.license) fails the build
print(backend.prepare_metadata_for_build_wheel("meta"))
"""


def test_license_is_an_spdx_string_and_the_metadata_builds_without_warnings(tmp_path):
    assert '"setuptools>=77"' in (REPO / "pyproject.toml").read_text()  # the first setuptools to read SPDX strings
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "src" / "timeartist").mkdir(parents=True)  # the metadata needs the package, not its contents
    (tmp_path / "src" / "timeartist" / "__init__.py").write_text("")
    result = subprocess.run([sys.executable, "-c", BUILD_METADATA], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    metadata = (tmp_path / "meta" / result.stdout.strip().splitlines()[-1] / "METADATA").read_text()
    assert "License-Expression: MIT" in metadata
