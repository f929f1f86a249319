"""Completing a multi-task input from a frozen model's stored script."""

import json

import pytest

from deepmt import keys
from deepmt.errors import ConfigError, ModelFileError
from deepmt.train.frozen_script import complete_from_frozen, read_frozen_script

OLD_SCRIPT = {
    "model": {
        "type_map": ["O", "H"],
        "descriptor": {"type": "se_e2_a", "sel": [16, 32], "rcut": 4.0},
        "fitting_net_dict": {"water_ener": {"type": "ener", "neuron": [8]},
                             "water_dipole": {"type": "dipole", "neuron": [8]}},
    },
    "loss_dict": {"water_ener": {"type": "ener"},
                  "water_dipole": {"type": "tensor", "pref": 1.0, "pref_atomic": 0.5}},
    "learning_rate": {"type": "exp"},
    "training": {"data_dict": {"water_ener": {"training_data": {"systems": ["a"]}},
                               "water_dipole": {"training_data": {"systems": ["b"]}}},
                 "numb_steps": 10},
}


def _write_pb(path, script=OLD_SCRIPT):
    from deepmt.utils.tf_compat import get_tf

    tf = get_tf()
    graph = tf.Graph()
    with graph.as_default():
        tf.constant(keys.FORMAT, name=keys.ATTR_FORMAT)
        if script is not None:
            tf.constant(json.dumps(script), name=keys.ATTR_TRAINING_SCRIPT)
    with open(path, "wb") as handle:
        handle.write(graph.as_graph_def().SerializeToString())
    return str(path)


def test_empty_sections_are_completed(tmp_path):
    pb = _write_pb(tmp_path / "old.pb")
    new = {
        "model": {"type_map": ["H", "O"][::-1], "descriptor": {},
                  "fitting_net_dict": {"water_ener": {},
                                       "water_polar": {"type": "polar", "neuron": [4]}}},
        "loss_dict": {"water_polar": {"type": "tensor", "pref": 1.0, "pref_atomic": 1.0}},
        "training": {"data_dict": {"water_polar": {"training_data": {"systems": ["c"]}}},
                     "numb_steps": 5},
    }
    out = complete_from_frozen(new, pb)
    model = out["model"]
    assert model["descriptor"] == OLD_SCRIPT["model"]["descriptor"]
    assert model["fitting_net_dict"]["water_ener"] == {"type": "ener", "neuron": [8]}
    assert model["fitting_net_dict"]["water_polar"]["type"] == "polar"
    assert out["loss_dict"]["water_ener"] == {"type": "ener"}
    assert out["training"]["data_dict"]["water_ener"]["training_data"]["systems"] == ["a"]
    assert "water_dipole" not in out["model"]["fitting_net_dict"]  # not asked for
    assert new["model"]["descriptor"] == {}  # input untouched


def test_given_sections_win_and_type_map_checked(tmp_path):
    pb = _write_pb(tmp_path / "old.pb")
    new = {"model": {"type_map": ["O"], "descriptor": {"type": "se_e2_a", "sel": [4, 8]},
                     "fitting_net_dict": {"water_dipole": {}}},
           "loss_dict": {"water_dipole": {"type": "tensor", "pref": 0.0, "pref_atomic": 1.0}},
           "training": {"numb_steps": 1}}
    out = complete_from_frozen(new, pb)
    assert out["model"]["descriptor"]["sel"] == [4, 8]
    assert out["loss_dict"]["water_dipole"]["pref"] == 0.0
    assert out["model"]["type_map"] == ["O", "H"]  # the frozen model's
    bad = dict(new, model=dict(new["model"], type_map=["O", "C"]))
    with pytest.raises(ConfigError, match=r"\['C'\]"):
        complete_from_frozen(bad, pb)


def test_errors(tmp_path):
    pb = _write_pb(tmp_path / "old.pb")
    new = {"model": {"descriptor": {}, "fitting_net_dict": {"unknown": {}}}}
    with pytest.raises(ConfigError, match="fitting_net_dict/unknown is empty"):
        complete_from_frozen(new, pb)
    bare = _write_pb(tmp_path / "bare.pb", script=None)
    with pytest.raises(ModelFileError, match="training_script"):
        read_frozen_script(bare)
    single = {"model": {"fitting_net": {}}}
    assert complete_from_frozen(single, bare) is single  # single task: untouched
