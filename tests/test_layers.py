"""The package's layers: pyproject.toml's import-linter contracts and docs/index.md's diagram.

`make lint` runs `lint-imports`; these tests run the same contracts in-process, show that they
fail on a copy of the package given an upward import, and keep the documented diagram equal to
the contract (issue 16, point 6).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from importlinter.api import read_configuration
from importlinter.application.use_cases import lint_imports

from test_docs import fenced_blocks

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

LAYERS = "aekit's layers: each imports only the layers below it"
TORCH_ONLY = "aekit.models is torch only: it knows nothing of numpy or scikit-learn"


def contracts() -> list[dict]:
    return read_configuration(str(PYPROJECT))["contracts_options"]


def test_the_layers_hold(capsys: pytest.CaptureFixture[str]) -> None:
    # What `lint-imports` runs, in-process; cache_dir=None: the files as they are now.
    assert lint_imports(str(PYPROJECT), cache_dir=None, no_logo=True), capsys.readouterr().out
    out = capsys.readouterr().out
    assert f"{LAYERS} KEPT" in out and f"{TORCH_ONLY} KEPT" in out
    assert "Contracts: 2 kept, 0 broken." in out
    # Both contracts see every import of the package, none waived.
    assert all("ignore_imports" not in contract for contract in contracts())


def lint_copy(package: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with this repository's contracts on the package copied to ``package``."""
    folder = package.parent
    shutil.copy(PYPROJECT, folder / "pyproject.toml")
    # The copy comes first on the path (lint-imports also adds its working directory).
    env = {**os.environ, "PYTHONPATH": str(folder)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_upward_import_breaks_the_build(tmp_path: Path) -> None:
    package = tmp_path / "aekit"
    shutil.copytree(ROOT / "src" / "aekit", package, ignore=shutil.ignore_patterns("__pycache__"))
    clean = lint_copy(package)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "Contracts: 2 kept, 0 broken." in clean.stdout

    # One upward import, made inside a function as lazy ones are, and numpy in the models.
    dense = package / "models" / "dense.py"
    lines = dense.read_text(encoding="utf-8").splitlines()
    dense.write_text(
        "\n".join(
            [
                *lines,
                "",
                "",
                "def _upward() -> type:",
                "    from aekit.estimators.base import TorchEstimator",
                "",
                "    return TorchEstimator",
                "",
                "",
                "import numpy",
                "",
            ]
        ),
        encoding="utf-8",
    )
    broken = lint_copy(package)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    out = broken.stdout
    assert "Contracts: 0 kept, 2 broken." in out
    assert "aekit.models is not allowed to import aekit.estimators:" in out
    assert f"aekit.models.dense -> aekit.estimators.base (l.{len(lines) + 4})" in out
    assert f"aekit.models.dense -> numpy (l.{len(lines) + 9})" in out


def test_the_documented_diagram_is_the_contract() -> None:
    # docs/index.md draws the layers, top to bottom, one per line between arrows.
    (layers,) = [c["layers"] for c in contracts() if c["name"] == LAYERS]
    document = ROOT / "docs" / "index.md"
    (diagram,) = [
        b for b in fenced_blocks(document) if b.language == "text" and "estimators" in b.code
    ]
    drawn = [
        re.split(r"\s{2,}", line.strip())[0]
        for line in diagram.code.splitlines()
        if line.strip() and line.strip() != "↓"
    ]
    assert drawn == layers
