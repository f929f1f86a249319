"""Fixtures of the op test-suite: the op backend, the oracle, a backend switch."""

from __future__ import annotations

import os
import sys

import pytest

# helper modules of this folder (op_backends, thread_job) import by bare name,
# whatever pytest's import mode
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from op_backends import OracleBackend, op_backend  # noqa: E402


@pytest.fixture(scope="session")
def ops():
    """``deepmt.op`` behind the backend interface (fails if the library is missing)."""
    return op_backend()


@pytest.fixture(scope="session")
def oracle():
    """The NumPy oracle behind the backend interface."""
    return OracleBackend()


@pytest.fixture(params=["oracle", "op"])
def backend(request):
    """Runs a physics test once on the oracle (self-check) and once on the ops."""
    if request.param == "oracle":
        return request.getfixturevalue("oracle")
    return request.getfixturevalue("ops")
