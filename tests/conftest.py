"""Shared test fixtures.

Real datasets live outside the repository (``../shared/data`` next to the checkout, or ``$TIMEARTIST_DATA``).
Tests that need them take the ``data_root`` fixture and skip, saying why, when the folder is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def _find_data_root() -> Path | None:
    env = os.environ.get("TIMEARTIST_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = _find_data_root()
    if root is None:
        pytest.skip("real data not found: set TIMEARTIST_DATA or place the shared data folder at ../shared/data")
    return root


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(2)
    yield
