"""Accuracy: a short training on the shipped water data really learns.

Trains a small se_e2_a energy model (rcut 4 Å, embedding [8, 16], fitting
[32, 32]) for 800 steps of one 192-atom frame on ``examples/data/water/ener``
``data_0`` + ``data_1`` (240 frames) and validates on all 80 frames of
``data_2`` (batch size 80: every record sees the same frames, so step 0 and
the last step are compared on equal terms).

Measured on 2 cores (about 18 s with graph building), data seeds 1/2/3:
validation force RMSE 0.81 -> 0.225 / 0.203 / 0.209 eV/Å, validation energy
RMSE 1.57 / 0.78 / 0.95 -> 0.0025 / 0.0025 / 0.0031 eV per atom. The bounds
below leave a margin of about 1.5x over the worst of those.
"""

import os

import numpy as np
import pytest

from train_helpers import make_trainer, require_ops

require_ops()

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WATER = os.path.join(ROOT, "examples", "data", "water", "ener")
STEPS = 800


def _input(tmp_path) -> dict:
    return {
        "model": {"type_map": ["O", "H"],
                  "descriptor": {"type": "se_e2_a", "sel": [20, 40], "rcut": 4.0,
                                 "rcut_smth": 0.5, "neuron": [8, 16], "axis_neuron": 4,
                                 "seed": 1},
                  "fitting_net": {"neuron": [32, 32], "seed": 1}, "data_stat_nbatch": 5},
        "learning_rate": {"type": "exp", "start_lr": 2e-2, "stop_lr": 2e-4,
                          "decay_steps": STEPS // 20},
        "loss": {"type": "ener", "start_pref_e": 0.02, "limit_pref_e": 1.0,
                 "start_pref_f": 1000.0, "limit_pref_f": 1.0},
        "training": {
            "training_data": {"systems": [os.path.join(WATER, "data_0"),
                                          os.path.join(WATER, "data_1")], "batch_size": 1},
            "validation_data": {"systems": [os.path.join(WATER, "data_2")],
                                "batch_size": 80, "numb_btch": 1},
            "numb_steps": STEPS, "seed": 1, "disp_freq": STEPS // 2, "save_freq": 0,
            "disp_file": str(tmp_path / "lcurve.out"),
            "save_ckpt": str(tmp_path / "model.ckpt")},
    }


def test_short_training_lowers_the_validation_errors(tmp_path):
    if not os.path.isdir(WATER):
        pytest.skip("examples/data/water is not shipped with this checkout")
    assert make_trainer(_input(tmp_path)).run() == STEPS
    path = tmp_path / "lcurve.out"
    header = path.read_text().splitlines()[0].split()[1:]
    rows = np.loadtxt(path, ndmin=2)
    assert rows[:, 0].tolist() == [0, STEPS // 2, STEPS]
    first, last = (dict(zip(header, row)) for row in (rows[0], rows[-1]))
    assert 0.6 < first["rmse_f_val"] < 1.0                   # eV/Å, untrained
    assert last["rmse_f_val"] < 0.35
    assert last["rmse_f_val"] < 0.45 * first["rmse_f_val"]
    assert last["rmse_e_val"] < 0.01                          # eV per atom
    assert last["rmse_e_val"] < 0.02 * first["rmse_e_val"]
