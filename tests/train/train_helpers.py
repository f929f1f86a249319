"""Tiny training inputs on the water frames of ``tests/data/train_water``.

192-atom frames, rcut 3.5 Å, ``sel [16, 32]``, nets of a few neurons: a step
takes milliseconds, a whole run a few seconds (graph building dominates).
"""

from __future__ import annotations

import copy
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WATER = os.path.join(os.path.dirname(HERE), "data", "train_water")

DESCRIPTOR = {"type": "se_e2_a", "sel": [16, 32], "rcut": 3.5, "rcut_smth": 0.5,
              "neuron": [4, 8], "axis_neuron": 2, "seed": 1}
LEARNING_RATE = {"type": "exp", "start_lr": 5e-3, "stop_lr": 1e-4, "decay_steps": 5}


def require_ops() -> None:
    """Skip the calling test module when the compiled op library is missing."""
    import pytest

    try:
        from deepmt import op

        op.load()
    except Exception as err:  # OpLoadError, or deepmt.op not written yet
        pytest.skip(f"deepmt op library unavailable: {err}", allow_module_level=True)


def water(*parts: str) -> str:
    """Absolute path of a test system (``water("ener", "train")``)."""
    return os.path.join(WATER, *parts)


def training_section(tmp_path, numb_steps=20, disp_freq=5, save_freq=10, seed=7) -> dict:
    return {"numb_steps": numb_steps, "seed": seed, "disp_freq": disp_freq,
            "save_freq": save_freq, "disp_file": str(tmp_path / "lcurve.out"),
            "save_ckpt": str(tmp_path / "model.ckpt"), "max_ckpt_keep": 3}


def single_task_input(tmp_path, **training) -> dict:
    """Energy model: 4 training frames (batch 1), 2 validation frames (batch 2)."""
    return {
        "model": {"type_map": ["O", "H"], "descriptor": copy.deepcopy(DESCRIPTOR),
                  "fitting_net": {"neuron": [8, 8], "seed": 2}, "data_stat_nbatch": 2},
        "learning_rate": copy.deepcopy(LEARNING_RATE),
        "loss": {"type": "ener", "start_pref_e": 0.02, "limit_pref_e": 1.0,
                 "start_pref_f": 100.0, "limit_pref_f": 1.0},
        "training": {
            "training_data": {"systems": [water("ener", "train")], "batch_size": 1},
            "validation_data": {"systems": [water("ener", "valid")], "batch_size": 2,
                                "numb_btch": 1},
            **training_section(tmp_path, **training),
        },
    }


def multi_task_input(tmp_path, weights=None, **training) -> dict:
    """ener + dipole + polar heads sharing one descriptor."""
    fittings = {
        "water_ener": {"type": "ener", "neuron": [8], "seed": 3},
        "water_dipole": {"type": "dipole", "sel_type": [0], "neuron": [8], "seed": 4},
        "water_polar": {"type": "polar", "sel_type": [0], "neuron": [8], "seed": 5},
    }
    data = {
        "water_ener": {"training_data": {"systems": [water("ener", "train")], "batch_size": 1},
                       "validation_data": {"systems": [water("ener", "valid")],
                                           "batch_size": 2}},
        "water_dipole": {"training_data": {"systems": [water("dipole", "atomic"),
                                                       water("dipole", "global")],
                                           "batch_size": 1}},
        "water_polar": {"training_data": {"systems": [water("polar", "atomic")],
                                          "batch_size": 1}},
    }
    jdata = {
        "model": {"type_map": ["O", "H"], "descriptor": copy.deepcopy(DESCRIPTOR),
                  "fitting_net_dict": fittings, "data_stat_nbatch": 1},
        "learning_rate": copy.deepcopy(LEARNING_RATE),
        "loss_dict": {"water_ener": {"type": "ener"},
                      "water_dipole": {"type": "tensor", "pref": 1.0, "pref_atomic": 1.0},
                      "water_polar": {"type": "tensor", "pref": 0.0, "pref_atomic": 1.0}},
        "training": {"data_dict": data, **training_section(tmp_path, **training)},
    }
    if weights is not None:
        jdata["training"]["fitting_weight"] = weights
    return jdata


def make_trainer(jdata: dict, skip_neighbor_stat=True, **options):
    """Normalize ``jdata`` and return an un-started Trainer."""
    from deepmt.train.config import make_run_spec, normalize
    from deepmt.train.stats import resolve_sel
    from deepmt.train.trainer import Trainer, TrainOptions

    script = normalize(jdata)
    min_dist = resolve_sel(script, skip=skip_neighbor_stat)
    opts = TrainOptions(min_nbor_dist=min_dist, interactive=False, **options)
    return Trainer(make_run_spec(script), script, opts)


def checkpoint_values(prefix: str, trainable_only=True) -> dict:
    """Variable name -> value of a checkpoint (optimizer slots left out)."""
    from deepmt.utils.tf_compat import get_tf

    tf = get_tf()
    reader = tf.train.load_checkpoint(prefix)
    out = {}
    for name in reader.get_variable_to_shape_map():
        if trainable_only and ("Adam" in name or "optimizer/" in name
                               or name in ("global_step", "trainer/state")):
            continue
        out[name] = np.asarray(reader.get_tensor(name))
    return out


def session_values(trainer, names) -> dict:
    """Current values of graph variables by name."""
    graph_vars = {v.op.name: v for v in trainer.graph.get_collection("variables")}
    return {n: trainer.sess.run(graph_vars[n]) for n in names}
