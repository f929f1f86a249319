"""Fixtures of the inference/freeze tests: a fake multi-head checkpoint
(see ``infer_fakes``) and the files frozen from it."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from infer_fakes import HEADS, frozen_constants, write_checkpoint  # noqa: E402


@pytest.fixture(scope="session")
def fake_checkpoint(tmp_path_factory):
    """Prefix of a checkpoint of the fake 4-head graph."""
    return write_checkpoint(str(tmp_path_factory.mktemp("ckpt")))


@pytest.fixture(scope="session")
def united_model(fake_checkpoint, tmp_path_factory):
    """Frozen file holding every head of the fake checkpoint."""
    from deepmt.freeze import freeze

    path = str(tmp_path_factory.mktemp("frozen") / "united.pb")
    freeze(os.path.dirname(fake_checkpoint), path)
    return path


@pytest.fixture(scope="session")
def single_head_models(fake_checkpoint, tmp_path_factory):
    """``{head: path}`` of one ``--head`` export per head."""
    from deepmt.freeze import freeze

    folder = tmp_path_factory.mktemp("single")
    paths = {}
    for head in HEADS:
        paths[head] = str(folder / f"{head}.pb")
        freeze(fake_checkpoint, paths[head], head=head)
    return paths


@pytest.fixture(scope="session")
def fake_weights(united_model):
    return frozen_constants(united_model)
