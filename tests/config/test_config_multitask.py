"""Single- versus multi-task rules, default losses and head weights."""

from __future__ import annotations

import logging

import pytest

from deepmt.errors import ConfigError
from deepmt.keys import HEAD_NAME_PATTERN
from deepmt.train.config import make_run_spec, normalize

LOGGER = "deepmt.train.config"


def _error(raw, reg) -> str:
    with pytest.raises(ConfigError) as info:
        normalize(raw, registries=reg)
    return str(info.value)


# --- mode rules ---------------------------------------------------------------

def test_single_and_multi_fittings_cannot_coexist(single, reg):
    single["model"]["fitting_net_dict"] = {"a": {}}
    msg = _error(single, reg)
    assert "`model/fitting_net`" in msg and "`model/fitting_net_dict`" in msg


def test_a_fitting_is_required(single, reg):
    del single["model"]["fitting_net"]
    msg = _error(single, reg)
    assert "fitting_net" in msg and "fitting_net_dict" in msg


@pytest.mark.parametrize("path", [("loss_dict",), ("learning_rate_dict",),
                                  ("training", "data_dict"), ("training", "fitting_weight")])
def test_single_task_rejects_multi_keys(single, reg, path):
    node = single if len(path) == 1 else single[path[0]]
    node[path[-1]] = {"main": {}}
    msg = _error(single, reg)
    assert "single-task" in msg and f"`{'/'.join(path)}`" in msg


def test_multi_task_rejects_single_keys_and_lists_them_all(multi, reg):
    multi["loss"] = {"type": "ener"}
    multi["training"]["training_data"] = {"systems": ["x"]}
    msg = _error(multi, reg)
    assert "multi-task" in msg and "`loss`" in msg and "`training/training_data`" in msg
    del multi["loss"], multi["training"]["training_data"]
    multi["training"]["validation_data"] = {"systems": ["x"]}
    assert "`training/validation_data`" in _error(multi, reg)


def test_single_task_needs_training_data(single, reg):
    del single["training"]["training_data"]
    assert "`training/training_data`" in _error(single, reg)


def test_multi_task_needs_type_map_and_data_dict(multi, reg):
    del multi["model"]["type_map"]
    assert "`model/type_map`" in _error(multi, reg)
    multi["model"]["type_map"] = ["O", "H"]
    del multi["training"]["data_dict"]
    assert "`training/data_dict`" in _error(multi, reg)


@pytest.mark.parametrize("path", [("loss_dict",), ("learning_rate_dict",),
                                  ("training", "data_dict"), ("training", "fitting_weight")])
def test_per_head_keys_must_be_heads(multi, reg, path):
    node = multi if len(path) == 1 else multi[path[0]]
    node.setdefault(path[-1], {})["water_enr"] = 1 if path[-1] == "fitting_weight" else {}
    msg = _error(multi, reg)
    assert f"`{'/'.join(path)}`" in msg and "`water_enr`" in msg
    assert "did you mean `water_ener`" in msg
    assert "water_dipole, water_ener" in msg  # the valid keys


@pytest.mark.parametrize("name", ["1st", "a b", "heads/x", "x" * 65, ""])
def test_bad_head_names_are_rejected(multi, reg, name):
    assert not HEAD_NAME_PATTERN.match(name)
    multi["model"]["fitting_net_dict"][name] = {}
    msg = _error(multi, reg)
    assert repr(name) in msg and "starts with a letter" in msg


def test_comment_key_inside_fitting_net_dict_is_not_a_head(multi, reg):
    multi["model"]["fitting_net_dict"]["_comment"] = "not a head"
    out = normalize(multi, registries=reg)
    assert list(out["model"]["fitting_net_dict"]) == ["water_dipole", "water_ener"]


def test_errors_in_head_fitting_name_the_head(multi, reg):
    multi["model"]["fitting_net_dict"]["water_ener"]["neurons"] = [1]
    msg = _error(multi, reg)
    assert "`model/fitting_net_dict/water_ener/neurons`" in msg and "`neuron`" in msg


# --- default losses -------------------------------------------------------------

def test_heads_without_loss_get_the_default_of_their_kind(multi, reg):
    multi["model"]["fitting_net_dict"]["water_polar"] = {"type": "polar", "sel_type": [0]}
    multi["training"]["data_dict"]["water_polar"] = {"training_data": {"systems": "p"}}
    del multi["loss_dict"]
    out = normalize(multi, registries=reg)
    assert list(out["loss_dict"]) == ["water_dipole", "water_ener", "water_polar"]
    tensor = {"type": "tensor", "pref": 1.0, "pref_atomic": 1.0}
    assert out["loss_dict"]["water_dipole"] == tensor
    assert out["loss_dict"]["water_polar"] == tensor
    assert out["loss_dict"]["water_ener"]["type"] == "ener"
    assert out["loss_dict"]["water_ener"]["start_pref_f"] == 1000.0


