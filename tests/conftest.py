"""Shared pytest fixtures of the deepmt test-suite.

Keep this file small: fixtures used by one area belong in that area's own
``conftest.py``.  Conventions: arrays are float64 unless a test says
otherwise; frames are ``[nf, ...]`` flat as in a batch (``coord [nf, nat*3]``,
``box [nf, 9]``).  Test data lives in ``tests/data`` (never ``/work/shared``).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(TESTS_DIR, "data")
# the NumPy oracle (tests/reference) is imported as the package ``reference``
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

#: default floating type of test arrays
FLOAT = np.float64


@pytest.fixture(scope="session")
def data_dir() -> str:
    """Absolute path of ``tests/data``."""
    return DATA_DIR


@pytest.fixture
def dtype():
    """Floating type of a test: float64 unless the test parametrizes ``dtype``."""
    return FLOAT


@pytest.fixture
def rng() -> np.random.Generator:
    """A NumPy generator with a fixed seed (a fresh one per test)."""
    return np.random.default_rng(20240607)


@pytest.fixture(scope="session")
def water_dir() -> str:
    """The 2-frame water system ``tests/data/water_192`` (deepmd/npy, 64 O + 128 H)."""
    return os.path.join(DATA_DIR, "water_192")


def _load_water(path: str):
    coord = np.load(os.path.join(path, "set.000", "coord.npy")).astype(FLOAT)
    box = np.load(os.path.join(path, "set.000", "box.npy")).astype(FLOAT)
    atype = np.loadtxt(os.path.join(path, "type.raw"), dtype=np.int32).reshape(-1)
    return coord, box, atype


@pytest.fixture
def water_frame(water_dir):
    """First water frame: ``coord [1, 576]``, ``box [1, 9]`` (float64), ``atype [192]`` (int32, O=0, H=1)."""
    coord, box, atype = _load_water(water_dir)
    return coord[:1].copy(), box[:1].copy(), atype


@pytest.fixture
def water_frames(water_dir):
    """Both water frames: ``coord [2, 576]``, ``box [2, 9]`` (float64), ``atype [192]``."""
    coord, box, atype = _load_water(water_dir)
    return coord.copy(), box.copy(), atype