def test_loss_without_type_follows_the_fitting_kind(multi, reg):
    del multi["loss_dict"]["water_dipole"]["type"]
    del multi["loss_dict"]["water_ener"]["type"]
    out = normalize(multi, registries=reg)
    assert out["loss_dict"]["water_dipole"]["type"] == "tensor"
    assert out["loss_dict"]["water_ener"]["type"] == "ener"


def test_single_task_default_loss_follows_the_fitting_kind(single, reg):
    single["model"]["fitting_net"] = {"type": "dipole", "sel_type": [0]}
    del single["loss"]
    out = normalize(single, registries=reg)
    assert out["loss"] == {"type": "tensor", "pref": 1.0, "pref_atomic": 1.0}


def test_loss_of_the_wrong_kind_is_rejected(multi, reg, single):
    multi["loss_dict"]["water_dipole"] = {"type": "ener"}
    msg = _error(multi, reg)
    assert "`loss_dict/water_dipole/type`" in msg and "`tensor`" in msg
    single["loss"]["type"] = "tensor"
    msg = _error(single, reg)
    assert "`loss/type`" in msg and "`ener` loss" in msg


# --- learning rates ---------------------------------------------------------------

def test_learning_rate_dict_overrides_per_head(multi, reg):
    multi["learning_rate_dict"] = {"water_dipole": {"start_lr": 1e-2}}
    spec = make_run_spec(normalize(multi, registries=reg))
    dip, ener = spec.heads["water_dipole"].learning_rate, spec.heads["water_ener"].learning_rate
    assert dip == {"type": "exp", "start_lr": 1e-2, "stop_lr": 1e-8, "decay_steps": 5000}
    assert ener["start_lr"] == 1e-3 and ener["stop_lr"] == 3.51e-8


# --- weights ----------------------------------------------------------------------

def test_given_weights_are_normalised(multi, reg):
    out = normalize(multi, registries=reg)
    weights = out["training"]["fitting_weight"]
    assert list(weights) == ["water_dipole", "water_ener"]
    assert weights["water_dipole"] == pytest.approx(1 / 3)
    assert weights["water_ener"] == pytest.approx(2 / 3)


def test_absent_weights_are_equal_over_heads_with_data(multi, reg, caplog):
    del multi["training"]["fitting_weight"]
    multi["model"]["fitting_net_dict"]["spare"] = {}
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        out = normalize(multi, registries=reg)
    assert out["training"]["fitting_weight"] == {
        "water_dipole": 0.5, "water_ener": 0.5, "spare": 0.0}
    assert any("'spare'" in r.message and "not be trained" in r.message
               for r in caplog.records)
    assert out["loss_dict"]["spare"]["type"] == "ener"  # untrained heads still get a loss
    assert make_run_spec(out).heads["spare"].training_data is None


@pytest.mark.parametrize("weights,untrained", [
    ({"water_dipole": 0, "water_ener": 3}, "water_dipole"),
    ({"water_ener": 3}, "water_dipole"),
])
def test_zero_or_missing_weight_leaves_head_untrained(multi, reg, caplog, weights, untrained):
    multi["training"]["fitting_weight"] = weights
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        out = normalize(multi, registries=reg)
    assert out["training"]["fitting_weight"] == {"water_dipole": 0.0, "water_ener": 1.0}
    assert any(repr(untrained) in r.message and r.levelno == logging.WARNING
               for r in caplog.records)
    assert make_run_spec(out).heads[untrained].weight == 0.0


def test_weight_of_head_without_data_is_dropped(multi, reg, caplog):
    del multi["training"]["data_dict"]["water_dipole"]
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        out = normalize(multi, registries=reg)
    assert out["training"]["fitting_weight"] == {"water_dipole": 0.0, "water_ener": 1.0}
    assert any("'water_dipole'" in r.message and "data_dict" in r.message
               for r in caplog.records)


def test_all_zero_weights_are_an_error(multi, reg):
    multi["training"]["fitting_weight"] = {"water_dipole": 0, "water_ener": 0.0}
    assert "no head would be trained" in _error(multi, reg)


def test_negative_and_non_numeric_weights_are_errors(multi, reg):
    multi["training"]["fitting_weight"]["water_ener"] = -1
    assert "`training/fitting_weight/water_ener`" in _error(multi, reg)
    multi["training"]["fitting_weight"]["water_ener"] = "high"
    msg = _error(multi, reg)
    assert "`training/fitting_weight`" in msg and "found dict" in msg
